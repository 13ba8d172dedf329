#include "longctx/eval/endpoint_backend.h"

#include <fmt/format.h>

#include <cmath>

namespace longctx {

LoglikelihoodResult loglikelihoods_from_echo(
    const LoglikelihoodRequest& request, const std::vector<std::vector<double>>& token_logprobs) {
  LoglikelihoodResult result;
  if (token_logprobs.size() != request.continuations.size()) {
    result.error = fmt::format("the server returned {} choices for {} prompts",
                               token_logprobs.size(), request.continuations.size());
    return result;
  }
  const size_t context = request.context.size();
  for (size_t c = 0; c < request.continuations.size(); ++c) {
    const std::vector<double>& lps = token_logprobs[c];
    size_t end = context + request.continuations[c].size();
    if (lps.size() < end) {
      result.error = fmt::format(
          "choice {} has {} token log-probabilities; the prompt has {} (is echo supported?)", c,
          lps.size(), end);
      result.loglikelihoods.clear();
      return result;
    }
    double sum = 0;
    for (size_t i = context; i < end; ++i) {
      if (!std::isfinite(lps[i])) {
        result.error = fmt::format("choice {}: no log-probability at prompt token {}", c, i);
        result.loglikelihoods.clear();
        return result;
      }
      sum += lps[i];
    }
    result.loglikelihoods.push_back(sum);
  }
  return result;
}

void EndpointLoglikelihood::score(std::span<const LoglikelihoodRequest> requests,
                                  const LoglikelihoodDone& done) {
  std::vector<CompletionRequest> calls;
  for (const LoglikelihoodRequest& r : requests) {
    CompletionRequest call{.max_tokens = 1, .echo = true, .logprobs = 1};
    for (const std::vector<int32_t>& continuation : r.continuations) {
      std::vector<int32_t> ids = r.context;
      ids.insert(ids.end(), continuation.begin(), continuation.end());
      call.prompt_token_ids.push_back(std::move(ids));
    }
    calls.push_back(std::move(call));
  }
  client_.complete_all(calls, [&](size_t i, const CompletionResult& c) {
    if (!c.ok) {
      done(i, {.loglikelihoods = {}, .error = c.error});
      return;
    }
    done(i, loglikelihoods_from_echo(requests[i], c.token_logprobs));
  });
}

void EndpointAnswers::answer(std::span<const AnswerRequest> requests, const AnswerDone& done) {
  std::vector<CompletionRequest> calls;
  for (const AnswerRequest& r : requests)
    calls.push_back({.prompt = r.prompt_text, .max_tokens = static_cast<int>(r.max_new_tokens)});
  client_.complete_all(calls, [&](size_t i, const CompletionResult& c) {
    Answer a;
    a.prompt_tokens = c.prompt_tokens;
    a.seconds = c.seconds;
    if (c.ok) {
      a.text = c.text;
    } else {
      a.error = c.error;
    }
    done(i, a);
  });
}

}  // namespace longctx
