// Needle in a haystack (docs/RECIPE.md section 4, issue 7): the grid, the prompts and the
// scorers of `longctx needle`, with no libtorch. A cell hides a needle sentence at a depth
// (percent) of a haystack context cut to a length (tokens); the model answers a question
// about it and the response is scored. Cells are built exactly as the reference does
// (gkamradt's LLMTest_NeedleInAHaystack, as used by the paper's eval): see make_needle_cell().
//
//   NeedleSettings settings;                                  // the paper's 40 x 10 grid
//   Haystack haystack = Haystack::from_paths({"PaulGrahamEssays/"});
//   NeedleCell cell = make_needle_cell(settings, *tokenizer, haystack, 4256, 11);
//   std::string response = model.generate(cell.prompt, settings.max_new_tokens);
//   NeedleScores scores = score_response(response, cell.expected);   // scores.paper <= 11/12
//
// Results are one JSON line per cell (NeedleResult), so heatmaps are redrawn from the data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

// What is hidden and asked (--task).
//   kNeedle:      the paper's needle sentence in the haystack.
//   kPasskey:     "The pass key is 12345. Remember it. 12345 is the pass key." in a filler of
//                 repeated "The grass is green. ..." sentences (the haystack is not used);
//                 the 5-digit key is drawn per cell from (seed, length, depth).
//   kMultiNeedle: multi_needle_count needles "The special magic number for KEY is VALUE." in
//                 the haystack at depths d, d + (100-d)/K, d + 2(100-d)/K, ... for the cell's
//                 depth d; keys (words) and 7-digit values are drawn per cell like the pass
//                 key. The question asks for one key's value, or for all of them in needle
//                 order (MultiNeedleQuestion::kAllKeys), the answer then being the values
//                 separated by spaces.
enum class NeedleTask { kNeedle, kPasskey, kMultiNeedle };
enum class MultiNeedleQuestion { kOneKey, kAllKeys };

// "needle", "passkey", "multi-needle".
std::string_view needle_task_name(NeedleTask task);
// Inverse of needle_task_name(); throws Error naming --task and the accepted names.
NeedleTask parse_needle_task(std::string_view text);

// round(np.linspace(1000, 128000, 40)): 1000, 4256, 7513, ..., 124744, 128000 tokens.
std::vector<int64_t> default_needle_lengths();
// round(np.linspace(0, 100, 10)): 0, 11, 22, 33, 44, 56, 67, 78, 89, 100 percent.
std::vector<double> default_needle_depths();

// Lists given on the command line: "1000,2000,4000" or "linspace:START:STOP:NUM", which is
// round(np.linspace(START, STOP, NUM)) with numpy's arithmetic (START + i * step, the last
// value exactly STOP) and rounding (half to even), as the paper builds its grid. Errors name
// `flag` (e.g. "--lengths") and the offending item. parse_int_list() takes whole numbers only
// (in a plain list); parse_number_list() takes decimals ("12.5") too.
std::vector<int64_t> parse_int_list(std::string_view text, std::string_view flag);
std::vector<double> parse_number_list(std::string_view text, std::string_view flag);

struct NeedleSettings {
  std::vector<int64_t> lengths_tokens = default_needle_lengths();  // grid x: context lengths
  std::vector<double> depths_percent = default_needle_depths();    // grid y: 0 = start
  std::string needle =
      "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a "
      "sunny day.\n";
  std::string question = "What is the best thing to do in San Francisco?";
  std::string answer = "eat a sandwich and sit in Dolores Park on a sunny day.";
  // {context} appears exactly once; {question} any number of times. `<|im_start|>` is plain
  // text for LLaMA-2, as in the paper.
  std::string prompt_template =
      "<|im_start|> This is a very long story book: <book> {context} </book>.\n Based on the "
      "content of the book, Question: {question}\nAnswer:";
  int64_t reserve_tokens = 200;  // of each length, kept for the prompt, question and answer
  int64_t max_new_tokens = 50;   // greedy decoding
  NeedleTask task = NeedleTask::kNeedle;
  int multi_needle_count = 3;  // K, kMultiNeedle only
  MultiNeedleQuestion multi_needle_question = MultiNeedleQuestion::kOneKey;
  uint64_t seed = 0;  // pass keys and magic numbers

  // Throws Error naming the bad field and value (empty grid, length <= reserve_tokens, depth
  // outside [0, 100], a template without exactly one {context}, ...).
  void validate() const;
};

// The resolved settings, written next to the results.
nlohmann::json needle_settings_json(const NeedleSettings& settings);

// The text the needle is hidden in: one file, or every regular file under a directory
// (recursively, sorted by path), concatenated in that order as the reference does
// (`context += f.read()`), except that a newline is added after a file that does not end with
// one, so that the last word of a file never runs into the next file's first word.
class Haystack {
 public:
  // Throws Error when `text` is empty.
  static Haystack from_text(std::string text);
  // Files and directories, in the order given. Throws Error naming a path that cannot be read,
  // or when the files hold no text at all.
  static Haystack from_paths(const std::vector<std::filesystem::path>& paths);

  const std::string& text() const { return text_; }
  // The first `n` tokens of the text, encoded once (no BOS) and repeated as often as needed:
  // text "a b." with ids [5 6 7] and n = 7 -> [5 6 7 5 6 7 5]. The encoding is cached for the
  // tokenizer last used (thread-safe). Throws Error if the text encodes to no tokens.
  std::vector<int32_t> tokens(const Tokenizer& tokenizer, int64_t n) const;

 private:
  struct Cache;
  explicit Haystack(std::string text);
  std::string text_;
  std::shared_ptr<Cache> cache_;
};

// One cell of the grid, ready for a model.
struct NeedleCell {
  int64_t length = 0;                  // tokens, the grid's x
  double depth = 0;                    // percent, the grid's y
  std::vector<int32_t> context_ids;    // haystack with the needle(s), no BOS
  int64_t needle_start = 0;            // index in context_ids of the (first) needle's first id
  std::vector<int64_t> needle_starts;  // every needle's start, in context order
  std::string question;                // as put in the prompt
  std::string prompt;                  // template with decode(context_ids) and the question
  std::string expected;                // the answer the scorers compare with
};

// Ids of encode(".") (no BOS): where a needle may be inserted after. For SentencePiece models
// this is e.g. ["▁."] or ["▁", "."], exactly as the reference does it.
std::vector<int32_t> period_token_ids(const Tokenizer& tokenizer);

// The reference's insertion point for depth < 100: start at int(len(context) * depth / 100)
// and walk back while the token before it is not a period token (to 0 at worst).
//   context "a b c. d e f. g h" as [a b c . d e f . g h], depth 50: 5 -> 4 (after the first ".")
int64_t needle_insertion_point(std::span<const int32_t> context_ids, double depth_percent,
                               std::span<const int32_t> period_ids);

// Builds one cell as the reference does:
//   budget = length - reserve_tokens; needle_ids = encode(needle)  (no BOS)
//   context = haystack.tokens(budget - len(needle_ids))  (the reference cuts its context to
//             that when context + needle would exceed the budget, which it always does)
//   depth 100: context + needle; else context[:p] + needle + context[p:] with
//             p = needle_insertion_point(context, depth)
//   prompt = template with {context} = decode(context + needle), {question} = question.
// For kMultiNeedle every insertion point is taken in the same (needle-free) context and the
// needles go in together. Throws Error when the budget cannot hold the needle(s).
NeedleCell make_needle_cell(const NeedleSettings& settings, const Tokenizer& tokenizer,
                            const Haystack& haystack, int64_t length_tokens, double depth_percent);

// The template around {context}, with {question} filled in, so that a native backend can
// tokenize encode(prefix) + context_ids + encode(suffix) without re-encoding the context
// (which may tokenize differently from context_ids at the seams).
//   "A {context} B {question}" with question "Q?" -> {"A ", " B Q?"}
std::pair<std::string, std::string> split_template(const NeedleSettings& settings);
// The same with the cell's own question (the pass key and multi-needle tasks ask their own).
std::pair<std::string, std::string> split_template(const NeedleSettings& settings,
                                                   std::string_view question);

// Scores of one response against the expected answer. Words are split on ASCII whitespace and
// lowercased (ASCII), as Python's str.split()/lower() do on ASCII text.
//   paper:  |set(response words) ∩ set(answer words)| / 12, exactly the paper's scorer,
//           punctuation included ("day." != "day"): the default answer has 11 distinct words,
//           so a perfect response scores 11/12 = 0.917.
//   recall: the same intersection / the number of distinct answer words (1.0 when perfect).
//   exact:  1 if the answer, trimmed and without a final '.', is a substring of the response
//           (both lowercased), else 0.
//   rouge1: unigram F1 as rouge_score computes it without stemming: lowercase, every run of
//           characters other than [a-z0-9] is a separator, counts clipped.
struct NeedleScores {
  double paper = 0;
  double recall = 0;
  double exact = 0;
  double rouge1 = 0;
};
NeedleScores score_response(std::string_view response, std::string_view answer);

enum class NeedleScorer { kPaper, kRecall, kExact, kRouge1 };
std::string_view needle_scorer_name(NeedleScorer scorer);  // "paper", "recall", ...
// Throws Error naming --scorer and the accepted names.
NeedleScorer parse_needle_scorer(std::string_view text);
double score_of(const NeedleScores& scores, NeedleScorer scorer);

// One cell's outcome: one JSON line of the results file.
//   {"length":4256,"depth":11.0,"prompt_tokens":4080,"response":"...","scores":{"paper":..,
//    "recall":..,"exact":..,"rouge1":..},"seconds":1.5,"error":""}
struct NeedleResult {
  int64_t length = 0;  // tokens
  double depth = 0;    // percent
  int64_t prompt_tokens = 0;
  std::string response;
  NeedleScores scores;
  double seconds = 0;  // generation time
  std::string error;   // empty when the cell ran; else why not (its scores are 0)
};

// One line, no trailing newline. Invalid UTF-8 in the response is replaced by U+FFFD.
std::string needle_result_json(const NeedleResult& result);
// Parses one line; throws Error prefixed with `where` (e.g. "results.jsonl:3").
NeedleResult parse_needle_result(std::string_view line, std::string_view where);

enum class BadLines { kThrow, kSkip };
// Every non-blank line of a results file. A malformed line throws Error "FILE:LINE: reason"
// (kThrow), or is left out and its "FILE:LINE: reason" appended to `skipped` (kSkip).
std::vector<NeedleResult> read_results(const std::filesystem::path& path,
                                       BadLines bad_lines = BadLines::kThrow,
                                       std::vector<std::string>* skipped = nullptr);

// One result per (length, depth) cell, in the order cells first appear; a cell that appears
// again (run again after a failure) keeps its latest line, as every reader of results.jsonl
// must: [(1000,0) failed, (1000,50), (1000,0) ok] -> [(1000,0) ok, (1000,50)].
std::vector<NeedleResult> latest_per_cell(std::vector<NeedleResult> results);

// Mean of the scorer over all results x 100 (cells with an error count as 0), the paper's
// "acc". Throws Error when `results` is empty.
double acc(std::span<const NeedleResult> results, NeedleScorer scorer);

}  // namespace longctx
