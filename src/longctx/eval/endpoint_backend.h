// A served model (any OpenAI-compatible /v1/completions server) as an evaluation backend, over
// openai_client.h's concurrent requests with retries.
//
// EndpointLoglikelihood: one request per context, as lm-evaluation-harness's local-completions
// model sends it: the prompts are token ids, context + continuation for each continuation (a
// batch of prompts, one choice each), with "echo": true, "logprobs": 1, "max_tokens": 1,
// "temperature": 0; each continuation's log-likelihood is the sum of token_logprobs over its
// positions [len(context), len(context) + len(continuation)). The served model must use the
// tokenizer the requests were made with (--tokenizer).
//
// EndpointAnswers: the prompt's text (the ids decoded, so a truncated prompt is sent as cut),
// greedy, max_tokens = the request's max_new_tokens.
//
// A request that fails after its retries gives a result with its error; nothing throws but bad
// options.
//
//   EndpointLoglikelihood backend({.url = "http://localhost:8000", .model = "llama-2-7b"});
#pragma once

#include "longctx/eval/answer_backend.h"
#include "longctx/eval/loglikelihood.h"
#include "longctx/eval/openai_client.h"

namespace longctx {

class EndpointLoglikelihood : public LoglikelihoodBackend {
 public:
  explicit EndpointLoglikelihood(EndpointOptions options) : client_(std::move(options)) {}
  void score(std::span<const LoglikelihoodRequest> requests,
             const LoglikelihoodDone& done) override;

 private:
  OpenAIClient client_;
};

class EndpointAnswers : public AnswerBackend {
 public:
  explicit EndpointAnswers(EndpointOptions options) : client_(std::move(options)) {}
  void answer(std::span<const AnswerRequest> requests, const AnswerDone& done) override;

 private:
  OpenAIClient client_;
};

// The continuations' log-likelihoods from one echo response's token_logprobs (one list per
// continuation, in order); an error text when a list is too short or holds a null where a
// continuation token is scored.
LoglikelihoodResult loglikelihoods_from_echo(
    const LoglikelihoodRequest& request, const std::vector<std::vector<double>>& token_logprobs);

}  // namespace longctx
