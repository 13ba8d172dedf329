// Book QA as the paper runs it (RECIPE.md section 4, Table 4): InfiniteBench's En.QA
// (`longbook_qa_eng.jsonl`: {"id", "context", "input", "answer": [..], "options": []} per
// line), one prompt per question,
//
//   <|im_start|>Read the book below and answer a question.\n\n{context}\n\nQuestion: {question}
//   \n\nAnswer:
//
// (`<|im_start|>` is plain text for LLaMA-2), tokenized whole with BOS first and cut in the
// middle to --truncate tokens (the first and last halves kept), greedy 40 new tokens, scored
// by the paper's recall and InfiniteBench's F1 (qa_scoring.h).
//
//   BookQaData data = read_bookqa("longbook_qa_eng.jsonl");
//   BookQaPrompt p = make_bookqa_prompt(tokenizer, kBookQaTemplate, data.examples[0], 128000);
//   BookQaScores s = score_bookqa(response, data.examples[0].answers);
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/tokenizer/tokenizer.h"
#include "longctx/eval/skipped_records.h"

namespace longctx {

inline constexpr std::string_view kBookQaTemplate =
    "<|im_start|>Read the book below and answer a question.\n\n{context}\n\nQuestion: "
    "{question}\n\nAnswer:";

struct BookQaExample {
  int64_t index = 0;     // 0-based record number in the file (blank lines not counted)
  nlohmann::json id;     // the record's "id", as given (null when absent)
  std::string context;   // the book
  std::string question;  // the record's "input"
  std::vector<std::string> answers;
  std::string file;
  uint64_t line = 0;
};

struct BookQaData {
  std::vector<BookQaExample> examples;
  SkippedRecords skipped;
};

// Every line of a JSON-lines file. A line that is not JSON, or lacks a string `context` or
// `input`, or whose `answer` is neither a string nor a non-empty list of strings, is skipped
// and counted (FILE:LINE). Throws Error when the file cannot be read.
BookQaData read_bookqa(const std::filesystem::path& file);

// Throws Error unless `tmpl` holds {context} exactly once ({question}: any number of times).
void validate_bookqa_template(std::string_view tmpl);
// The template with {context} and {question} filled in one pass (text inside the book is never
// taken for a placeholder).
std::string bookqa_prompt_text(std::string_view tmpl, const BookQaExample& example);

// The paper's truncation: ids longer than max_tokens become their first max_tokens / 2 and
// last max_tokens / 2 ids (so an odd max_tokens keeps max_tokens - 1); shorter ids are kept.
//   middle_truncate([0 1 2 3 4 5 6], 4) == [0 1 5 6]
std::vector<int32_t> middle_truncate(std::span<const int32_t> ids, int64_t max_tokens);

struct BookQaPrompt {
  std::vector<int32_t> ids;  // BOS first, truncated; what our model reads
  std::string text;          // decode(ids without the BOS): what a served model is sent
  int64_t full_tokens = 0;   // before truncation
  bool truncated = false;
};
// [BOS] + encode(prompt text), middle-truncated to `truncate_tokens` (0: never).
BookQaPrompt make_bookqa_prompt(const Tokenizer& tokenizer, std::string_view tmpl,
                                const BookQaExample& example, int64_t truncate_tokens);

struct BookQaScores {
  double recall = 0;  // the paper's, against the first answer
  double f1 = 0;      // InfiniteBench's, the best over the answers
};
BookQaScores score_bookqa(std::string_view prediction, std::span<const std::string> answers);

// One example's outcome: one JSON line of results.jsonl.
struct BookQaResult {
  int64_t index = 0;
  nlohmann::json id;
  int64_t prompt_tokens = 0;  // as read by the model, after truncation
  int64_t full_tokens = 0;    // before truncation
  std::string prediction;
  std::vector<std::string> answers;
  BookQaScores scores;
  double seconds = 0;
  std::string error;  // empty when it ran
};
// {"index":0,"id":0,"prompt_tokens":128000,"full_tokens":201455,"prediction":"...",
//  "answers":["..."],"recall":0.5,"f1":0.4,"seconds":12.5,"error":""}
std::string bookqa_result_json(const BookQaResult& result);
BookQaResult parse_bookqa_result(std::string_view line, std::string_view where);

struct BookQaSummary {
  int64_t examples = 0, failed = 0, truncated = 0;
  double recall = 0, f1 = 0;  // means over every example (failed ones count 0), x 100
};
// Each index counted once, by its last line.
BookQaSummary summarize_bookqa(std::span<const BookQaResult> results);
nlohmann::json bookqa_summary_json(const BookQaSummary& summary);

}  // namespace longctx
