#include "longctx/base/text.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"

namespace longctx {
namespace {

TEST(ParseCount, AcceptsSuffixesAndScientificNotation) {
  EXPECT_EQ(parse_count("5B", "--budget"), 5'000'000'000u);
  EXPECT_EQ(parse_count("5b", "--budget"), 5'000'000'000u);
  EXPECT_EQ(parse_count("500M", "--budget"), 500'000'000u);
  EXPECT_EQ(parse_count("2e9", "--budget"), 2'000'000'000u);
  EXPECT_EQ(parse_count("1.5K", "--budget"), 1500u);
  EXPECT_EQ(parse_count("1234", "--budget"), 1234u);
}

TEST(ParseCount, RejectsGarbageNamingTheFlag) {
  for (const char* bad : {"", "B", "5X", "-3", "1e40", "abc"}) {
    try {
      parse_count(bad, "--budget");
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos) << e.what();
    }
  }
}

TEST(ParseKeyValues, SplitsPairsAndRejectsMalformedItems) {
  auto items = parse_key_values("RedPajamaC4=C4,RedPajamaBook=Book", "--domain-alias");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].first, "RedPajamaC4");
  EXPECT_EQ(items[1].second, "Book");
  EXPECT_TRUE(parse_key_values("", "--x").empty());
  EXPECT_THROW(parse_key_values("a=b,c", "--x"), Error);
  EXPECT_THROW(parse_key_values("=b", "--x"), Error);
  EXPECT_THROW(parse_key_values("a=", "--x"), Error);
}

TEST(Format, BytesCountsDurationsPercents) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(format_count(980), "980");
  EXPECT_EQ(format_count(1'250'000), "1.25M");
  EXPECT_EQ(format_count(3'100'000'000), "3.10B");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(7384), "2:03:04");
  EXPECT_EQ(format_percent(0.1234), "12.3%");
}

}  // namespace
}  // namespace longctx

namespace longctx {
namespace {

TEST(TextTest, TrimAsciiSpaceAsPythonStrip) {
  EXPECT_EQ(trim_ascii_space(" \t a b\n\x1f"), "a b");
  EXPECT_EQ(trim_ascii_space("   "), "");
  EXPECT_EQ(trim_ascii_space("\xc2\xa0x"), "\xc2\xa0x");  // non-ASCII space is kept
  EXPECT_TRUE(is_ascii_space('\v'));
  EXPECT_FALSE(is_ascii_space('a'));
}

}  // namespace
}  // namespace longctx
