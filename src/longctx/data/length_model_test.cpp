#include "longctx/data/length_model.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/sentencepiece_fixture.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// An independent, strict UTF-8 decoder: the code points of `text`, or an exception for bytes
// that are not well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < text.size()) {
    unsigned char b = byte(i);
    int extra;
    char32_t cp, min;
    if (b < 0x80) {
      extra = 0, cp = b, min = 0;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3, cp = b & 0x07, min = 0x10000;
    } else {
      throw std::invalid_argument("bad lead byte");
    }
    if (i + static_cast<size_t>(extra) >= text.size()) throw std::invalid_argument("truncated");
    for (int k = 1; k <= extra; ++k) {
      unsigned char c = byte(i + static_cast<size_t>(k));
      if ((c & 0xC0) != 0x80) throw std::invalid_argument("bad continuation byte");
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw std::invalid_argument("overlong, surrogate or out of range");
    }
    out.push_back(cp);
    i += 1 + static_cast<size_t>(extra);
  }
  return out;
}

// UTF-8 bytes of one code point.
std::string encode_utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

const std::vector<std::string> kMultilingual = {
    "",
    "hello, world",
    "h\xc3\xa9llo",  // héllo
    "Stra\xc3\x9f"
    "e \xc3\xbc"
    "ber M\xc3\xbc"
    "nchen",                                                      // Straße über München
    "\xce\x93\xce\xb5\xce\xb9\xce\xac \xcf\x83\xce\xbf\xcf\x85",  // Greek
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",           // Привет
    "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac",           // 中文文本
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x81\x8b\xe3\x81\xaa",  // 日本語のかな
    "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",                                      // 한국어
    "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",  // नमस्ते
    "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7",                                  // مرحبا
    "\xf0\x9f\x98\x80\xf0\x9f\x8e\x89 emoji",                                    // 😀🎉 emoji
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",  // family ZWJ
    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",                                          // flag FR
    "e\xcc\x81\xcc\x80",                                                         // e + 2 combining
    "\xf4\x8f\xbf\xbf\xef\xbf\xbf\xc2\x80\x7f",  // U+10FFFF FFFF 80 7F
    std::string("nul\0inside", 10),
};

TEST(CountCodePoints, MatchesAnIndependentDecoderOnMultilingualText) {
  for (const std::string& text : kMultilingual) {
    EXPECT_EQ(count_code_points(text), decode_utf8(text).size()) << text;
  }
  EXPECT_EQ(count_code_points("h\xc3\xa9llo"), 5u);
  EXPECT_EQ(count_code_points("\xf0\x9f\x98\x80"), 1u);
}

TEST(CountCodePoints, EveryCodePointCountsOnce) {
  // Code point i at position i: every scalar value of the BMP, then every 97th of the rest.
  std::string text;
  uint64_t encoded = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += cp < 0x10000 ? 1 : 97) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    text += encode_utf8(cp);
    ++encoded;
  }
  std::vector<char32_t> decoded = decode_utf8(text);
  ASSERT_EQ(decoded.size(), encoded);
  EXPECT_EQ(count_code_points(text), encoded);
  // And on every prefix that ends on a character boundary of a mixed stretch.
  std::string mixed;
  for (char32_t cp : {U'a', U'\u00e9', U'\u4e2d', U'\U0001F600', U'z'}) mixed += encode_utf8(cp);
  EXPECT_EQ(count_code_points(std::string_view(mixed).substr(0, 1)), 1u);
  EXPECT_EQ(count_code_points(std::string_view(mixed).substr(0, 3)), 2u);
  EXPECT_EQ(count_code_points(std::string_view(mixed).substr(0, 6)), 3u);
  EXPECT_EQ(count_code_points(std::string_view(mixed).substr(0, 10)), 4u);
  EXPECT_EQ(count_code_points(mixed), 5u);
}

TEST(EstimateTokens, IsFloorOfCodePointsOver368Hundredths) {
  for (uint64_t cp = 0; cp <= 2'000'000; ++cp) {
    auto reference = static_cast<uint64_t>(std::floor(static_cast<long double>(cp) / 3.68L));
    if (estimate_tokens(cp) != reference) {
      ADD_FAILURE() << "cp " << cp << ": " << estimate_tokens(cp) << " != " << reference;
      break;
    }
  }
  EXPECT_EQ(estimate_tokens(0), 0u);
  EXPECT_EQ(estimate_tokens(3), 0u);
  EXPECT_EQ(estimate_tokens(4), 1u);
  EXPECT_EQ(estimate_tokens(92), 25u);  // exactly 25
  EXPECT_EQ(estimate_tokens(91), 24u);
  EXPECT_EQ(estimate_tokens(15074), 4096u);  // 15073.28 code points make 4096 tokens
  EXPECT_EQ(estimate_tokens(15073), 4095u);
}

// The reference keeps a document when `code_points / 3.68 >= threshold` in double precision.
// For every code point count, the integer estimate must make the same decision for every
// threshold: estimate >= T  <=>  cp / 3.68 >= T. Since both sides are monotone in T, it is
// enough that T = estimate passes and T = estimate + 1 fails.
TEST(EstimateTokens, AgreesWithTheReferenceFloatThresholdTest) {
  for (uint64_t cp = 0; cp <= 2'000'000; ++cp) {
    double ratio = static_cast<double>(cp) / 3.68;
    uint64_t estimate = estimate_tokens(cp);
    if (!(ratio >= static_cast<double>(estimate)) || ratio >= static_cast<double>(estimate + 1)) {
      ADD_FAILURE() << "cp " << cp << ": estimate " << estimate << ", cp / 3.68 = " << ratio;
      break;
    }
  }
  // And directly, thresholds around the paper's 4K and every T up to 20000 at its boundary.
  for (uint64_t threshold = 1; threshold <= 20'000; ++threshold) {
    uint64_t first = threshold * 368 / 100;  // near the smallest cp that reaches the threshold
    for (uint64_t cp = first > 3 ? first - 3 : 0; cp <= first + 3; ++cp) {
      bool reference = static_cast<double>(cp) / 3.68 >= static_cast<double>(threshold);
      ASSERT_EQ(estimate_tokens(cp) >= threshold, reference) << "cp " << cp << " T " << threshold;
    }
  }
}

TEST(LengthModel, EstimateMode) {
  LengthModel lengths = LengthModel::estimate();
  EXPECT_EQ(lengths.mode(), LengthMode::kEstimate);
  EXPECT_EQ(lengths.description(), "estimate (code points / 3.68)");
  EXPECT_EQ(lengths.tokens("h\xc3\xa9llo"), 1u);  // 5 code points
  EXPECT_EQ(lengths.tokens(""), 0u);
  for (const std::string& text : kMultilingual) {
    EXPECT_EQ(lengths.tokens(text), decode_utf8(text).size() * 100 / 368) << text;
  }
  std::string book(15074, 'x');
  EXPECT_EQ(lengths.tokens(book), 4096u);
  std::string cjk;
  for (int i = 0; i < 15074; ++i) cjk += "\xe4\xb8\xad";  // 3 bytes, 1 code point each
  EXPECT_EQ(lengths.tokens(cjk), 4096u);
}

// Tokens mode against Debian's spm_encode on the tiny BPE model of the test fixtures.
TEST(LengthModel, TokensModeCountsLikeTheCommandLineEncoder) {
  TempDir dir;
  fs::path model = testing::train_sentencepiece_bpe(dir.path());

  const std::vector<std::string> texts = {
      "kato rine musa",
      "end </s> of </s></s> text",
      "<s> begins and </s> ends",
      "caf\xc3\xa9 \xe4\xb8\xad\xe4\xb8\xad lo pe",
      "unknown QZX letters 42",
      "kakakakakakakakakakakakakakaka",
      "a",
      "",
  };
  std::string input;
  for (const std::string& t : texts) input += t + "\n";
  testing::write_file(dir.path() / "input.txt", input);
  testing::CommandResult r =
      testing::run_command(fmt::format("spm_encode --model={} --output_format=id < {}",
                                       model.string(), (dir.path() / "input.txt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> reference;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    uint64_t n = 0;
    int id;
    while (ids >> id) ++n;
    reference.push_back(n);
  }
  ASSERT_EQ(reference.size(), texts.size()) << r.out;

  LengthModel lengths = LengthModel::tokens(load_tokenizer(model));
  EXPECT_EQ(lengths.mode(), LengthMode::kTokens);
  EXPECT_EQ(lengths.description(), "tokens (sentencepiece:" + model.string() + ")");
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(lengths.tokens(texts[i]), reference[i]) << texts[i];
  }
  EXPECT_GT(reference[1], 5u);  // "</s>" is text: several pieces, not one control id
}

}  // namespace
}  // namespace longctx
