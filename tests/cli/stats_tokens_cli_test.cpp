// `longctx stats --length tokens` against Debian's SentencePiece command-line tools: a tiny BPE
// model is trained with spm_train, and the expected token counts come from spm_encode, a
// separate program, over the same documents.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "longctx/base/files.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

TEST(StatsTokens, TotalsEqualSpmEncodeCounts) {
  testing::TempDir dir;
  const std::vector<std::string> words{"the",  "quick",      "brown", "fox", "données", "naïve",
                                       "東京", "こんにちは", "</s>",  "<s>", "x=1;",    "12345"};
  auto sentence = [&](size_t seed, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + words[(seed * 7 + i * i) % words.size()];
    return s;
  };
  std::string training;
  for (size_t i = 0; i < 300; ++i) training += sentence(i, 25) + "\n";
  testing::write_file(dir.path() / "train.txt", training);
  testing::CommandResult trained = testing::run_command(fmt::format(
      "cd {} && spm_train --input=train.txt --model_prefix=m --vocab_size=80 --model_type=bpe "
      "--normalization_rule_name=identity --minloglevel=2",
      dir.path().string()));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  // Documents of one line each (spm_encode encodes line by line).
  std::string corpus, lines;
  for (size_t i = 0; i < 40; ++i) {
    std::string text = sentence(1000 + i, 5 + i * 13);
    corpus += testing::jsonl_record(text, i % 3 ? "RedPajamaC4" : "RedPajamaBook");
    lines += text + "\n";
  }
  testing::write_file(dir.path() / "corpus" / "a.jsonl", corpus);
  testing::write_file(dir.path() / "lines.txt", lines);
  testing::CommandResult encoded = testing::run_command(
      fmt::format("spm_encode --model={} --output_format=id < {}",
                  (dir.path() / "m.model").string(), (dir.path() / "lines.txt").string()));
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  uint64_t expected_tokens = 0, expected_documents = 0;
  std::istringstream in(encoded.out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ids(line);
    for (std::string id; ids >> id;) ++expected_tokens;
    ++expected_documents;
  }
  ASSERT_EQ(expected_documents, 40u);

  fs::path json = dir.path() / "stats.json";
  testing::CommandResult r = testing::run_command(fmt::format(
      "{} stats {} -q --length tokens --tokenizer {} --json {}", LONGCTX_BINARY,
      (dir.path() / "corpus").string(), (dir.path() / "m.model").string(), json.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(j["total"]["documents"], expected_documents);
  EXPECT_EQ(j["total"]["tokens"], expected_tokens);
  EXPECT_NE(j["length"].get<std::string>().find("sentencepiece"), std::string::npos);
}

TEST(StatsTokens, TokenizerErrorsNameThePath) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "a.jsonl", testing::jsonl_record("hi", "RedPajamaC4"));
  testing::write_file(dir.path() / "bogus.model", "not a model");
  testing::CommandResult r = testing::run_command(
      fmt::format("{} stats {} --length tokens --tokenizer {}", LONGCTX_BINARY,
                  (dir.path() / "a.jsonl").string(), (dir.path() / "bogus.model").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bogus.model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace longctx
