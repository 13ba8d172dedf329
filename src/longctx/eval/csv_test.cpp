#include "longctx/eval/csv.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"

namespace longctx {
namespace {

using Fields = std::vector<std::string>;

TEST(Csv, QuotedFieldsHoldCommasDoubledQuotesAndLineBreaks) {
  std::string text =
      "\"What is 1,000 + 1?\",\"1,001\",\"\"\"1001\"\"\",x,y,A\n"
      "\"Two\nlines\",b,c,d,e,B\r\n"
      "plain,\"\",,d,e,C";
  std::vector<CsvRecord> records = parse_csv(text, "t.csv");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[0].fields, (Fields{"What is 1,000 + 1?", "1,001", "\"1001\"", "x", "y", "A"}));
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].fields, (Fields{"Two\nlines", "b", "c", "d", "e", "B"}));
  // The record after a line break inside quotes starts on line 4; empty fields stay.
  EXPECT_EQ(records[2].line, 4u);
  EXPECT_EQ(records[2].fields, (Fields{"plain", "", "", "d", "e", "C"}));
}

TEST(Csv, BlankLinesAreSkippedAndLinesCountThem) {
  std::vector<CsvRecord> records = parse_csv("a,b\n\n\r\nc,d\n", "t.csv");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].line, 4u);
  EXPECT_EQ(records[1].fields, (Fields{"c", "d"}));
}

TEST(Csv, TextAfterAClosingQuoteAndQuotesInsideAPlainFieldAreKept) {
  std::vector<CsvRecord> records = parse_csv("\"ab\"c,5\" tall\n", "t.csv");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"abc", "5\" tall"}));
}

TEST(Csv, AFieldEndingInAComma) {
  std::vector<CsvRecord> records = parse_csv("a,\n", "t.csv");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"a", ""}));
}

TEST(Csv, AQuoteNeverClosedNamesTheLineItOpenedOn) {
  try {
    parse_csv("a,b\nc,\"never\nclosed,x\n", "dev/x_dev.csv");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dev/x_dev.csv:2:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace longctx
