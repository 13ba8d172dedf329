#include "longctx/eval/results_dir.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

TEST(ResultsDir, LinesAccumulateAcrossRunsAndACutLastLineIsDropped) {
  testing::TempDir dir;
  nlohmann::json settings = {{"task", "t"}, {"shots", 5}};
  {
    ResultsDir out(dir.path() / "run", settings);
    EXPECT_TRUE(out.lines().empty());
    out.append("{\"a\":1}");
    out.append("{\"a\":2}");
  }
  // A crash in the middle of a line leaves it without its newline.
  std::string path = (dir.path() / "run" / "results.jsonl").string();
  testing::write_file(path, read_file(path) + "{\"a\":3,\"tru");
  ResultsDir again(dir.path() / "run", settings);
  std::vector<ResultsLine> lines = again.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"a\":2}");
  EXPECT_EQ(lines[1].where, path + ":2");
  again.append("{\"a\":3}");
  EXPECT_EQ(again.lines().size(), 3u);
  EXPECT_EQ(read_file(path), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
}

TEST(ResultsDir, OtherSettingsAreRefusedWhileResultsExist) {
  testing::TempDir dir;
  {
    ResultsDir out(dir.path(), {{"shots", 5}});
    out.append("{}");
  }
  EXPECT_THROW(ResultsDir(dir.path(), {{"shots", 0}}), Error);
  EXPECT_NO_THROW(ResultsDir(dir.path(), {{"shots", 5}}));
  std::filesystem::remove(dir.path() / "results.jsonl");
  EXPECT_NO_THROW(ResultsDir(dir.path(), {{"shots", 0}}));
}

}  // namespace
}  // namespace longctx
