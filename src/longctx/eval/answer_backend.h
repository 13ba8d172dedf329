// Greedy generation for the evaluations that ask a model to answer (book QA): a request holds
// the prompt both as ids (our model reads them) and as text (a served model tokenizes it), and
// a backend (eval/native_backend.h, eval/endpoint_backend.h) returns the continuation's text.
//
//   backend.answer(requests, [](size_t i, const Answer& a) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace longctx {

struct AnswerRequest {
  std::vector<int32_t> prompt_ids;  // BOS first
  std::string prompt_text;          // what a served model is sent
  int64_t max_new_tokens = 40;
};

struct Answer {
  std::string text;            // the decoded continuation, stop token excluded
  std::string error;           // empty when it ran
  int64_t prompt_tokens = -1;  // as the backend counted them (-1: not reported)
  int64_t reused_tokens = 0;   // native: prompt tokens whose keys and values were reused
  double seconds = 0;
};

using AnswerDone = std::function<void(size_t index, const Answer& answer)>;

class AnswerBackend {
 public:
  virtual ~AnswerBackend() = default;
  // Answers every request; `done` is called once per request, one call at a time, in any order.
  virtual void answer(std::span<const AnswerRequest> requests, const AnswerDone& done) = 0;
};

}  // namespace longctx
