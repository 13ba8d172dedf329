// The corpus reader is tested on generated corpora whose every document says where it lives:
// the text of the record on line L of file F starts "<F:L>", so each visit can be checked
// against the fixture (right file index, line, text and domain, exactly once), whatever the
// thread count, block size, compression or stream fault.
#include "longctx/data/corpus_reader.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/base/progress.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr size_t kSmallBlock = 4096;  // the smallest block ReaderOptions accepts

// The text of the document on line `line` of fixture file `file`, `bytes` long (at least the
// tag). Some texts hold a newline, a tab and non-ASCII characters, which JSON escapes.
std::string document_text(int file, uint64_t line, size_t bytes) {
  std::string text = fmt::format("<{}:{}>", file, line);
  if (line % 3 == 0) text += "caf\xc3\xa9\n\t\xe4\xb8\xad ";
  static const char kFill[] = "abcdefghijklmnopqrstuvwxyz ";
  for (size_t i = text.size(); i < bytes; ++i)
    text += kFill[(static_cast<size_t>(file) + line + i) % 27];
  return text;
}

// What a visit must see, keyed by (fixture file, line).
struct ExpectedDocument {
  std::string text;
  std::string domain;
};
using Key = std::pair<int, uint64_t>;

struct Visit {
  uint32_t file_index;
  uint64_t line;
  std::string text;
  std::string domain;
};

// One JSON-lines fixture file: its lines (records, blank lines, bad records), written in a
// chosen container.
struct JsonlFile {
  int id = 0;
  std::string data;  // the decompressed bytes
  std::map<uint64_t, ExpectedDocument> documents;
  uint64_t lines = 0;

  void add_record(const std::string& text, const std::string& domain, bool crlf = false) {
    ++lines;
    std::string line = testing::jsonl_record(text, domain);
    if (crlf) line.insert(line.size() - 1, "\r");
    data += line;
    documents[lines] = {text, domain};
  }
  void add_raw_line(const std::string& line) {
    ++lines;
    data += line + "\n";
  }
};

// Collects visits per worker; checks the worker index.
class Recorder {
 public:
  explicit Recorder(int workers) : visits_(static_cast<size_t>(workers)), workers_(workers) {}
  CorpusReader::Visitor visitor() {
    return [this](const Document& doc, int worker) {
      if (worker < 0 || worker >= workers_) {
        bad_worker_ = true;
        return;
      }
      visits_[static_cast<size_t>(worker)].push_back(
          {doc.file_index, doc.line, std::string(doc.text), std::string(doc.domain)});
    };
  }
  // All visits sorted by (file index, line).
  std::vector<Visit> sorted() const {
    EXPECT_FALSE(bad_worker_) << "a worker index outside [0, thread_count())";
    std::vector<Visit> all;
    for (const auto& v : visits_) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end(), [](const Visit& a, const Visit& b) {
      return std::tie(a.file_index, a.line) < std::tie(b.file_index, b.line);
    });
    return all;
  }

 private:
  std::vector<std::vector<Visit>> visits_;
  int workers_;
  std::atomic<bool> bad_worker_{false};
};

// Runs `work` on another thread and fails (ending the process) if it has not returned within
// the deadline: a reader that deadlocks must fail the test, not hang the suite.
template <typename Work>
auto with_deadline(Work work, int seconds = 60) {
  auto future = std::async(std::launch::async, std::move(work));
  if (future.wait_for(std::chrono::seconds(seconds)) == std::future_status::timeout) {
    ADD_FAILURE() << "read_all did not return within " << seconds << " s";
    std::fprintf(stderr, "read_all hung; aborting the test binary\n");
    std::_Exit(1);
  }
  return future.get();
}

using IssueRow = std::tuple<uint32_t, uint64_t, IssueKind>;
std::vector<IssueRow> issue_rows(const InputIssues& issues) {
  std::vector<IssueRow> rows;
  for (const IssueLocation& l : issues.first_locations())
    rows.emplace_back(l.file_index, l.line, l.kind);
  return rows;
}

// The index of each fixture file in the reader's list, found by its name "fNN...".
std::map<int, uint32_t> index_by_id(const CorpusFileList& list) {
  std::map<int, uint32_t> index;
  for (uint32_t i = 0; i < list.files.size(); ++i) {
    std::string name = list.files[i].path.filename().string();
    index[std::stoi(name.substr(1, 2))] = i;
  }
  return index;
}

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
      JsonlFile file;
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
        file.add_record(document_text(id, line, bytes), domain, /*crlf=*/line % 5 == 0);
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
    std::string book = document_text(20, 1, 2'500'000) + "\nmore lines\nand more\n";
    testing::write_file(root_ / "txt" / "RedPajamaBook" / "f20.txt", book);
    expected_[{20, 1}] = {book, "RedPajamaBook"};
    std::string paper = document_text(21, 1, 9000);
    testing::write_file(root_ / "txt" / "RedPajamaArXiv" / "f21.txt.zst",
                        testing::zstd_compress(paper, 1000));
    expected_[{21, 1}] = {paper, "RedPajamaArXiv"};
    std::string c4 = document_text(22, 1, 300);
    testing::write_file(root_ / "txt" / "RedPajamaC4" / "f22.txt.gz", testing::gzip_compress(c4));
    expected_[{22, 1}] = {c4, "C4"};
    testing::write_file(root_ / "txt" / "Misc" / "f23.txt", " \n\t\n");               // empty
    testing::write_file(root_ / "txt" / "Misc" / "f24.txt", "caf\xe9 in latin-1\n");  // not UTF-8

    list_ = find_corpus_files({root_.string()});
    index_ = index_by_id(list_);
    schema_.domain_aliases = {{"RedPajamaC4", "C4"}};
  }

  // Reads the corpus and checks every visit against the fixture.
  std::vector<Visit> read_and_check(int threads, size_t block_bytes, InputIssues* issues_out) {
    SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block_bytes);
    CorpusReader reader(
        list_.files, schema_,
        {.threads = threads, .block_bytes = block_bytes, .keep_issue_locations = 10});
    EXPECT_EQ(reader.thread_count(), threads);
    Recorder recorder(reader.thread_count());
    Progress progress("test", list_.total_bytes, Progress::Display::kOff);
    InputIssues issues =
        with_deadline([&] { return reader.read_all(recorder.visitor(), &progress); });
    EXPECT_EQ(progress.done_bytes(), list_.total_bytes);
    std::vector<Visit> visits = recorder.sorted();

    std::map<Key, int> seen;
    for (const Visit& v : visits) {
      if (v.file_index >= list_.files.size()) {
        ADD_FAILURE() << "file index " << v.file_index << " out of range";
        continue;
      }
      std::string name = list_.files[v.file_index].path.filename().string();
      int id = std::stoi(name.substr(1, 2));
      Key key{id, v.line};
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
  std::map<Key, ExpectedDocument> expected_;
};

TEST_F(ReaderCorpus, EveryDocumentExactlyOnceWithItsFileLineAndDomain) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      read_and_check(threads, block, nullptr);
    }
  }
}

TEST_F(ReaderCorpus, BadInputIsCountedAtItsFileAndLine) {
  InputIssues issues;
  read_and_check(3, kSmallBlock, &issues);
  EXPECT_EQ(issues.count(IssueKind::kInvalidJson), 1u);
  EXPECT_EQ(issues.count(IssueKind::kMissingText), 1u);
  EXPECT_EQ(issues.count(IssueKind::kEmptyDocument), 1u);
  EXPECT_EQ(issues.count(IssueKind::kInvalidUtf8), 1u);
  EXPECT_EQ(issues.total(), 4u);
  // f00.jsonl lines 100 and 250; then the two .txt files (paths sort after corpus/f..).
  std::vector<IssueRow> want = {{index_.at(0), 100, IssueKind::kInvalidJson},
                                {index_.at(0), 250, IssueKind::kMissingText},
                                {index_.at(23), 1, IssueKind::kEmptyDocument},
                                {index_.at(24), 1, IssueKind::kInvalidUtf8}};
  EXPECT_EQ(issue_rows(issues), want);
}

TEST_F(ReaderCorpus, ResultsAreIdenticalAcrossThreadCountsAndBlockSizes) {
  InputIssues reference_issues;
  std::vector<Visit> reference = read_and_check(1, size_t{8} << 20, &reference_issues);
  for (int threads : {2, 3, 8}) {
    for (size_t block : {kSmallBlock, size_t{64} << 10}) {
      InputIssues issues;
      std::vector<Visit> visits = read_and_check(threads, block, &issues);
      ASSERT_EQ(visits.size(), reference.size());
      for (size_t i = 0; i < visits.size(); ++i) {
        EXPECT_EQ(visits[i].file_index, reference[i].file_index);
        EXPECT_EQ(visits[i].line, reference[i].line);
        EXPECT_EQ(visits[i].domain, reference[i].domain);
        EXPECT_TRUE(visits[i].text == reference[i].text);
      }
      EXPECT_EQ(issue_rows(issues), issue_rows(reference_issues));
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
  read_and_check(2, kSmallBlock, nullptr);
}

// Files that decode to at most a few lines: a stream fault, and the lines before it.
class ReaderFaults : public ::testing::Test {
 protected:
  // n lines of `bytes` each (before JSON encoding) of fixture file `id`, domain "D<id>".
  static JsonlFile lines(int id, int n, size_t bytes) {
    JsonlFile file;
    file.id = id;
    for (int l = 1; l <= n; ++l) {
      file.add_record(document_text(id, static_cast<uint64_t>(l), bytes), fmt::format("D{}", id));
    }
    return file;
  }

  // Reads `files` (names "fNN...") and returns the visits by (id, line) and the issues.
  struct Result {
    std::map<Key, std::string> texts;
    InputIssues issues{100};
    std::map<int, uint32_t> index;
  };
  Result read(int threads, size_t block_bytes) {
    CorpusFileList list = find_corpus_files({dir_.path().string()});
    Result result;
    result.index = index_by_id(list);
    CorpusReader reader(
        list.files, RecordSchema{},
        {.threads = threads, .block_bytes = block_bytes, .keep_issue_locations = 100});
    Recorder recorder(reader.thread_count());
    result.issues = with_deadline([&] { return reader.read_all(recorder.visitor()); });
    for (const Visit& v : recorder.sorted()) {
      int id = std::stoi(list.files[v.file_index].path.filename().string().substr(1, 2));
      EXPECT_TRUE(result.texts.emplace(Key{id, v.line}, v.text).second) << "visited twice";
    }
    return result;
  }

  // Expects lines [1, good_lines] of `file` visited with their texts and none after.
  static void expect_lines(const Result& r, const JsonlFile& file, uint64_t good_lines) {
    for (const auto& [line, doc] : file.documents) {
      auto it = r.texts.find({file.id, line});
      if (line <= good_lines) {
        EXPECT_TRUE(it != r.texts.end() && it->second == doc.text) << file.id << ":" << line;
      } else {
        EXPECT_TRUE(it == r.texts.end()) << file.id << ":" << line << " visited after the fault";
      }
    }
  }

  // Lines of `data` that end (with their newline) within its first `prefix` bytes.
  static uint64_t complete_lines(const std::string& data, size_t prefix) {
    return static_cast<uint64_t>(
        std::count(data.begin(), data.begin() + static_cast<long>(prefix), '\n'));
  }

  TempDir dir_;
};

TEST_F(ReaderFaults, TruncatedZstdKeepsTheLinesBeforeTheFault) {
  // One frame per line; the file ends in the middle of line 41's frame.
  JsonlFile file = lines(0, 60, 1500);
  std::string stream;
  for (const auto& [line, doc] : file.documents) {
    std::string frame = testing::zstd_compress(testing::jsonl_record(doc.text, doc.domain));
    if (line == 41) {
      stream += frame.substr(0, frame.size() / 2);
      break;
    }
    stream += frame;
  }
  testing::write_file(dir_.path() / "f00.jsonl.zst", stream);
  JsonlFile other = lines(1, 30, 3000);
  testing::write_file(dir_.path() / "f01.jsonl", other.data);
  for (int threads : {1, 3}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, 40);
      expect_lines(r, other, 30);
      EXPECT_EQ(r.issues.total(), 1u);
      EXPECT_EQ(issue_rows(r.issues),
                (std::vector<IssueRow>{{r.index.at(0), 41, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedZstdFramesAcrossLines) {
  // Frames of 4096 bytes cut lines anywhere; the file stops inside frame 7. The lines that end
  // within frames 0..6 are read; the line holding byte 7 * 4096 is where the fault is.
  JsonlFile file = lines(0, 80, 700);
  std::vector<std::string> frames;
  for (size_t at = 0; at < file.data.size(); at += 4096) {
    frames.push_back(testing::zstd_compress(std::string_view(file.data).substr(at, 4096)));
  }
  ASSERT_GT(frames.size(), 8u);
  std::string stream;
  for (size_t k = 0; k < 7; ++k) stream += frames[k];
  stream += frames[7].substr(0, frames[7].size() - 1);
  testing::write_file(dir_.path() / "f00.jsonl.zst", stream);
  uint64_t good = complete_lines(file.data, 7 * 4096);
  for (int threads : {1, 2}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, good);
      EXPECT_EQ(issue_rows(r.issues),
                (std::vector<IssueRow>{{r.index.at(0), good + 1, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, CorruptGzipMemberKeepsTheLinesBeforeIt) {
  // One member per line; line 20's member header is corrupt.
  JsonlFile file = lines(0, 30, 2500);
  std::string stream;
  for (const auto& [line, doc] : file.documents) {
    std::string member = testing::gzip_compress(testing::jsonl_record(doc.text, doc.domain));
    if (line == 20) member[0] = 'X';
    stream += member;
  }
  testing::write_file(dir_.path() / "f00.jsonl.gz", stream);
  for (int threads : {1, 3}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, 19);
      EXPECT_EQ(issue_rows(r.issues),
                (std::vector<IssueRow>{{r.index.at(0), 20, IssueKind::kCorruptStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedGzipInAMemberTrailer) {
  // Members of 3000 bytes; the file ends inside member 5's trailer, after all its data.
  JsonlFile file = lines(0, 40, 600);
  std::string stream;
  for (size_t k = 0; k <= 5; ++k) {
    std::string member = testing::gzip_compress(std::string_view(file.data).substr(k * 3000, 3000));
    stream += k < 5 ? member : member.substr(0, member.size() - 4);
  }
  testing::write_file(dir_.path() / "f00.json.gz", stream);
  uint64_t good = complete_lines(file.data, 6 * 3000);
  for (int threads : {1, 2}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, good);
      EXPECT_EQ(issue_rows(r.issues),
                (std::vector<IssueRow>{{r.index.at(0), good + 1, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedTxtDocumentIsDroppedAtLineOne) {
  std::string text = document_text(0, 1, 50'000);
  std::string stream = testing::zstd_compress(text, 10'000);
  testing::write_file(dir_.path() / "Books" / "f00.txt.zst", stream.substr(0, stream.size() - 3));
  std::string fine = document_text(1, 1, 100);
  testing::write_file(dir_.path() / "Books" / "f01.txt", fine);
  Result r = read(2, kSmallBlock);
  EXPECT_EQ(r.texts.size(), 1u);
  EXPECT_EQ(r.texts[Key(1, 1)], fine);
  EXPECT_EQ(issue_rows(r.issues),
            (std::vector<IssueRow>{{r.index.at(0), 1, IssueKind::kTruncatedStream}}));
}

// Many files, so that several workers are busy when the visitor throws.
class ReaderErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int id = 0; id < 24; ++id) {
      std::string data;
      for (int l = 1; l <= 200; ++l) {
        data += testing::jsonl_record(document_text(id, static_cast<uint64_t>(l), 300), "D");
      }
      std::string name = fmt::format("f{:02}.jsonl{}", id,
                                     id % 3 == 0   ? ""
                                     : id % 3 == 1 ? ".zst"
                                                   : ".gz");
      std::string stored = id % 3 == 0   ? data
                           : id % 3 == 1 ? testing::zstd_compress(data, 8192)
                                         : testing::gzip_compress(data, 8192);
      testing::write_file(dir_.path() / name, stored);
    }
    list_ = find_corpus_files({dir_.path().string()});
  }

  TempDir dir_;
  CorpusFileList list_;
};

TEST_F(ReaderErrors, VisitorExceptionPropagatesAndDoesNotHang) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t block : {kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      CorpusReader reader(list_.files, RecordSchema{}, {.threads = threads, .block_bytes = block});
      auto visit = [](const Document& doc, int) {
        if (doc.text.starts_with("<13:77>")) throw std::runtime_error("visitor failed at 13:77");
      };
      std::string caught = with_deadline([&]() -> std::string {
        try {
          reader.read_all(visit);
        } catch (const std::runtime_error& e) {
          return e.what();
        }
        return "";
      });
      EXPECT_EQ(caught, "visitor failed at 13:77");
    }
  }
}

TEST_F(ReaderErrors, VisitorThatAlwaysThrowsStopsEveryWorker) {
  for (int threads : {1, 8}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = kSmallBlock});
    auto visit = [](const Document&, int) { throw Error("stop now"); };
    std::string caught = with_deadline([&]() -> std::string {
      try {
        reader.read_all(visit);
      } catch (const Error& e) {
        return e.what();
      }
      return "";
    });
    EXPECT_EQ(caught, "stop now");
  }
}

TEST_F(ReaderErrors, StrictModeThrowsNamingFileAndLine) {
  // f04.jsonl.zst gets one bad record on line 7.
  fs::path bad = dir_.path() / "f04.jsonl.zst";
  std::string data;
  for (int l = 1; l <= 200; ++l) {
    data += l == 7 ? std::string("{bad json\n")
                   : testing::jsonl_record(document_text(4, static_cast<uint64_t>(l), 300), "D");
  }
  testing::write_file(bad, testing::zstd_compress(data, 8192));
  for (int threads : {1, 4}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = kSmallBlock, .strict = true});
    try {
      with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "strict mode accepted a bad record";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_TRUE(message.starts_with("bad input: " + bad.string() + ":7: invalid JSON"))
          << message;
      EXPECT_FALSE(e.hint().empty());
    }
  }
  // Without --strict the same corpus is read and the record counted.
  CorpusReader lenient(list_.files, RecordSchema{}, {.threads = 2, .block_bytes = kSmallBlock});
  std::atomic<int> visits{0};
  InputIssues issues = lenient.read_all([&](const Document&, int) { ++visits; });
  EXPECT_EQ(visits.load(), 24 * 200 - 1);
  EXPECT_EQ(issues.count(IssueKind::kInvalidJson), 1u);
  EXPECT_EQ(issues.total(), 1u);
}

TEST_F(ReaderErrors, StrictModeNamesTheRecordEvenWhenNoLocationsAreKept) {
  fs::path bad = dir_.path() / "f03.jsonl";
  testing::write_file(bad, testing::jsonl_record("<3:1> fine", "D") + "[1, 2]\n");
  for (int threads : {1, 3}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .keep_issue_locations = 0, .strict = true});
    try {
      with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "strict mode accepted a bad record";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_TRUE(message.starts_with("bad input: " + bad.string() + ":2: invalid JSON"))
          << message;
    }
  }
}

TEST_F(ReaderErrors, StrictModeNamesAStreamFault) {
  fs::path bad = dir_.path() / "f02.jsonl.gz";
  std::string data;
  for (int l = 1; l <= 50; ++l)
    data += testing::gzip_compress(testing::jsonl_record("<2> ok", "D"));
  testing::write_file(bad, data.substr(0, data.size() - 9));  // line 50's member is cut
  CorpusReader reader(list_.files, RecordSchema{}, {.threads = 3, .strict = true});
  try {
    with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
    ADD_FAILURE() << "strict mode accepted a truncated stream";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_TRUE(
        message.starts_with("bad input: " + bad.string() + ":50: truncated compressed stream"))
        << message;
  }
}

TEST_F(ReaderErrors, MissingFileThrowsNamingIt) {
  fs::path gone = list_.files[10].path;
  fs::remove(gone);
  for (int threads : {1, 3}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = kSmallBlock});
    try {
      with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "read a missing file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(gone.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(ReaderErrors, UnreadableFileThrowsNamingIt) {
  // A directory under a corpus file's name opens but cannot be read.
  std::vector<CorpusFile> files = list_.files;
  fs::path unreadable = dir_.path() / "sub" / "f99.jsonl";
  fs::create_directories(unreadable);
  files.insert(files.begin() + 5, CorpusFile{.path = unreadable});
  for (int threads : {1, 3}) {
    CorpusReader reader(files, RecordSchema{}, {.threads = threads, .block_bytes = kSmallBlock});
    try {
      with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "read a directory as a file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(unreadable.string()), std::string::npos) << e.what();
    }
  }
}

TEST(CorpusReader, NoFilesIsNoWork) {
  CorpusReader reader({}, RecordSchema{}, {.threads = 3});
  int visits = 0;
  InputIssues issues =
      with_deadline([&] { return reader.read_all([&](const Document&, int) { ++visits; }); });
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
