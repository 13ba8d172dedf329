// Book QA: the records, the prompt, the paper's middle truncation (a truncated prompt as literal
// text) and the scores of one answer.
#include "longctx/eval/bookqa.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "support/eval_test_support.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

BookQaExample example(std::string context, std::string question) {
  BookQaExample e;
  e.context = std::move(context);
  e.question = std::move(question);
  e.answers = {"Paris"};
  return e;
}

TEST(BookQa, ThePromptIsThePapersTemplate) {
  EXPECT_EQ(bookqa_prompt_text(kBookQaTemplate, example("Once upon a time.", "Where?")),
            "<|im_start|>Read the book below and answer a question.\n\nOnce upon a time.\n\n"
            "Question: Where?\n\nAnswer:");
  // A book that holds a placeholder's text is copied as it is.
  EXPECT_EQ(bookqa_prompt_text("[{context}] {question} {question}", example("{question}", "Q")),
            "[{question}] Q Q");
  EXPECT_THROW(validate_bookqa_template("no book"), Error);
  EXPECT_THROW(validate_bookqa_template("{context}{context}"), Error);
  EXPECT_NO_THROW(validate_bookqa_template(kBookQaTemplate));
}

TEST(BookQa, MiddleTruncationKeepsTheFirstAndLastHalves) {
  std::vector<int32_t> ids = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(middle_truncate(ids, 4), (std::vector<int32_t>{0, 1, 5, 6}));
  EXPECT_EQ(middle_truncate(ids, 5), (std::vector<int32_t>{0, 1, 5, 6}));  // 5 / 2 = 2 each
  EXPECT_EQ(middle_truncate(ids, 7), ids);
  EXPECT_EQ(middle_truncate(ids, 0), ids);
}

// A book far longer than the truncation: 40 prompt tokens of the byte tokenizer (BOS + 39
// bytes) keep BOS and the first 19 bytes, then the last 20 bytes, which hold the question.
TEST(BookQa, ATruncatedPromptAsLiteralText) {
  test::ByteTokenizer bytes(false);
  std::string book;
  for (int i = 0; i < 1000; ++i) book += "chapter " + std::to_string(i) + ". ";
  BookQaPrompt p =
      make_bookqa_prompt(bytes, "Book: {context}\nQ: {question}\nA:", example(book, "Who?"), 40);
  EXPECT_TRUE(p.truncated);
  EXPECT_EQ(p.full_tokens, static_cast<int64_t>(1 + 6 + book.size() + 11));
  ASSERT_EQ(p.ids.size(), 40u);
  EXPECT_EQ(p.ids[0], 1);  // BOS is the first token of the first half
  EXPECT_EQ(p.text,
            "Book: chapter 0. ch"
            "ter 999. \nQ: Who?\nA:");
  BookQaPrompt whole = make_bookqa_prompt(bytes, "{context}?", example("short", ""), 40);
  EXPECT_FALSE(whole.truncated);
  EXPECT_EQ(whole.text, "short?");
}

TEST(BookQa, RecordsWithoutAnAnswerAreSkippedWithTheirLine) {
  testing::TempDir dir;
  testing::write_file(
      dir.path() / "qa.jsonl",
      "{\"id\":0,\"context\":\"book one\",\"input\":\"q?\",\"answer\":[\"a\",\"b\"],"
      "\"options\":[]}\n"
      "{\"id\":1,\"context\":\"book two\",\"input\":\"q?\"}\n"
      "\n"
      "{\"id\":2,\"context\":\"book\",\"input\":\"q?\",\"answer\":\"one answer\"}\n"
      "{\"id\":3,\"context\":7,\"input\":\"q?\",\"answer\":[\"x\"]}\n"
      "{\"id\":4,\"context\":\"b\",\"input\":\"q?\",\"answer\":[]}\n");
  BookQaData data = read_bookqa(dir.path() / "qa.jsonl");
  ASSERT_EQ(data.examples.size(), 2u);
  EXPECT_EQ(data.examples[0].answers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(data.examples[1].index, 2);  // records are numbered with the skipped ones
  EXPECT_EQ(data.examples[1].line, 4u);
  EXPECT_EQ(data.examples[1].answers, (std::vector<std::string>{"one answer"}));
  EXPECT_EQ(data.skipped.total(), 3u);
  EXPECT_EQ(data.skipped.count("missing_answer"), 1u);
  EXPECT_EQ(data.skipped.count("not_string"), 1u);
  EXPECT_EQ(data.skipped.count("answer"), 1u);
  EXPECT_EQ(data.skipped.first()[0].line, 2u);
  EXPECT_NE(data.skipped.describe().find("qa.jsonl:2: no `answer` field"), std::string::npos);
}

TEST(BookQa, ScoresAndSummary) {
  std::vector<std::string> answers = {"Paris", "the city of Paris"};
  BookQaScores s = score_bookqa("Paris, of course", answers);
  EXPECT_DOUBLE_EQ(s.recall, 0.0);  // "paris," is not "paris"
  // [paris of course] vs [city of paris]: 2 common; precision 2/3, recall 2/3.
  EXPECT_DOUBLE_EQ(s.f1, 2.0 / 3.0);
  BookQaResult a, b, c;
  a.index = 0;
  a.scores = {1.0, 0.5};
  a.prompt_tokens = 100;
  a.full_tokens = 300;
  b.index = 1;
  b.error = "HTTP 500";
  c.index = 1;
  c.scores = {0.5, 0.25};
  c.prompt_tokens = c.full_tokens = 50;
  std::vector<BookQaResult> results = {a, b, c};
  BookQaSummary sum = summarize_bookqa(results);
  EXPECT_EQ(sum.examples, 2);
  EXPECT_EQ(sum.failed, 0);
  EXPECT_EQ(sum.truncated, 1);
  EXPECT_DOUBLE_EQ(sum.recall, 75.0);
  EXPECT_DOUBLE_EQ(sum.f1, 37.5);
  BookQaResult back = parse_bookqa_result(bookqa_result_json(a), "r:1");
  EXPECT_EQ(back.full_tokens, 300);
  EXPECT_DOUBLE_EQ(back.scores.f1, 0.5);
}

}  // namespace
}  // namespace longctx
