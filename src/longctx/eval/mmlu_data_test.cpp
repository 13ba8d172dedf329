// Reading MMLU as users have it: the original CSV folders and cais/mmlu JSON lines, with the
// records that cannot be questions skipped, counted and located.
#include "longctx/eval/mmlu_data.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

TEST(MmluData, ReadsTheOriginalCsvFoldersWithQuotingAndSubjectsFromFileNames) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "dev/high_school_biology_dev.csv",
                      "\"Which, of these?\",a,b,c,\"d \"\"quoted\"\"\",C\n"
                      "second,a,b,c,d,A\n");
  testing::write_file(dir.path() / "test/high_school_biology_test.csv",
                      "\"A question\nover two lines\",a,b,c,d,D\r\n"
                      "five,columns,only,here,B\n"  // line 3: skipped
                      "bad letter,a,b,c,d,E\n"      // line 4: skipped
                      "last,a,b,c,d, B \n");
  testing::write_file(dir.path() / "test/anatomy_test.csv", "q,a,b,c,d,A\n");
  testing::write_file(dir.path() / "test/README.txt", "not a split file");
  MmluData data = read_mmlu(dir.path());
  EXPECT_EQ(data.layout, "csv");
  ASSERT_EQ(data.splits.dev["high_school_biology"].size(), 2u);
  const MmluQuestion& shot = data.splits.dev["high_school_biology"][0];
  EXPECT_EQ(shot.question, "Which, of these?");
  EXPECT_EQ(shot.choices[3], "d \"quoted\"");
  EXPECT_EQ(shot.answer, 2);
  const std::vector<MmluQuestion>& test = data.splits.test["high_school_biology"];
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[0].question, "A question\nover two lines");
  EXPECT_EQ(test[0].answer, 3);
  EXPECT_EQ(test[1].question, "last");
  EXPECT_EQ(test[1].index, 1);
  EXPECT_EQ(test[1].answer, 1);
  EXPECT_EQ(test[1].line, 5u);
  EXPECT_EQ(data.splits.test["anatomy"].size(), 1u);

  EXPECT_EQ(data.skipped.total(), 2u);
  EXPECT_EQ(data.skipped.count("columns"), 1u);
  EXPECT_EQ(data.skipped.count("answer"), 1u);
  std::string file = (dir.path() / "test/high_school_biology_test.csv").string();
  ASSERT_EQ(data.skipped.first().size(), 2u);
  EXPECT_EQ(data.skipped.first()[0].file, file);
  EXPECT_EQ(data.skipped.first()[0].line, 3u);
  EXPECT_EQ(data.skipped.first()[1].line, 4u);
  std::string text = data.skipped.describe();
  EXPECT_NE(text.find(file + ":3: 5 columns, expected 6"), std::string::npos) << text;
}

TEST(MmluData, ReadsCaisMmluJsonLinesAndSkipsALineWithoutAnswer) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "dev.jsonl",
                      "{\"question\":\"d?\",\"subject\":\"anatomy\",\"choices\":[\"a\",\"b\",\"c\","
                      "\"d\"],\"answer\":0}\n");
  testing::write_file(
      dir.path() / "test.jsonl",
      "{\"question\":\"q1\",\"subject\":\"anatomy\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],"
      "\"answer\":3}\n"
      "\n"
      "{\"question\":\"q2\",\"subject\":\"anatomy\",\"choices\":[\"a\",\"b\",\"c\",\"d\"]}\n"
      "{\"question\":\"q3\",\"subject\":\"anatomy\",\"choices\":[\"a\",\"b\"],\"answer\":1}\n"
      "not json\n"
      "{\"question\":\"q4\",\"subject\":\"virology\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],"
      "\"answer\":\"B\"}\n");
  MmluData data = read_mmlu(dir.path());
  EXPECT_EQ(data.layout, "jsonl");
  ASSERT_EQ(data.splits.test["anatomy"].size(), 1u);
  EXPECT_EQ(data.splits.test["anatomy"][0].answer, 3);
  ASSERT_EQ(data.splits.test["virology"].size(), 1u);
  EXPECT_EQ(data.splits.test["virology"][0].answer, 1);
  EXPECT_EQ(data.splits.test["virology"][0].line, 6u);
  EXPECT_EQ(data.skipped.total(), 3u);
  EXPECT_EQ(data.skipped.count("missing_answer"), 1u);
  EXPECT_EQ(data.skipped.count("choices"), 1u);
  EXPECT_EQ(data.skipped.count("invalid_json"), 1u);
  EXPECT_EQ(data.skipped.first()[0].line, 3u);
  EXPECT_EQ(data.skipped.first()[0].file, (dir.path() / "test.jsonl").string());
}

TEST(MmluData, AFolderInNeitherLayoutSaysWhatIsExpected) {
  testing::TempDir dir;
  try {
    read_mmlu(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dev.jsonl"), std::string::npos);
    EXPECT_NE(e.hint().find("_dev.csv"), std::string::npos);
  }
}

}  // namespace
}  // namespace longctx
