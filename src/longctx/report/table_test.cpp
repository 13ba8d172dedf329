#include "longctx/report/table.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"

namespace longctx {
namespace {

TEST(Table, PadsColumnsAndAlignsNumbersRight) {
  Table t({"domain", "documents"}, {Align::kLeft, Align::kRight});
  t.add_row({"RedPajamaBook", "120"});
  t.add_row({"C4", "98765"});
  EXPECT_EQ(t.render(),
            "domain         documents\n"
            "------------------------\n"
            "RedPajamaBook        120\n"
            "C4                 98765\n");
}

TEST(Table, RulesAndNoTrailingSpaces) {
  Table t({"a", "bb", "name"}, {Align::kRight, Align::kRight, Align::kLeft});
  t.add_row({"1", "2", "x"});
  t.add_rule();
  t.add_row({"333", "4", "longer name"});
  EXPECT_EQ(t.render(),
            "  a  bb  name\n"
            "--------------------\n"
            "  1   2  x\n"
            "--------------------\n"
            "333   4  longer name\n");
}

TEST(Table, WidthCountsCodePointsNotBytes) {
  Table t({"name", "n"}, {Align::kLeft, Align::kRight});
  t.add_row({"caf\xc3\xa9", "1"});                // 4 code points, 5 bytes
  t.add_row({"\xe4\xb8\xad\xe6\x96\x87", "22"});  // 2 code points, 6 bytes
  EXPECT_EQ(t.render(),
            "name   n\n"
            "--------\n"
            "caf\xc3\xa9   1\n"
            "\xe4\xb8\xad\xe6\x96\x87    22\n");
}

TEST(Table, HeaderOnlyAndSingleColumn) {
  Table t({"only"}, {Align::kLeft});
  EXPECT_EQ(t.render(), "only\n----\n");
  t.add_row({""});
  t.add_row({"longest"});
  EXPECT_EQ(t.render(), "only\n-------\n\nlongest\n");
}

TEST(Table, RejectsMismatchedSizes) {
  EXPECT_THROW(Table({"a", "b"}, {Align::kLeft}), Error);
  Table t({"a", "b"}, {Align::kLeft, Align::kLeft});
  EXPECT_THROW(t.add_row({"1"}), Error);
  EXPECT_THROW(t.add_row({"1", "2", "3"}), Error);
  t.add_row({"1", "2"});
  EXPECT_EQ(t.render(), "a  b\n----\n1  2\n");
}

}  // namespace
}  // namespace longctx
