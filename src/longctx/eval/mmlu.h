// MMLU as lm-evaluation-harness's default `mmlu` task scores it (RECIPE.md section 4): the
// prompt, the subjects' categories, predictions, accuracy and the results file. The data
// readers are in mmlu_data.h; the loop over a backend is run_mmlu().
//
// A prompt (5-shot by default: the first --shots questions of the subject's dev split):
//
//   The following are multiple choice questions (with answers) about high school biology.
//
//   {dev question 1, stripped}
//   A. {choice}
//   B. {choice}
//   C. {choice}
//   D. {choice}
//   Answer: B
//
//   ... (each example followed by a blank line) ...
//   {test question, stripped}
//   A. ...
//   D. {choice}
//   Answer:
//
// and the continuations " A", " B", " C", " D" are scored by their summed log-likelihood
// (loglikelihood.h gives the tokenization rule); the prediction is the argmax (the first on a
// tie). Accuracy is micro-averaged over questions, overall and within each category (the
// harness's group scores weight subjects by size).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longctx/tokenizer/tokenizer.h"
#include "longctx/eval/loglikelihood.h"

namespace longctx {

// lm-evaluation-harness's four groups of the 57 subjects.
enum class MmluCategory { kStem, kHumanities, kSocialSciences, kOther };
inline constexpr std::array<MmluCategory, 4> kMmluCategories{
    MmluCategory::kStem, MmluCategory::kHumanities, MmluCategory::kSocialSciences,
    MmluCategory::kOther};
std::string_view mmlu_category_name(MmluCategory category);  // "stem", "humanities", ...
// The category of one of the 57 subjects (as the files name them: "high_school_biology"), or
// nothing for a subject outside the benchmark.
std::optional<MmluCategory> mmlu_category(std::string_view subject);
// The 57 subjects, alphabetically.
std::vector<std::string> mmlu_subjects();

struct MmluQuestion {
  std::string subject;  // "high_school_biology"
  int64_t index = 0;    // 0-based, in file order within its subject and split
  std::string question;
  std::array<std::string, 4> choices;
  int answer = 0;    // 0..3 (A..D)
  std::string file;  // where it was read, for messages
  uint64_t line = 0;
};

// "The following are multiple choice questions (with answers) about high school biology.\n\n"
std::string mmlu_description(std::string_view subject);
// "{question stripped}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:" (only the question is stripped,
// of Python's white space at both ends).
std::string mmlu_question_text(const MmluQuestion& question);
// The description, then each shot's text, " ", its answer letter and "\n\n".
std::string mmlu_fewshot_prefix(std::string_view subject, std::span<const MmluQuestion> shots);
// " A", " B", " C", " D".
std::vector<std::string> mmlu_continuations();

struct MmluResult {
  std::string subject;
  int64_t index = 0;
  std::array<double, 4> loglikelihoods{};  // nats; 0 when the question failed
  int prediction = -1;                     // argmax; -1 when it failed
  int answer = 0;
  int64_t context_tokens = 0;
  std::string error;  // empty when scored
};

// One JSON line, no newline:
//   {"subject":"anatomy","index":3,"loglikelihoods":[-1.2,-0.4,-2.0,-3.1],"prediction":1,
//    "answer":1,"correct":true,"context_tokens":612,"error":""}
std::string mmlu_result_json(const MmluResult& result);
// Throws Error prefixed with `where` ("results.jsonl:7") on a malformed line.
MmluResult parse_mmlu_result(std::string_view line, std::string_view where);

struct MmluSettings {
  int shots = 5;
  std::vector<std::string> subjects;  // empty: every subject of the test split
  int64_t limit = 0;                  // > 0: the first `limit` test questions of each subject
  void validate() const;              // throws Error naming the field
};

// Test questions by subject (sorted by name); the dev split gives the shots.
struct MmluSplits {
  std::map<std::string, std::vector<MmluQuestion>> dev, test;
};

// Runs every selected test question whose (subject, index) is not in `done`: one subject at a
// time, its few-shot prefix built once and its requests given to the backend in one call.
// `record` gets each result as it is scored. Throws Error when a subject has fewer dev
// questions than `shots`, or a --subjects entry is not in the test split.
void run_mmlu(const MmluSplits& splits, const Tokenizer& tokenizer, const MmluSettings& settings,
              LoglikelihoodBackend& backend, const std::set<std::pair<std::string, int64_t>>& done,
              const std::function<void(const MmluResult&)>& record);

struct MmluScore {
  int64_t questions = 0, correct = 0, failed = 0;
  double accuracy() const {
    return questions ? static_cast<double>(correct) / static_cast<double>(questions) : 0.0;
  }
};
struct MmluSummary {
  MmluScore overall;
  std::map<std::string, MmluScore> subjects;
  std::map<std::string, MmluScore> categories;  // by mmlu_category_name; known subjects only
};
// Counts each (subject, index) once, by its last line (a failed question run again counts by
// its rerun). A failed question counts as a question answered wrongly.
MmluSummary summarize_mmlu(std::span<const MmluResult> results);
// {"accuracy": 0.453, "questions": 14042, "correct": .., "failed": .., "categories": {"stem":
//  {"accuracy", "questions", "correct", "failed"}, ...}, "subjects": {...}}
nlohmann::json mmlu_summary_json(const MmluSummary& summary);

}  // namespace longctx
