// End-to-end tests of `longctx tokenize` with the checked-in SentencePiece model, whose ids
// for the text set come from python3-sentencepiece (tests/tokenizer/goldens/tiny_bpe.json), and
// with the fetched Llama-2/Llama-3 tokenizer.json files against HF tokenizers' ids for a .jsonl
// of records (tests/tokenizer/goldens/records.json).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "longctx/base/files.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldens = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens";
const fs::path kTexts = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/texts";

std::vector<int32_t> golden_ids(const std::string& name) {
  nlohmann::json golden = nlohmann::json::parse(read_file(kGoldens / "tiny_bpe.json"));
  for (const auto& entry : golden["texts"]) {
    if (entry["name"] == name) return entry["encode"]["ids"].get<std::vector<int32_t>>();
  }
  throw std::runtime_error("no golden for " + name);
}

testing::CommandResult tokenize(const std::string& args) {
  return testing::run_command(fmt::format("{} tokenize --tokenizer {} {}", LONGCTX_BINARY,
                                          (kGoldens / "tiny_bpe.model").string(), args));
}

TEST(TokenizeCli, TextFileIdsCountAndDecode) {
  std::vector<int32_t> want = golden_ids("english.txt");
  testing::CommandResult json = tokenize("--json --input " + (kTexts / "english.txt").string());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out).get<std::vector<int32_t>>(), want);

  testing::CommandResult count = tokenize("--count --input " + (kTexts / "english.txt").string());
  EXPECT_EQ(count.out, std::to_string(want.size()) + "\n");

  testing::TempDir dir;
  testing::write_file(dir.path() / "ids.txt", json.out);
  testing::CommandResult decoded =
      tokenize("--decode --input " + (dir.path() / "ids.txt").string());
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, read_file(kTexts / "english.txt") + "\n");
}

TEST(TokenizeCli, JsonLinesGiveOneLinePerRecordInOrder) {
  testing::TempDir dir;
  std::string english = read_file(kTexts / "english.txt"), code = read_file(kTexts / "code.txt");
  testing::write_file(
      dir.path() / "in.jsonl",
      testing::jsonl_record(english, "Book") + "{broken\n" + testing::jsonl_record(code, "Github"));
  testing::CommandResult r = tokenize("--json --input " + (dir.path() / "in.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = {r.out.substr(0, r.out.find('\n')),
                                    r.out.substr(r.out.find('\n') + 1)};
  EXPECT_EQ(nlohmann::json::parse(lines[0]).get<std::vector<int32_t>>(), golden_ids("english.txt"));
  EXPECT_EQ(nlohmann::json::parse(lines[1]).get<std::vector<int32_t>>(), golden_ids("code.txt"));
  EXPECT_NE(r.err.find("in.jsonl:2: invalid JSON"), std::string::npos) << r.err;
}

// The fetched tokenizer files (scripts/fetch_tokenizers.sh), or an empty path when absent.
fs::path fetched_tokenizers() {
  fs::path dir;
  if (const char* home = std::getenv("HOME")) dir = fs::path(home) / ".cache/longctx/tokenizers";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) dir = fs::path(xdg) / "longctx/tokenizers";
  return fs::exists(dir / "llama2" / "tokenizer.json") ? dir : fs::path();
}

TEST(TokenizeCli, EveryRecordGetsItsLineEmptyAndWhitespaceTextsIncluded) {
  // One record per text of tests/tokenizer/goldens/records.json (an empty text, whitespace-only
  // ones, ordinary ones), whose ids HF tokenizers gave (scripts/make_record_goldens.js): line N
  // of --json is record N's ids, [] for the empty text, and --count counts them.
  fs::path cache = fetched_tokenizers();
  if (cache.empty()) GTEST_SKIP() << "tokenizer files not fetched (scripts/fetch_tokenizers.sh)";
  nlohmann::json golden = nlohmann::json::parse(read_file(kGoldens / "records.json"));
  testing::TempDir dir;
  std::string records;
  for (const auto& text : golden["texts"]) records += nlohmann::json{{"text", text}}.dump() + "\n";
  testing::write_file(dir.path() / "in.jsonl", records);
  for (const auto& [name, want] : golden["tokenizers"].items()) {
    SCOPED_TRACE(name);
    fs::path file = cache / name / "tokenizer.json";
    testing::CommandResult sha = testing::run_command("sha256sum " + file.string());
    ASSERT_EQ(sha.out.substr(0, 64), want["tokenizer_json_sha256"]) << "not the golden's file";
    std::string command = fmt::format("{} tokenize --tokenizer {} --input {}", LONGCTX_BINARY,
                                      file.string(), (dir.path() / "in.jsonl").string());
    testing::CommandResult json = testing::run_command(command + " --json");
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_EQ(json.err, "");  // no record was skipped as an empty document
    std::string expected, counts;
    for (const auto& ids : want["ids"]) {
      expected += ids.dump() + "\n";
      counts += std::to_string(ids.size()) + "\n";
    }
    EXPECT_EQ(json.out, expected);
    testing::CommandResult count = testing::run_command(command + " --count");
    ASSERT_EQ(count.exit_code, 0) << count.err;
    EXPECT_EQ(count.out, counts);
  }
}

TEST(TokenizeCli, ErrorsNameTheProblem) {
  testing::CommandResult missing = tokenize("--input /nonexistent.txt");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent.txt"), std::string::npos) << missing.err;
  testing::TempDir dir;
  testing::write_file(dir.path() / "ids.txt", "1 2 banana\n");
  testing::CommandResult bad = tokenize("--decode --input " + (dir.path() / "ids.txt").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'banana' is not a token id"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace longctx
