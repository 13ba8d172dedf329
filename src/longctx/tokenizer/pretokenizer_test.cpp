// Hand-written pre-tokenizers against the regex semantics, on cases whose split follows from
// the pattern by hand (the golden tests cover the same code on real text against HF).
#include "longctx/tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include "longctx/tokenizer/unicode_class.h"

namespace longctx {
namespace {

std::vector<std::string> split(std::string_view text, RegexPattern pattern) {
  std::vector<std::string_view> pieces;
  split_pretokens(text, pattern, pieces);
  return {pieces.begin(), pieces.end()};
}

using V = std::vector<std::string>;

TEST(Llama3Pattern, WordsNumbersPunctuationAndSpaces) {
  EXPECT_EQ(split("Hello world's 12345", RegexPattern::kLlama3),
            (V{"Hello", " world", "'s", " ", "123", "45"}));
  EXPECT_EQ(split("(foo) bar!!\n\nbaz", RegexPattern::kLlama3),
            (V{"(foo", ")", " bar", "!!\n\n", "baz"}));
  // \s*[\r\n]+ takes white space up to the last newline; \s+(?!\S) leaves one space.
  EXPECT_EQ(split("a \n  \n   b", RegexPattern::kLlama3), (V{"a", " \n  \n", "  ", " b"}));
  EXPECT_EQ(split("x   ", RegexPattern::kLlama3), (V{"x", "   "}));
  // Contractions are case-insensitive, and match only where a piece starts: " 'sometimes"
  // starts at the space, which " ?[^\s\p{L}\p{N}]+" takes with the quote.
  EXPECT_EQ(split("DON'T 'sometimes", RegexPattern::kLlama3), (V{"DON", "'T", " '", "sometimes"}));
  EXPECT_EQ(split("x'sometimes", RegexPattern::kLlama3), (V{"x", "'s", "ometimes"}));
}

TEST(Qwen2Pattern, SingleDigits) {
  EXPECT_EQ(split("x 2024", RegexPattern::kQwen2), (V{"x", " ", "2", "0", "2", "4"}));
}

TEST(Gpt2Pattern, SpacePrefixesEachClass) {
  EXPECT_EQ(split("I'm 42 !? ok", RegexPattern::kGpt2), (V{"I", "'m", " 42", " !?", " ok"}));
}

TEST(Pretokenizer, PiecesTileMultilingualText) {
  std::string text = "東京 2024年\t日本語 — émigré!\r\nok";
  std::string joined;
  for (const std::string& piece : split(text, RegexPattern::kLlama3)) joined += piece;
  EXPECT_EQ(joined, text);
}

TEST(Pretokenizer, KnowsTheRegexStringsOfRealFiles) {
  EXPECT_EQ(
      find_regex_pattern(
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
      RegexPattern::kLlama3);
  EXPECT_FALSE(find_regex_pattern(R"(\w+|\s+)").has_value());
}

TEST(UnicodeClass, AsciiTableAgreesWithIcu) {
  for (char32_t c = 0; c < 128; ++c) EXPECT_EQ(kAsciiClass[c], char_class_slow(c)) << int(c);
  EXPECT_EQ(char_class(U'é'), CharClass::kLetter);
  EXPECT_EQ(char_class(U'٣'), CharClass::kNumber);
  EXPECT_EQ(char_class(0x3000), CharClass::kWhitespace);
  EXPECT_EQ(char_class(U'—'), CharClass::kOther);
}

}  // namespace
}  // namespace longctx
