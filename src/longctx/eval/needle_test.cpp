// Needle in a haystack: grid values against numpy's, cells built on a haystack whose token
// positions are known (tiny_bpe), the scorers on hand-computed values, results round trips.
#include "longctx/eval/needle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "longctx/base/error.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> tiny_bpe() {
  return load_tokenizer(fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model");
}

// tiny_bpe ids of "a b c. d e f. g h": one token per letter and period (positions 0..9).
//   pos:  0   1   2   3   4   5   6   7   8   9
//         a   b   c   .   d   e   f   .   g   h
const std::vector<int32_t> kHaystackIds = {264, 305, 284, 849, 286, 363, 289, 849, 328, 315};
constexpr int32_t kPeriod = 849;  // "."; encode(".") is ["▁" 823, "." 849]

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(NeedleGrid, DefaultsMatchNumpy) {
  // python3: [round(1000 + i * (127000 / 39)) for i in range(40)], last = 128000.
  const std::vector<int64_t> expected_lengths = {
      1000,  4256,   7513,   10769,  14026,  17282,  20538,  23795,  27051,  30308,
      33564, 36821,  40077,  43333,  46590,  49846,  53103,  56359,  59615,  62872,
      66128, 69385,  72641,  75897,  79154,  82410,  85667,  88923,  92179,  95436,
      98692, 101949, 105205, 108462, 111718, 114974, 118231, 121487, 124744, 128000};
  NeedleSettings settings;
  EXPECT_EQ(settings.lengths_tokens, expected_lengths);
  EXPECT_EQ(settings.depths_percent, (std::vector<double>{0, 11, 22, 33, 44, 56, 67, 78, 89, 100}));
  EXPECT_EQ(settings.reserve_tokens, 200);
  EXPECT_EQ(settings.max_new_tokens, 50);
  EXPECT_EQ(settings.task, NeedleTask::kNeedle);
  EXPECT_NO_THROW(settings.validate());
}

TEST(NeedleGrid, ParsesListsAndLinspace) {
  EXPECT_EQ(parse_int_list("1000,2000", "--lengths"), (std::vector<int64_t>{1000, 2000}));
  EXPECT_EQ(parse_int_list(" 1000 , 2000 ", "--lengths"), (std::vector<int64_t>{1000, 2000}));
  EXPECT_EQ(parse_int_list("linspace:1000:128000:40", "--lengths"), default_needle_lengths());
  EXPECT_EQ(parse_int_list("linspace:0:10:3", "--lengths"), (std::vector<int64_t>{0, 5, 10}));
  // Half to even, as np.round: 2.5 -> 2, 3.5 -> 4.
  EXPECT_EQ(parse_int_list("linspace:0:5:3", "--lengths"), (std::vector<int64_t>{0, 2, 5}));
  EXPECT_EQ(parse_int_list("linspace:0:7:3", "--lengths"), (std::vector<int64_t>{0, 4, 7}));
  EXPECT_EQ(parse_int_list("linspace:4096:4096:1", "--lengths"), (std::vector<int64_t>{4096}));
  EXPECT_EQ(parse_number_list("12.5,50", "--depths"), (std::vector<double>{12.5, 50}));
  EXPECT_EQ(parse_number_list("linspace:0:100:10", "--depths"), default_needle_depths());
}

TEST(NeedleGrid, ParseErrorsNameTheFlag) {
  EXPECT_EQ(error_of([] { parse_int_list("1000,abc", "--lengths"); }),
            "--lengths: \"abc\" in \"1000,abc\" is not a number");
  EXPECT_EQ(error_of([] { parse_int_list("1000,12.5", "--lengths"); }),
            "--lengths: \"12.5\" in \"1000,12.5\" is not a whole number");
  EXPECT_EQ(error_of([] { parse_int_list("1000,,2000", "--lengths"); }),
            "--lengths: \"\" in \"1000,,2000\" is not a number");
  EXPECT_EQ(error_of([] { parse_number_list("linspace:0:100", "--depths"); }),
            "--depths: \"linspace:0:100\" is not linspace:START:STOP:NUM");
  EXPECT_EQ(error_of([] { parse_number_list("linspace:0:100:0", "--depths"); }),
            "--depths: NUM \"0\" in \"linspace:0:100:0\" is not a count in [1, 100000]");
  EXPECT_EQ(error_of([] { parse_number_list("", "--depths"); }),
            "--depths: \"\" in \"\" is not a number");
  EXPECT_EQ(error_of([] { parse_needle_task("needles"); }), "--task: \"needles\" is not a task");
  EXPECT_EQ(parse_needle_task("multi-needle"), NeedleTask::kMultiNeedle);
  EXPECT_EQ(parse_needle_scorer("rouge1"), NeedleScorer::kRouge1);
}

TEST(NeedleGrid, ValidateNamesTheField) {
  NeedleSettings settings;
  settings.depths_percent = {0, 101};
  EXPECT_EQ(error_of([&] { settings.validate(); }),
            "needle settings: depth 101 is outside [0, 100] percent");
  settings = NeedleSettings{};
  settings.lengths_tokens = {200};
  EXPECT_EQ(error_of([&] { settings.validate(); }),
            "needle settings: length 200 is not above reserve_tokens (200)");
  settings = NeedleSettings{};
  settings.prompt_template = "{question}";
  EXPECT_EQ(error_of([&] { settings.validate(); }),
            "needle settings: prompt_template has 0 {context} fields, expected 1");
}

TEST(NeedleHaystack, RepeatsTheEncodingAndReadsDirectoriesInOrder) {
  std::unique_ptr<Tokenizer> tok = tiny_bpe();
  Haystack haystack = Haystack::from_text("a b c. d e f. g h");
  EXPECT_EQ(haystack.tokens(*tok, 10), kHaystackIds);
  std::vector<int32_t> repeated = haystack.tokens(*tok, 25);
  ASSERT_EQ(repeated.size(), 25u);
  for (size_t i = 0; i < repeated.size(); ++i) EXPECT_EQ(repeated[i], kHaystackIds[i % 10]) << i;
  EXPECT_TRUE(haystack.tokens(*tok, 0).empty());

  testing::TempDir dir;
  testing::write_file(dir.path() / "b.txt", "B");
  testing::write_file(dir.path() / "a.txt", "A\n");
  fs::create_directories(dir.path() / "sub");
  testing::write_file(dir.path() / "sub" / "c.txt", "C");
  EXPECT_EQ(Haystack::from_paths({dir.path()}).text(), "A\nB\nC\n");
  EXPECT_EQ(Haystack::from_paths({dir.path() / "b.txt", dir.path() / "a.txt"}).text(), "B\nA\n");

  fs::create_directories(dir.path() / "empty");
  EXPECT_EQ(error_of([&] { Haystack::from_paths({dir.path() / "empty"}); }),
            "the needle haystack is empty (0 files)");
  EXPECT_EQ(error_of([] { Haystack::from_text(""); }), "the needle haystack is empty");
  EXPECT_NE(error_of([&] {
              Haystack::from_paths({dir.path() / "missing"});
            }).find("not a file or directory"),
            std::string::npos);
}

TEST(NeedleCell, InsertionPointSnapsBackToAPeriod) {
  std::unique_ptr<Tokenizer> tok = tiny_bpe();
  std::vector<int32_t> periods = period_token_ids(*tok);
  EXPECT_EQ(periods, (std::vector<int32_t>{823, kPeriod}));
  // int(10 * 0.5) = 5, token 4 ("d") is no period, token 3 (".") is: 4.
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 50, periods), 4);
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 85, periods), 8);  // int(8.5) = 8, after "."
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 80, periods), 8);  // already after "."
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 79, periods), 4);  // int(7.9) = 7 -> 4
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 20, periods), 0);  // no period before: start
  EXPECT_EQ(needle_insertion_point(kHaystackIds, 0, periods), 0);
}

// A cell whose context is exactly the 10 haystack tokens: length = reserve + needle + 10.
class NeedleCellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = tiny_bpe();
    needle_ids_ = tok_->encode(settings_.needle);
    settings_.reserve_tokens = 5;
  }
  int64_t length_for_context(int64_t context_tokens) const {
    return settings_.reserve_tokens + static_cast<int64_t>(needle_ids_.size()) + context_tokens;
  }
  // context[:at] + needle + context[at:]
  std::vector<int32_t> with_needle_at(std::vector<int32_t> context, int64_t at) const {
    context.insert(context.begin() + at, needle_ids_.begin(), needle_ids_.end());
    return context;
  }
  NeedleSettings settings_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<int32_t> needle_ids_;
  Haystack haystack_ = Haystack::from_text("a b c. d e f. g h");
};

TEST_F(NeedleCellTest, InsertsAfterThePeriodBeforeTheDepth) {
  ASSERT_EQ(needle_ids_.size(), 52u);
  NeedleCell cell = make_needle_cell(settings_, *tok_, haystack_, length_for_context(10), 50);
  EXPECT_EQ(cell.length, length_for_context(10));
  EXPECT_EQ(cell.depth, 50);
  EXPECT_EQ(cell.needle_start, 4);
  EXPECT_EQ(cell.needle_starts, (std::vector<int64_t>{4}));
  EXPECT_EQ(cell.context_ids, with_needle_at(kHaystackIds, 4));
  EXPECT_EQ(cell.expected, "eat a sandwich and sit in Dolores Park on a sunny day.");
  EXPECT_EQ(cell.question, "What is the best thing to do in San Francisco?");

  auto [prefix, suffix] = split_template(settings_);
  EXPECT_EQ(prefix, "<|im_start|> This is a very long story book: <book> ");
  EXPECT_EQ(suffix,
            " </book>.\n Based on the content of the book, Question: What is the best thing to "
            "do in San Francisco?\nAnswer:");
  EXPECT_EQ(cell.prompt, prefix + tok_->decode(cell.context_ids) + suffix);
  // The needle's own ids start with "▁" (SentencePiece's dummy prefix): "c. \nThe best ...".
  EXPECT_EQ(cell.prompt,
            "<|im_start|> This is a very long story book: <book> a b c. \nThe best thing to do in "
            "San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n d e f. g h "
            "</book>.\n Based on the content of the book, Question: What is the best thing to do "
            "in San Francisco?\nAnswer:");
}

TEST_F(NeedleCellTest, DepthZeroAndHundred) {
  NeedleCell top = make_needle_cell(settings_, *tok_, haystack_, length_for_context(10), 0);
  EXPECT_EQ(top.needle_start, 0);
  EXPECT_EQ(top.context_ids, with_needle_at(kHaystackIds, 0));
  NeedleCell end = make_needle_cell(settings_, *tok_, haystack_, length_for_context(10), 100);
  EXPECT_EQ(end.needle_start, 10);  // appended, no snapping ("h" is no period)
  EXPECT_EQ(end.context_ids, with_needle_at(kHaystackIds, 10));
}

TEST_F(NeedleCellTest, TruncatesTheRepeatedHaystackToTheBudget) {
  // Context of 25 tokens: [a..h a..h a b c . d]; int(25 * 0.5) = 12 -> back to 8 (after ".").
  std::vector<int32_t> context;
  for (int i = 0; i < 25; ++i) context.push_back(kHaystackIds[static_cast<size_t>(i % 10)]);
  NeedleCell cell = make_needle_cell(settings_, *tok_, haystack_, length_for_context(25), 50);
  EXPECT_EQ(cell.context_ids.size(), static_cast<size_t>(cell.length - settings_.reserve_tokens));
  EXPECT_EQ(cell.needle_start, 8);
  EXPECT_EQ(cell.context_ids, with_needle_at(context, 8));

  EXPECT_EQ(error_of([&] { make_needle_cell(settings_, *tok_, haystack_, 57, 50); }),
            "needle cell: length 57 leaves 52 tokens after reserving 5, too few for the needle "
            "(52 tokens) and any haystack");
}

TEST_F(NeedleCellTest, PaperDefaultsOnARealLength) {
  settings_ = NeedleSettings{};
  Haystack essays = Haystack::from_text("One sentence here. Another one follows, longer. End.\n");
  for (double depth : settings_.depths_percent) {
    NeedleCell cell = make_needle_cell(settings_, *tok_, essays, 1000, depth);
    ASSERT_EQ(cell.context_ids.size(), 800u);
    ASSERT_TRUE(std::equal(needle_ids_.begin(), needle_ids_.end(),
                           cell.context_ids.begin() + cell.needle_start));
    if (depth > 0 && depth < 100) {
      EXPECT_EQ(cell.context_ids[cell.needle_start - 1], kPeriod);
    }
    EXPECT_LE(cell.needle_start, static_cast<int64_t>(748 * depth / 100));
  }
}

TEST_F(NeedleCellTest, PasskeyAndMultiNeedle) {
  settings_.task = NeedleTask::kPasskey;
  NeedleCell cell = make_needle_cell(settings_, *tok_, haystack_, 500, 40);
  ASSERT_EQ(cell.expected.size(), 5u);
  EXPECT_TRUE(std::all_of(cell.expected.begin(), cell.expected.end(), ::isdigit));
  std::string hidden =
      "The pass key is " + cell.expected + ". Remember it. " + cell.expected + " is the pass key.";
  EXPECT_NE(cell.prompt.find(hidden), std::string::npos);
  EXPECT_EQ(cell.prompt.find("a b c."), std::string::npos);  // the haystack is not used
  EXPECT_NE(cell.prompt.find("Question: What is the pass key?\nAnswer:"), std::string::npos);
  EXPECT_EQ(make_needle_cell(settings_, *tok_, haystack_, 500, 40).expected, cell.expected);
  settings_.seed = 1;
  EXPECT_NE(make_needle_cell(settings_, *tok_, haystack_, 500, 40).expected, cell.expected);

  settings_.task = NeedleTask::kMultiNeedle;
  NeedleCell multi = make_needle_cell(settings_, *tok_, haystack_, 1000, 10);
  ASSERT_EQ(multi.needle_starts.size(), 3u);
  EXPECT_TRUE(std::is_sorted(multi.needle_starts.begin(), multi.needle_starts.end()));
  EXPECT_EQ(multi.expected.size(), 7u);
  EXPECT_NE(multi.prompt.find(" is " + multi.expected + ".\n"), std::string::npos);
  EXPECT_EQ(multi.question.rfind("What is the special magic number for ", 0), 0u);
  settings_.multi_needle_question = MultiNeedleQuestion::kAllKeys;
  NeedleCell all = make_needle_cell(settings_, *tok_, haystack_, 1000, 10);
  EXPECT_EQ(all.expected.size(), 3 * 7 + 2u);
  EXPECT_EQ(all.question.rfind("What are the special magic numbers for ", 0), 0u);
}

TEST(NeedleScores, PaperScorerTopsOutAtElevenTwelfths) {
  const std::string answer = "eat a sandwich and sit in Dolores Park on a sunny day.";
  NeedleScores exact = score_response(answer, answer);
  EXPECT_DOUBLE_EQ(exact.paper, 11.0 / 12.0);
  EXPECT_DOUBLE_EQ(exact.recall, 1.0);
  EXPECT_DOUBLE_EQ(exact.exact, 1.0);
  EXPECT_DOUBLE_EQ(exact.rouge1, 1.0);

  // {eat, a} of {eat, a, sandwich, ..., day.}; rouge1: p = 3/3, r = 3/12, F1 = 0.4.
  NeedleScores partial = score_response("Eat a sandwich.", answer);
  EXPECT_DOUBLE_EQ(partial.paper, 2.0 / 12.0);
  EXPECT_DOUBLE_EQ(partial.recall, 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(partial.exact, 0.0);
  EXPECT_DOUBLE_EQ(partial.rouge1, 0.4);

  // No final period: "day" != "day.", 10 words; exact ignores the period; rouge1 p = 12/17.
  NeedleScores upper = score_response(
      "The best thing is to EAT A SANDWICH AND SIT IN DOLORES PARK ON A SUNNY DAY", answer);
  EXPECT_DOUBLE_EQ(upper.paper, 10.0 / 12.0);
  EXPECT_DOUBLE_EQ(upper.recall, 10.0 / 11.0);
  EXPECT_DOUBLE_EQ(upper.exact, 1.0);
  EXPECT_DOUBLE_EQ(upper.rouge1, 24.0 / 29.0);

  NeedleScores none = score_response("", answer);
  EXPECT_EQ(none.paper + none.recall + none.exact + none.rouge1, 0.0);
}

TEST(NeedleResults, JsonRoundTripAndAcc) {
  NeedleResult a{.length = 4256,
                 .depth = 11,
                 .prompt_tokens = 4080,
                 .response = "eat a sandwich\n\"quoted\" \xff",
                 .scores = {.paper = 2.0 / 12, .recall = 2.0 / 11, .exact = 0, .rouge1 = 0.4},
                 .seconds = 1.25};
  NeedleResult b{.length = 1000, .depth = 100, .error = "out of memory"};
  std::string line = needle_result_json(a);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  NeedleResult back = parse_needle_result(line, "x:1");
  EXPECT_EQ(back.length, 4256);
  EXPECT_EQ(back.depth, 11);
  EXPECT_EQ(back.prompt_tokens, 4080);
  EXPECT_EQ(back.response, "eat a sandwich\n\"quoted\" \xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(back.scores.paper, 2.0 / 12);  // doubles round-trip exactly
  EXPECT_EQ(back.scores.recall, 2.0 / 11);
  EXPECT_EQ(back.scores.rouge1, 0.4);
  EXPECT_EQ(back.seconds, 1.25);
  EXPECT_EQ(back.error, "");

  testing::TempDir dir;
  fs::path path = dir.path() / "needle.jsonl";
  testing::write_file(path, line + "\n\n" + needle_result_json(b) + "\n{\"length\": 5}\n");
  EXPECT_EQ(error_of([&] { read_results(path); }), path.string() + ":4: missing \"depth\"");
  std::vector<std::string> skipped;
  std::vector<NeedleResult> results = read_results(path, BadLines::kSkip, &skipped);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].error, "out of memory");
  EXPECT_EQ(skipped, (std::vector<std::string>{path.string() + ":4: missing \"depth\""}));
  EXPECT_EQ(error_of([] { parse_needle_result("{\"length\": 1.5}", "f:2"); }),
            "f:2: \"length\" is 1.5, expected a whole number");
  EXPECT_EQ(error_of([] { parse_needle_result("nope", "f:3"); }), "f:3: not valid JSON");

  EXPECT_DOUBLE_EQ(acc(results, NeedleScorer::kPaper), 100.0 * (2.0 / 12) / 2);
  EXPECT_DOUBLE_EQ(acc(results, NeedleScorer::kRouge1), 20.0);
  EXPECT_EQ(error_of([] { acc({}, NeedleScorer::kPaper); }), "needle acc: no results to average");
}

TEST(NeedleResults, LatestPerCellKeepsTheLastLineOfACellInFirstOrder) {
  std::vector<NeedleResult> lines = {{.length = 1000, .depth = 0, .error = "timeout"},
                                     {.length = 1000, .depth = 50, .response = "a"},
                                     {.length = 2000, .depth = 0, .response = "b"},
                                     {.length = 1000, .depth = 0, .response = "again"}};
  std::vector<NeedleResult> cells = latest_per_cell(lines);
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].length, 1000);
  EXPECT_EQ(cells[0].depth, 0);
  EXPECT_EQ(cells[0].response, "again");
  EXPECT_EQ(cells[0].error, "");
  EXPECT_EQ(cells[1].response, "a");
  EXPECT_EQ(cells[2].response, "b");
}

}  // namespace
}  // namespace longctx
