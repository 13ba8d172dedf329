// The corpus reader on whole generated corpora: every document visited exactly once, at its
// file, line and domain, for any thread count and block size, and the bad input it holds counted
// where it is; then the reader's options. The fixtures (tests/support/reader_fixtures.h) tag
// every document with where it lives. Stream faults and errors: corpus_reader_faults_test.cpp.
#include "longctx/data/corpus_reader.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <map>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/base/progress.h"
#include "support/fixtures.h"
#include "support/reader_fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A corpus of many files in every container, with blank lines, CRLF endings, records larger
// than a block and than one 1 MiB read, bad records, and .txt documents.
class ReaderCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "corpus";
    const char* domains[] = {"RedPajamaCommonCrawl", "RedPajamaC4",    "RedPajamaGithub",
                             "RedPajamaBook",        "RedPajamaArXiv", "RedPajamaWikipedia"};
    struct Spec {
      const char* name;
      uint64_t lines;
      size_t piece_bytes;  // zstd frame / gzip member size; 0 = one
    };
    const Spec specs[] = {
        {"f00.jsonl", 400, 0},        {"f01.jsonl.zst", 300, 4096}, {"f02.jsonl.gz", 300, 5000},
        {"f03.json.gz", 2500, 0},     {"f04.jsonl.zstd", 200, 0},   {"f05.jsonl", 1, 0},
        {"f06.jsonl.zst", 50, 777},   {"f07.jsonl", 0, 0},          {"f08.jsonl.zst", 0, 0},
        {"f09.jsonl.gz", 120, 65536},
    };
    for (int id = 0; id < static_cast<int>(std::size(specs)); ++id) {
      const Spec& spec = specs[id];
      testing::JsonlFile file;
      file.id = id;
      for (uint64_t line = 1; line <= spec.lines; ++line) {
        if (line % 17 == 0) {
          file.add_raw_line(line % 34 == 0 ? "   \t" : "");  // blank lines are not records
          continue;
        }
        if (id == 0 && (line == 100 || line == 250)) {
          file.add_raw_line(line == 100 ? "{bad json" : R"({"meta": {"redpajama_set_name": "x"}})");
          continue;
        }
        size_t bytes = 40 + (line * 37 + static_cast<uint64_t>(id) * 11) % 700;
        if (line % 41 == 0) bytes = 20'000;             // larger than a 4 KiB block
        if (id == 1 && line == 150) bytes = 1'500'000;  // larger than one 1 MiB read
        std::string domain = domains[(static_cast<size_t>(id) + line) % std::size(domains)];
        file.add_record(testing::document_text(id, line, bytes), domain, /*crlf=*/line % 5 == 0);
      }
      if (id == 0) file.data.pop_back();  // the last record has no newline
      std::string name = spec.name, stored = file.data;
      if (name.ends_with(".zst") || name.ends_with(".zstd")) {
        stored = testing::zstd_compress(file.data, spec.piece_bytes);
      } else if (name.ends_with(".gz")) {
        stored = testing::gzip_compress(file.data, spec.piece_bytes);
      }
      testing::write_file(root_ / name, stored);
      for (const auto& [line, doc] : file.documents) {
        std::string domain = doc.domain == "RedPajamaC4" ? "C4" : doc.domain;  // the alias below
        expected_[{id, line}] = {doc.text, domain};
      }
    }
    // .txt documents: the domain is the folder's name (or the default domain).
    std::string book = testing::document_text(20, 1, 2'500'000) + "\nmore lines\nand more\n";
    testing::write_file(root_ / "txt" / "RedPajamaBook" / "f20.txt", book);
    expected_[{20, 1}] = {book, "RedPajamaBook"};
    std::string paper = testing::document_text(21, 1, 9000);
    testing::write_file(root_ / "txt" / "RedPajamaArXiv" / "f21.txt.zst",
                        testing::zstd_compress(paper, 1000));
    expected_[{21, 1}] = {paper, "RedPajamaArXiv"};
    std::string c4 = testing::document_text(22, 1, 300);
    testing::write_file(root_ / "txt" / "RedPajamaC4" / "f22.txt.gz", testing::gzip_compress(c4));
    expected_[{22, 1}] = {c4, "C4"};
    testing::write_file(root_ / "txt" / "Misc" / "f23.txt", " \n\t\n");               // empty
    testing::write_file(root_ / "txt" / "Misc" / "f24.txt", "caf\xe9 in latin-1\n");  // not UTF-8

    list_ = find_corpus_files({root_.string()});
    index_ = testing::index_by_id(list_);
    schema_.domain_aliases = {{"RedPajamaC4", "C4"}};
  }

  // Reads the corpus and checks every visit against the fixture.
  std::vector<testing::Visit> read_and_check(int threads, size_t block_bytes,
                                             InputIssues* issues_out) {
    SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block_bytes);
    CorpusReader reader(
        list_.files, schema_,
        {.threads = threads, .block_bytes = block_bytes, .keep_issue_locations = 10});
    EXPECT_EQ(reader.thread_count(), threads);
    testing::Recorder recorder(reader.thread_count());
    Progress progress("test", list_.total_bytes, Progress::Display::kOff);
    InputIssues issues =
        testing::with_deadline([&] { return reader.read_all(recorder.visitor(), &progress); });
    EXPECT_EQ(progress.done_bytes(), list_.total_bytes);
    std::vector<testing::Visit> visits = recorder.sorted();

    std::map<testing::Key, int> seen;
    for (const testing::Visit& v : visits) {
      if (v.file_index >= list_.files.size()) {
        ADD_FAILURE() << "file index " << v.file_index << " out of range";
        continue;
      }
      std::string name = list_.files[v.file_index].path.filename().string();
      int id = std::stoi(name.substr(1, 2));
      testing::Key key{id, v.line};
      ++seen[key];
      auto it = expected_.find(key);
      if (it == expected_.end()) {
        ADD_FAILURE() << "unexpected document " << name << ":" << v.line;
        continue;
      }
      EXPECT_TRUE(v.text == it->second.text) << name << ":" << v.line << " text differs";
      EXPECT_EQ(v.domain, it->second.domain) << name << ":" << v.line;
      // The text says where it came from; the visit must agree.
      EXPECT_TRUE(v.text.starts_with(fmt::format("<{}:{}>", id, v.line))) << name << ":" << v.line;
    }
    for (const auto& [key, doc] : expected_) {
      auto it = seen.find(key);
      EXPECT_TRUE(it != seen.end() && it->second == 1)
          << "document " << key.first << ":" << key.second << " visited "
          << (it == seen.end() ? 0 : it->second) << " times";
    }
    if (issues_out != nullptr) *issues_out = issues;
    return visits;
  }

  TempDir dir_;
  fs::path root_;
  CorpusFileList list_;
  std::map<int, uint32_t> index_;
  RecordSchema schema_;
  std::map<testing::Key, testing::ExpectedDocument> expected_;
};

TEST_F(ReaderCorpus, EveryDocumentExactlyOnceWithItsFileLineAndDomain) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      read_and_check(threads, block, nullptr);
    }
  }
}

TEST_F(ReaderCorpus, BadInputIsCountedAtItsFileAndLine) {
  InputIssues issues;
  read_and_check(3, testing::kSmallBlock, &issues);
  EXPECT_EQ(issues.count(IssueKind::kInvalidJson), 1u);
  EXPECT_EQ(issues.count(IssueKind::kMissingText), 1u);
  EXPECT_EQ(issues.count(IssueKind::kEmptyDocument), 1u);
  EXPECT_EQ(issues.count(IssueKind::kInvalidUtf8), 1u);
  EXPECT_EQ(issues.total(), 4u);
  // f00.jsonl lines 100 and 250; then the two .txt files (paths sort after corpus/f..).
  std::vector<testing::IssueRow> want = {{index_.at(0), 100, IssueKind::kInvalidJson},
                                         {index_.at(0), 250, IssueKind::kMissingText},
                                         {index_.at(23), 1, IssueKind::kEmptyDocument},
                                         {index_.at(24), 1, IssueKind::kInvalidUtf8}};
  EXPECT_EQ(testing::issue_rows(issues), want);
}

TEST_F(ReaderCorpus, ResultsAreIdenticalAcrossThreadCountsAndBlockSizes) {
  InputIssues reference_issues;
  std::vector<testing::Visit> reference = read_and_check(1, size_t{8} << 20, &reference_issues);
  for (int threads : {2, 3, 8}) {
    for (size_t block : {testing::kSmallBlock, size_t{64} << 10}) {
      InputIssues issues;
      std::vector<testing::Visit> visits = read_and_check(threads, block, &issues);
      ASSERT_EQ(visits.size(), reference.size());
      for (size_t i = 0; i < visits.size(); ++i) {
        EXPECT_EQ(visits[i].file_index, reference[i].file_index);
        EXPECT_EQ(visits[i].line, reference[i].line);
        EXPECT_EQ(visits[i].domain, reference[i].domain);
        EXPECT_TRUE(visits[i].text == reference[i].text);
      }
      EXPECT_EQ(testing::issue_rows(issues), testing::issue_rows(reference_issues));
      EXPECT_EQ(issues.total(), reference_issues.total());
    }
  }
}

TEST_F(ReaderCorpus, DefaultDomainNamesTxtDocumentsAndFillsMissingDomains) {
  schema_.default_domain = "Misc";
  testing::write_file(root_ / "f30.jsonl", R"({"text": "<30:1> no domain"})"
                                           "\n");
  list_ = find_corpus_files({root_.string()});
  expected_[{30, 1}] = {"<30:1> no domain", "Misc"};
  expected_[{20, 1}].domain = "Misc";
  expected_[{21, 1}].domain = "Misc";
  expected_[{22, 1}].domain = "Misc";
  read_and_check(2, testing::kSmallBlock, nullptr);
}

TEST(CorpusReader, NoFilesIsNoWork) {
  CorpusReader reader({}, RecordSchema{}, {.threads = 3});
  int visits = 0;
  InputIssues issues = testing::with_deadline(
      [&] { return reader.read_all([&](const Document&, int) { ++visits; }); });
  EXPECT_EQ(visits, 0);
  EXPECT_EQ(issues.total(), 0u);
}

TEST(CorpusReader, ThreadCount) {
  EXPECT_EQ(CorpusReader({}, RecordSchema{}, {.threads = 3}).thread_count(), 3);
  EXPECT_GE(CorpusReader({}, RecordSchema{}, {.threads = 0}).thread_count(), 1);
}

TEST(CorpusReader, ValidatesOptionsAndSchema) {
  EXPECT_THROW(CorpusReader({}, RecordSchema{}, {.threads = -1}), Error);
  EXPECT_THROW(CorpusReader({}, RecordSchema{}, {.block_bytes = 4095}), Error);
  EXPECT_NO_THROW(CorpusReader({}, RecordSchema{}, {.block_bytes = 4096}));
  RecordSchema bad;
  bad.text_key = "";
  EXPECT_THROW(CorpusReader({}, bad, {}), Error);
  try {
    ReaderOptions{.threads = -2}.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--threads must be 0 (all cores) or more, got -2");
  }
  try {
    ReaderOptions{.block_bytes = 100}.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "block size must be at least 4096, got 100");
  }
}

TEST(ReaderOptions, KeepEmptyDocumentsVisitsEmptyAndWhitespaceTexts) {
  // A corpus skips texts with no non-whitespace character as empty documents; `tokenize`
  // keeps them (keep_empty_documents), so every record gets its output line. Blank lines are
  // no records either way.
  TempDir dir;
  testing::write_file(dir.path() / "in.jsonl", testing::jsonl_record("a", "X") +
                                                   testing::jsonl_record("", "X") +
                                                   testing::jsonl_record("      ", "X") + "\n" +
                                                   testing::jsonl_record("b", "X"));
  std::vector<CorpusFile> files = {
      {.path = dir.path() / "in.jsonl", .format = FileFormat::kJsonLines}};
  for (bool keep : {false, true}) {
    CorpusReader reader(files, RecordSchema{}, {.threads = 1, .keep_empty_documents = keep});
    std::vector<std::pair<std::string, uint64_t>> seen;
    InputIssues issues = reader.read_file_in_order(
        0, [&](const Document& d, int) { seen.emplace_back(std::string(d.text), d.line); });
    using Seen = std::vector<std::pair<std::string, uint64_t>>;
    if (keep) {
      EXPECT_EQ(seen, (Seen{{"a", 1}, {"", 2}, {"      ", 3}, {"b", 5}}));
      EXPECT_EQ(issues.total(), 0u);
    } else {
      EXPECT_EQ(seen, (Seen{{"a", 1}, {"b", 5}}));
      EXPECT_EQ(issues.count(IssueKind::kEmptyDocument), 2u);
    }
  }
}

TEST(Describe, PathLineReasonAndDetail) {
  std::vector<CorpusFile> files = {{.path = "a/x.jsonl"}, {.path = "b/y.jsonl.zst"}};
  EXPECT_EQ(describe({1, 42, IssueKind::kInvalidJson, "missing ':'"}, files),
            "b/y.jsonl.zst:42: invalid JSON (missing ':')");
  EXPECT_EQ(describe({0, 1, IssueKind::kEmptyDocument, ""}, files), "a/x.jsonl:1: empty document");
  EXPECT_EQ(describe({7, 3, IssueKind::kCorruptStream, ""}, files),
            "file #7:3: corrupt compressed stream");
}

}  // namespace
}  // namespace longctx
