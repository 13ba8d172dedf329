// Log-likelihoods of continuations after a context, as lm-evaluation-harness scores multiple
// choice (MMLU): a request holds the context's token ids and each continuation's, split by the
// harness's rule, and a backend (native: eval/native_backend.h; a served model:
// eval/endpoint_backend.h) returns the summed log-probability of each continuation's tokens.
//
// The rule (make_loglikelihood_request): white space at the end of the context moves to the
// start of the continuation; then
//   context ids      = [BOS] + encode(context)
//   continuation ids = ([BOS] + encode(context + continuation))[len(context ids):]
// and the model reads context ids + continuation ids. With Llama-2's tokenizer,
// "...\nAnswer:" + " A" gives context [1, ..., 13, 22550, 29901] ("\n", "Answer", ":") and
// continuation [319] ("▁A").
//
//   LoglikelihoodRequest r = make_loglikelihood_request(tokenizer, prompt, {" A", " B"});
//   backend.score({&r, 1}, [](size_t i, const LoglikelihoodResult& result) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

struct LoglikelihoodRequest {
  std::vector<int32_t> context;                     // BOS first; at least one id
  std::vector<std::vector<int32_t>> continuations;  // each at least one id
};

struct LoglikelihoodResult {
  std::vector<double> loglikelihoods;  // one per continuation: the sum over its tokens, nats
  std::string error;                   // empty when scored (a served model may fail)
};

// The harness's split of (context, continuation) into ids, for each continuation. Throws Error
// when the context is empty or a continuation adds no token.
LoglikelihoodRequest make_loglikelihood_request(const Tokenizer& tokenizer,
                                                std::string_view context,
                                                std::span<const std::string> continuations);

using LoglikelihoodDone = std::function<void(size_t index, const LoglikelihoodResult& result)>;

class LoglikelihoodBackend {
 public:
  virtual ~LoglikelihoodBackend() = default;
  // Scores every request; `done` is called once per request, one call at a time, in any
  // order. Requests that share a long context prefix (one MMLU subject's few-shot examples)
  // should come in one call, so that a backend can compute the prefix once.
  virtual void score(std::span<const LoglikelihoodRequest> requests,
                     const LoglikelihoodDone& done) = 0;
};

}  // namespace longctx
