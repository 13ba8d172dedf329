// End-to-end tests of `longctx stats` on generated corpora holding every kind of bad input.
// Expected numbers are computed here from the fixture's own texts, not by the code under test.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

#include "longctx/base/files.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::TempDir;

// floor(code points / 3.68) for ASCII text: bytes * 100 / 368.
uint64_t estimate(const std::string& ascii) {
  return ascii.size() * 100 / 368;
}

std::string text_of_length(size_t bytes, char fill) {
  std::string s;
  while (s.size() < bytes) s += std::string(1, fill) + "bc defg hi. ";
  s.resize(bytes);
  return s;
}

struct Expected {
  std::map<std::string, uint64_t> documents, tokens;
  void add(const std::string& domain, const std::string& text) {
    ++documents[domain];
    tokens[domain] += estimate(text);
  }
};

// A corpus with good records in every container format and each kind of bad input.
class StatsCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path root = dir_.path() / "corpus";
    // a.jsonl: plain, good records then one of each record-level fault.
    std::string a;
    for (int i = 0; i < 20; ++i) {
      std::string text = text_of_length(100 + 1000 * static_cast<size_t>(i), 'a');
      std::string domain = i % 2 ? "RedPajamaC4" : "RedPajamaGithub";
      a += testing::jsonl_record(text, domain);
      expected_.add(domain, text);
    }
    a += "{not json}\n";  // line 21
    a += R"({"meta": {"redpajama_set_name": "RedPajamaC4"}})"
         "\n";  // 22 missing text
    a += R"({"text": 42, "meta": {"redpajama_set_name": "RedPajamaC4"}})"
         "\n";  // 23
    a +=
        "{\"text\": \"bad \xff byte\", \"meta\": {\"redpajama_set_name\": \"RedPajamaC4\"}}\n";  // 24
    a += R"({"text": "  \n ", "meta": {"redpajama_set_name": "RedPajamaC4"}})"
         "\n";  // 25 empty
    a += R"({"text": "no domain here"})"
         "\n";  // 26
    a += R"({"text": "numeric domain", "meta": {"redpajama_set_name": 7}})"
         "\n";  // 27
    a += "\n";  // blank: skipped
    a += R"([1, 2, 3])"
         "\n";  // 29 not object
    std::string last = text_of_length(20000, 'z');
    a += testing::jsonl_record(last, "RedPajamaBook");  // 30, no newline
    a.pop_back();
    expected_.add("RedPajamaBook", last);
    testing::write_file(root / "a.jsonl", a);

    // b.jsonl.zst: several frames, lines straddling frames.
    std::string b;
    for (int i = 0; i < 30; ++i) {
      std::string text = text_of_length(5000 + 37 * static_cast<size_t>(i), 'b');
      b += testing::jsonl_record(text, "RedPajamaArXiv");
      expected_.add("RedPajamaArXiv", text);
    }
    testing::write_file(root / "b.jsonl.zst", testing::zstd_compress(b, 4096));

    // c.jsonl.zst: one frame per line, the last frame cut short -> truncated at line 5.
    std::string c_stream;
    for (int i = 0; i < 5; ++i) {
      std::string text = text_of_length(3000, 'c');
      std::string frame = testing::zstd_compress(testing::jsonl_record(text, "RedPajamaWikipedia"));
      if (i < 4) {
        expected_.add("RedPajamaWikipedia", text);
      } else {
        frame.resize(frame.size() / 2);
      }
      c_stream += frame;
    }
    testing::write_file(root / "c.jsonl.zst", c_stream);

    // d.jsonl.gz: one member per line, the third member's header corrupt -> corrupt at line 3.
    std::string d_stream;
    for (int i = 0; i < 4; ++i) {
      std::string text = text_of_length(2500, 'd');
      std::string member =
          testing::gzip_compress(testing::jsonl_record(text, "RedPajamaStackExchange"));
      if (i < 2) expected_.add("RedPajamaStackExchange", text);
      if (i == 2) member[0] = 'X';
      d_stream += member;
    }
    testing::write_file(root / "d.jsonl.gz", d_stream);

    // e.json.gz: truncated gzip (C4's file naming) -> truncated at line 3.
    std::string e_stream;
    for (int i = 0; i < 3; ++i) {
      std::string text = text_of_length(1500, 'e');
      std::string member = testing::gzip_compress(testing::jsonl_record(text, "RedPajamaC4"));
      if (i < 2) expected_.add("RedPajamaC4", text);
      if (i == 2) member.resize(member.size() - 12);
      e_stream += member;
    }
    testing::write_file(root / "e.json.gz", e_stream);

    // Books as .txt files: domain from the parent folder; one empty, one not UTF-8.
    std::string book = text_of_length(300000, 'f');
    testing::write_file(root / "RedPajamaBook" / "f.txt", book);
    expected_.add("RedPajamaBook", book);
    testing::write_file(root / "RedPajamaBook" / "g.txt", " \n\n");
    testing::write_file(root / "RedPajamaBook" / "h.txt", "caf\xe9 latin-1\n");
    testing::write_file(root / "README.md", "not a corpus file\n");  // skipped by the walk
  }

  CommandResult stats(const std::string& args) {
    return testing::run_command(
        fmt::format("{} stats {} {}", LONGCTX_BINARY, (dir_.path() / "corpus").string(), args));
  }
  nlohmann::json stats_json(const std::string& args) {
    fs::path out = dir_.path() / "stats.json";
    CommandResult r = stats(args + " --json " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(read_file(out));
  }

  TempDir dir_;
  Expected expected_;
};

TEST_F(StatsCorpus, CountsEveryDocumentAndEveryKindOfBadInput) {
  nlohmann::json j = stats_json("--quiet --threads 2");
  std::map<std::string, uint64_t> documents, tokens;
  for (const auto& d : j["domains"]) {
    documents[d["name"]] = d["documents"];
    tokens[d["name"]] = d["tokens"];
  }
  EXPECT_EQ(documents, expected_.documents);
  EXPECT_EQ(tokens, expected_.tokens);

  const nlohmann::json& bad = j["bad_input"]["by_reason"];
  EXPECT_EQ(bad["invalid_json"], 2);  // "{not json}" and "[1, 2, 3]"
  EXPECT_EQ(bad["missing_text"], 1);
  EXPECT_EQ(bad["non_string_text"], 1);
  EXPECT_EQ(bad["invalid_utf8"], 2);    // a record and h.txt
  EXPECT_EQ(bad["empty_document"], 2);  // a record and g.txt
  EXPECT_EQ(bad["missing_domain"], 1);
  EXPECT_EQ(bad["non_string_domain"], 1);
  EXPECT_EQ(bad["truncated_stream"], 2);  // c.jsonl.zst and e.json.gz
  EXPECT_EQ(bad["corrupt_stream"], 1);    // d.jsonl.gz
  EXPECT_EQ(j["bad_input"]["total"], 13);
  EXPECT_EQ(j["input"]["files"], 8);
}

TEST_F(StatsCorpus, ReportsTheFirstBadLocationsInFileAndLineOrder) {
  nlohmann::json j = stats_json("--quiet --threads 3 --show-issues 20");
  std::vector<std::string> seen;
  for (const auto& at : j["bad_input"]["first"]) {
    seen.push_back(fs::path(at["file"].get<std::string>()).filename().string() + ":" +
                   std::to_string(at["line"].get<int>()) + " " + at["reason"].get<std::string>());
  }
  // Paths sort by component, so corpus/RedPajamaBook/ comes before corpus/a.jsonl.
  std::vector<std::string> want{"g.txt:1 empty_document",         "h.txt:1 invalid_utf8",
                                "a.jsonl:21 invalid_json",        "a.jsonl:22 missing_text",
                                "a.jsonl:23 non_string_text",     "a.jsonl:24 invalid_utf8",
                                "a.jsonl:25 empty_document",      "a.jsonl:26 missing_domain",
                                "a.jsonl:27 non_string_domain",   "a.jsonl:29 invalid_json",
                                "c.jsonl.zst:5 truncated_stream", "d.jsonl.gz:3 corrupt_stream",
                                "e.json.gz:3 truncated_stream"};
  EXPECT_EQ(seen, want);
}

TEST_F(StatsCorpus, ResultsDoNotDependOnThreadCount) {
  fs::path one = dir_.path() / "one.json", four = dir_.path() / "four.json";
  ASSERT_EQ(stats("-q --threads 1 --json " + one.string()).exit_code, 0);
  ASSERT_EQ(stats("-q --threads 4 --json " + four.string()).exit_code, 0);
  EXPECT_EQ(read_file(one), read_file(four));
}

TEST_F(StatsCorpus, TableShowsDomainsAndBadInputGoesToStderr) {
  CommandResult r = stats("-q --threads 2 --show-issues 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("RedPajamaArXiv"), std::string::npos);
  EXPECT_NE(r.out.find("0-1K"), std::string::npos);
  EXPECT_NE(r.out.find("128K+"), std::string::npos);
  EXPECT_NE(r.err.find("bad input: 13 skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a.jsonl:21: invalid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("... and 10 more"), std::string::npos) << r.err;
}

TEST_F(StatsCorpus, StrictStopsAtBadInputNamingFileAndLine) {
  CommandResult r = stats("-q --threads 1 --strict");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("longctx stats: error: bad input: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("RedPajamaBook/g.txt:1: empty document"), std::string::npos) << r.err;
}

TEST_F(StatsCorpus, DomainFlagsRenameAndFillIn) {
  nlohmann::json j = stats_json("-q --domain-alias short --domain Misc");
  std::map<std::string, uint64_t> documents;
  for (const auto& d : j["domains"]) documents[d["name"]] = d["documents"];
  EXPECT_EQ(documents["C4"], expected_.documents["RedPajamaC4"]);
  EXPECT_EQ(documents["Misc"], 2u);  // "no domain here" and the book f.txt
  EXPECT_EQ(documents.count("RedPajamaC4"), 0u);
  EXPECT_EQ(j["bad_input"]["by_reason"]["missing_domain"], 0);
}

TEST_F(StatsCorpus, WritesFigure2Svg) {
  fs::path svg = dir_.path() / "figure.svg";
  ASSERT_EQ(stats("-q --svg " + svg.string()).exit_code, 0);
  std::string text = read_file(svg);
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("</svg>"), std::string::npos);
  EXPECT_NE(text.find("Domain share of tokens"), std::string::npos);
  EXPECT_NE(text.find("ArXiv"), std::string::npos);
  EXPECT_NE(text.find("128K+"), std::string::npos);
}

TEST(StatsCli, ClearErrorsForMissingFilesAndBadFlags) {
  CommandResult missing =
      testing::run_command(fmt::format("{} stats /nonexistent/corpus", LONGCTX_BINARY));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/corpus: no such file or directory"), std::string::npos)
      << missing.err;
  CommandResult flag = testing::run_command(fmt::format("{} stats . --bogus-flag", LONGCTX_BINARY));
  EXPECT_NE(flag.exit_code, 0);
  EXPECT_NE(flag.err.find("--bogus-flag"), std::string::npos) << flag.err;
  CommandResult length =
      testing::run_command(fmt::format("{} stats . --length tokens", LONGCTX_BINARY));
  EXPECT_EQ(length.exit_code, 1);
  EXPECT_NE(length.err.find("--tokenizer"), std::string::npos) << length.err;
}

}  // namespace
}  // namespace longctx
