#include "longctx/base/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace longctx {
namespace {

TEST(Error, CarriesMessageAndHint) {
  Error with_hint("cannot open x.jsonl: No such file or directory", "check the path");
  EXPECT_EQ(std::string(with_hint.what()), "cannot open x.jsonl: No such file or directory");
  EXPECT_EQ(with_hint.hint(), "check the path");
  Error without("bad");
  EXPECT_EQ(without.hint(), "");
  // The CLI catches std::exception once; an Error is one.
  try {
    throw Error("thrown", "hint");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "thrown");
  }
}

TEST(ErrnoText, DescribesErrno) {
  EXPECT_EQ(errno_text(ENOENT), "No such file or directory");
  EXPECT_EQ(errno_text(EACCES), "Permission denied");
  EXPECT_EQ(errno_text(EISDIR), "Is a directory");
}

}  // namespace
}  // namespace longctx
