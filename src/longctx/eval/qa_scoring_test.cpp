// The book-QA scores on worked examples, each value worked out by hand from the rules the
// paper's eval_book.py and InfiniteBench's compute_scores.py apply (qa_scoring.h).
#include "longctx/eval/qa_scoring.h"

#include <gtest/gtest.h>

#include "longctx/eval/python_text.h"

namespace longctx {
namespace {

TEST(PythonText, LowerSplitAndStripFollowPythonsStrMethods) {
  EXPECT_EQ(python_lower("ÉCOLE Ünd ΣΑ"), "école ünd σα");
  EXPECT_EQ(python_split(" a\u00a0b\n\tc\u3000d\x1c e "),
            (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(python_strip("\u3000 Q? \n"), "Q?");
  EXPECT_EQ(python_strip("  "), "");
  EXPECT_EQ(python_strip("x"), "x");
}

TEST(QaScoring, NormalizationDropsPunctuationArticlesAndExtraSpaces) {
  EXPECT_EQ(normalize_answer("The  Cat's hat, an apple!"), "cats hat apple");
  // Articles only as whole words: "theme", "another", "banana" keep theirs; "A" is one.
  EXPECT_EQ(normalize_answer("A theme, another banana; the end."), "theme another banana end");
  // Punctuation is deleted, not replaced, so hyphenated words join.
  EXPECT_EQ(normalize_answer("well-known (1,000)"), "wellknown 1000");
  // A word boundary after deleting punctuation: "a.b" becomes "ab", not an article.
  EXPECT_EQ(normalize_answer("a.b"), "ab");
  // Non-ASCII letters are word characters: "thé" is not "the".
  EXPECT_EQ(normalize_answer("Thé and the"), "thé and");
  // Curly quotes are not ASCII punctuation and stay.
  EXPECT_EQ(normalize_answer("\u201cHi\u201d"), "\u201chi\u201d");
}

TEST(QaScoring, F1CountsRepeatedWordsAsAMultiset) {
  // Prediction [answer is paris] vs [paris]: precision 1/3, recall 1, F1 0.5.
  EXPECT_DOUBLE_EQ(token_f1("The answer is Paris.", "Paris"), 0.5);
  // [paris paris paris] vs [paris]: one common token; precision 1/3, recall 1.
  EXPECT_DOUBLE_EQ(token_f1("Paris Paris Paris", "Paris"), 0.5);
  // [paris paris] vs [paris paris london]: two common; precision 1, recall 2/3, F1 0.8.
  EXPECT_DOUBLE_EQ(token_f1("paris paris", "Paris, Paris, London"), 0.8);
  EXPECT_DOUBLE_EQ(token_f1("nothing shared", "Paris"), 0.0);
  EXPECT_DOUBLE_EQ(token_f1("", "Paris"), 0.0);
  // Only articles and punctuation: no token on either side.
  EXPECT_DOUBLE_EQ(token_f1("The.", "a"), 0.0);
}

TEST(QaScoring, F1TakesTheBestOfSeveralAnswers) {
  std::vector<std::string> answers = {"London", "the city of Paris", "Paris"};
  // vs [city of paris]: precision 1/4, recall 1/3 -> 2/7; vs [paris]: precision 1/4, recall 1
  // -> 0.4; the best is 0.4.
  EXPECT_DOUBLE_EQ(answer_f1("She went to Paris", answers), 0.4);
  EXPECT_DOUBLE_EQ(answer_f1("x", {}), 0.0);
}

TEST(QaScoring, ThePapersRecallKeepsPunctuationAndUsesTheFirstAnswerAsASet) {
  // "paris." is not "paris": the paper splits on white space only.
  EXPECT_DOUBLE_EQ(paper_recall("The answer is Paris.", "Paris"), 0.0);
  EXPECT_DOUBLE_EQ(paper_recall("The answer is Paris", "Paris"), 1.0);
  // The answer's words as a set: {the, red, cat} (repeated "the" counted once); the
  // prediction holds "the" and "cat": 2/3.
  EXPECT_DOUBLE_EQ(paper_recall("the cat sat", "The red cat THE"), 2.0 / 3.0);
  // Repeated prediction words do not count twice.
  EXPECT_DOUBLE_EQ(paper_recall("red red red", "red blue"), 0.5);
  EXPECT_DOUBLE_EQ(paper_recall("anything", ""), 0.0);
}

}  // namespace
}  // namespace longctx
