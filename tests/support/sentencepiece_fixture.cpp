#include "support/sentencepiece_fixture.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <iterator>
#include <random>
#include <stdexcept>

#include "support/fixtures.h"

namespace longctx::testing {

namespace fs = std::filesystem;

std::string sentencepiece_training_text() {
  static const char* kSyllables[] = {
      "ka", "to", "ri", "ne", "mu", "sa", "lo", "pe",       "di",
      "vu", "zi", "an", "el", "or", "us", "th", "\xc3\xa9", "\xe4\xb8\xad",
      "<",  "/",  ">",  "b",  "c",  "g",  "f",  "w",        "y"};
  std::mt19937 rng(42);
  std::string text;
  for (int line = 0; line < 1500; ++line) {
    for (int w = 0; w < 12; ++w) {
      int n = 1 + static_cast<int>(rng() % 4);
      for (int s = 0; s < n; ++s) text += kSyllables[rng() % std::size(kSyllables)];
      text += w == 11 ? ".\n" : " ";
    }
  }
  return text;
}

fs::path train_sentencepiece_bpe(const fs::path& dir, const std::string& extra_flags) {
  fs::path input = dir / "train.txt";
  write_file(input, sentencepiece_training_text());
  fs::path prefix = dir / "tiny";
  ::testing::internal::CaptureStderr();  // the trainer logs every step
  auto status = sentencepiece::SentencePieceTrainer::Train(
      fmt::format("{} --input={} --model_prefix={} --vocab_size=200 --model_type=bpe "
                  "--character_coverage=1.0 --normalization_rule_name=identity --num_threads=1",
                  extra_flags, input.string(), prefix.string()));
  std::string log = ::testing::internal::GetCapturedStderr();
  if (!status.ok()) throw std::runtime_error("training failed: " + status.ToString() + "\n" + log);
  return dir / "tiny.model";
}

}  // namespace longctx::testing
