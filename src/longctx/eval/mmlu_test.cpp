// MMLU's prompt, the harness's tokenization rule, the categories, the loop over a backend and
// the summary. Expected prompts and ids are written out by hand.
#include "longctx/eval/mmlu.h"

#include <gtest/gtest.h>

#include <map>

#include "longctx/base/error.h"
#include "support/eval_test_support.h"
#include "longctx/eval/loglikelihood.h"

namespace longctx {
namespace {

using test::ByteTokenizer;

MmluQuestion question(std::string subject, int64_t index, std::string text,
                      std::array<std::string, 4> choices, int answer) {
  MmluQuestion q;
  q.subject = std::move(subject);
  q.index = index;
  q.question = std::move(text);
  q.choices = std::move(choices);
  q.answer = answer;
  return q;
}

TEST(Mmlu, APromptIsTheHarnessesDefaultTemplateLetterForLetter) {
  std::vector<MmluQuestion> dev = {
      question("high_school_biology", 0, "  Which organelle makes ATP?\n",
               {"Nucleus", "Mitochondrion", "Ribosome", "Golgi body"}, 1),
      question("high_school_biology", 1, "DNA is made of",
               {"amino acids", "nucleotides", "lipids", " sugars only"}, 1)};
  MmluQuestion test = question("high_school_biology", 0, "What carries oxygen in blood? ",
                               {"Plasma", "Platelets", "Hemoglobin", "Water"}, 2);
  std::string prompt = mmlu_fewshot_prefix("high_school_biology", dev) + mmlu_question_text(test);
  EXPECT_EQ(prompt,
            "The following are multiple choice questions (with answers) about high school "
            "biology.\n\n"
            "Which organelle makes ATP?\n"
            "A. Nucleus\n"
            "B. Mitochondrion\n"
            "C. Ribosome\n"
            "D. Golgi body\n"
            "Answer: B\n\n"
            "DNA is made of\n"
            "A. amino acids\n"
            "B. nucleotides\n"
            "C. lipids\n"
            "D.  sugars only\n"
            "Answer: B\n\n"
            "What carries oxygen in blood?\n"
            "A. Plasma\n"
            "B. Platelets\n"
            "C. Hemoglobin\n"
            "D. Water\n"
            "Answer:");
  EXPECT_EQ(mmlu_fewshot_prefix("anatomy", {}),
            "The following are multiple choice questions (with answers) about anatomy.\n\n");
}

TEST(Mmlu, ContinuationTokensAreThoseOfTheWholeTextBeyondTheContext) {
  ByteTokenizer merging;  // " A" is one id, 300 + 'A'
  std::vector<std::string> conts = {" A", " B"};
  LoglikelihoodRequest r = make_loglikelihood_request(merging, "Q:", conts);
  EXPECT_EQ(r.context, (std::vector<int32_t>{1, 'Q' + 3, ':' + 3}));
  EXPECT_EQ(r.continuations, (std::vector<std::vector<int32_t>>{{300 + 'A'}, {300 + 'B'}}));
  // A space at the end of the context moves to the continuation, so " A" still merges.
  LoglikelihoodRequest spaced =
      make_loglikelihood_request(merging, "Q: ", std::vector<std::string>{"A"});
  EXPECT_EQ(spaced.context, (std::vector<int32_t>{1, 'Q' + 3, ':' + 3}));
  EXPECT_EQ(spaced.continuations, (std::vector<std::vector<int32_t>>{{300 + 'A'}}));
  // Without merging, " A" is two ids: a multi-token continuation.
  ByteTokenizer bytes(false);
  LoglikelihoodRequest two = make_loglikelihood_request(bytes, "Q:", conts);
  EXPECT_EQ(two.continuations[0], (std::vector<int32_t>{' ' + 3, 'A' + 3}));
  // Tokens that merge across the boundary: the context ids are the context's own, the
  // continuation whatever the whole text has beyond their count. "x " + "Ab": the whole is
  // [x, " A", b], the context [x] (its space moved), so the continuation is [" A", b].
  LoglikelihoodRequest across =
      make_loglikelihood_request(merging, "x ", std::vector<std::string>{"Ab"});
  EXPECT_EQ(across.context, (std::vector<int32_t>{1, 'x' + 3}));
  EXPECT_EQ(across.continuations[0], (std::vector<int32_t>{300 + 'A', 'b' + 3}));
  EXPECT_THROW(make_loglikelihood_request(merging, "", conts), Error);
  EXPECT_THROW(make_loglikelihood_request(merging, "Q:", std::vector<std::string>{""}), Error);
}

TEST(Mmlu, FiftySevenSubjectsInTheHarnessesFourGroups) {
  std::map<std::string, int> per_category;
  for (const std::string& s : mmlu_subjects())
    ++per_category[std::string(mmlu_category_name(*mmlu_category(s)))];
  EXPECT_EQ(mmlu_subjects().size(), 57u);
  EXPECT_EQ(per_category["stem"], 19);
  EXPECT_EQ(per_category["humanities"], 13);
  EXPECT_EQ(per_category["social_sciences"], 12);
  EXPECT_EQ(per_category["other"], 13);
  EXPECT_EQ(*mmlu_category("high_school_us_history"), MmluCategory::kHumanities);
  EXPECT_EQ(*mmlu_category("econometrics"), MmluCategory::kSocialSciences);
  EXPECT_EQ(*mmlu_category("college_medicine"), MmluCategory::kOther);
  EXPECT_EQ(*mmlu_category("computer_security"), MmluCategory::kStem);
  EXPECT_FALSE(mmlu_category("cooking").has_value());
}

// A backend that answers from a table: the log-likelihoods it was told for each context's
// last id, and the requests it saw.
class TableBackend : public LoglikelihoodBackend {
 public:
  void score(std::span<const LoglikelihoodRequest> requests,
             const LoglikelihoodDone& done) override {
    calls.emplace_back(requests.begin(), requests.end());
    for (size_t i = 0; i < requests.size(); ++i) {
      LoglikelihoodResult r;
      if (fail_every > 0 && ++seen % fail_every == 0) {
        r.error = "injected";
      } else {
        // Prefer the choice whose letter id equals the context's length mod 4, a fixed rule.
        size_t best = requests[i].context.size() % 4;
        for (size_t c = 0; c < 4; ++c) r.loglikelihoods.push_back(c == best ? -0.5 : -2.0);
      }
      done(i, r);
    }
  }
  std::vector<std::vector<LoglikelihoodRequest>> calls;
  int fail_every = 0, seen = 0;
};

MmluSplits splits() {
  MmluSplits s;
  for (const char* subject : {"anatomy", "sociology"}) {
    for (int i = 0; i < 2; ++i)
      s.dev[subject].push_back(
          question(subject, i, "dev q" + std::to_string(i), {"a", "b", "c", "d"}, i));
    for (int i = 0; i < 3; ++i)
      s.test[subject].push_back(question(subject, i, "test question " + std::string(i + 1, '?'),
                                         {"w", "x", "y", "z"}, i));
  }
  return s;
}

TEST(Mmlu, RunScoresEachSubjectInOneCallAndSkipsWhatIsDone) {
  ByteTokenizer tok;
  TableBackend backend;
  std::vector<MmluResult> results;
  run_mmlu(splits(), tok, {.shots = 2, .subjects = {}, .limit = 0}, backend, {{"anatomy", 1}},
           [&](const MmluResult& r) { results.push_back(r); });
  ASSERT_EQ(backend.calls.size(), 2u);
  EXPECT_EQ(backend.calls[0].size(), 2u);  // anatomy 1 was done
  EXPECT_EQ(backend.calls[1].size(), 3u);
  ASSERT_EQ(results.size(), 5u);
  // The context is the prompt's ids with BOS; the prediction follows the table's rule.
  std::string prompt = mmlu_fewshot_prefix("anatomy", splits().dev["anatomy"]) +
                       mmlu_question_text(splits().test["anatomy"][0]);
  EXPECT_EQ(backend.calls[0][0].context, test::byte_ids(prompt));
  for (const MmluResult& r : results) {
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.prediction, static_cast<int>(r.context_tokens % 4));
  }
  // Each question's context is longer by one "?" than the one before it in its subject.
  EXPECT_EQ(results[1].context_tokens, results[0].context_tokens + 2);
}

TEST(Mmlu, ShotsBeyondTheDevSplitAndUnknownSubjectsAreErrors) {
  ByteTokenizer tok;
  TableBackend backend;
  auto ignore = [](const MmluResult&) {};
  EXPECT_THROW(
      run_mmlu(splits(), tok, {.shots = 3, .subjects = {}, .limit = 0}, backend, {}, ignore),
      Error);
  EXPECT_THROW(run_mmlu(splits(), tok, {.shots = 0, .subjects = {"cooking"}, .limit = 0}, backend,
                        {}, ignore),
               Error);
  EXPECT_THROW((MmluSettings{.shots = -1, .subjects = {}, .limit = 0}.validate()), Error);
}

TEST(Mmlu, SummaryIsMicroAveragedAndCountsEachQuestionByItsLastLine) {
  auto result = [](std::string subject, int64_t index, int prediction, int answer,
                   std::string error = "") {
    MmluResult r;
    r.subject = std::move(subject);
    r.index = index;
    r.prediction = prediction;
    r.answer = answer;
    r.error = std::move(error);
    return r;
  };
  std::vector<MmluResult> results = {
      result("anatomy", 0, 1, 1),
      result("anatomy", 1, 2, 1),
      result("anatomy", 2, -1, 0, "HTTP 500"),  // failed, then run again below
      result("sociology", 0, 3, 3),
      result("anatomy", 2, 0, 0),
      result("cooking", 0, 0, 0)};
  MmluSummary s = summarize_mmlu(results);
  EXPECT_EQ(s.overall.questions, 5);
  EXPECT_EQ(s.overall.correct, 4);
  EXPECT_EQ(s.overall.failed, 0);
  EXPECT_EQ(s.subjects["anatomy"].correct, 2);
  EXPECT_EQ(s.categories["stem"].questions, 3);             // anatomy
  EXPECT_EQ(s.categories["social_sciences"].questions, 1);  // sociology
  EXPECT_EQ(s.categories.count("other"), 0u);               // "cooking" has none
  nlohmann::json j = mmlu_summary_json(s);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(j["categories"]["stem"]["accuracy"].get<double>(), 2.0 / 3.0);
  std::vector<MmluResult> failed = {result("anatomy", 0, -1, 0, "HTTP 500")};
  EXPECT_EQ(summarize_mmlu(failed).overall.failed, 1);
  EXPECT_EQ(summarize_mmlu(failed).overall.correct, 0);
}

TEST(Mmlu, AResultLineRoundTrips) {
  MmluResult r;
  r.subject = "anatomy";
  r.index = 7;
  r.loglikelihoods = {-1.25, -0.5, -3, -4};
  r.prediction = 1;
  r.answer = 2;
  r.context_tokens = 612;
  std::string line = mmlu_result_json(r);
  EXPECT_EQ(line,
            "{\"answer\":2,\"context_tokens\":612,\"correct\":false,\"error\":\"\",\"index\":7,"
            "\"loglikelihoods\":[-1.25,-0.5,-3.0,-4.0],\"prediction\":1,\"subject\":\"anatomy\"}");
  MmluResult back = parse_mmlu_result(line, "r.jsonl:1");
  EXPECT_EQ(back.subject, "anatomy");
  EXPECT_EQ(back.loglikelihoods, r.loglikelihoods);
  EXPECT_THROW(parse_mmlu_result("{\"subject\":1}", "r.jsonl:2"), Error);
}

}  // namespace
}  // namespace longctx
