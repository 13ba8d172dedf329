// Our model as an evaluation backend (libtorch): continuation log-likelihoods for MMLU with the
// shared context prefix computed once, and greedy generation for book QA with prefix reuse.
//
// NativeLoglikelihood::score, for the requests of one call (one MMLU subject):
//   1. The prefix: the longest run of ids every context starts with (the description and the
//      few-shot examples), at most each context's length - 1, is prefilled once into a KV
//      cache of B rows (the same ids in each row).
//   2. Rows: a request whose continuations are single tokens is one row, its context after the
//      prefix: the log-softmax at its last position scores all of them ("A".."D" are single
//      tokens in LLaMA's vocabularies). Otherwise each continuation is a row of its own,
//      context + continuation[:-1], scored at every continuation position.
//   3. B rows at a time (right-padded; padding comes after every position read, so causal
//      attention never sees it) run from the end of the prefix; the hidden states at the scored
//      positions go through the LM head and a float32 log-softmax.
// RoPE whose rotations follow the sequence length (dynamic NTK not frozen) cannot reuse keys:
// there every row runs alone from position 0.
//
//   NativeLoglikelihood backend(model, {.batch_rows = 8});
//   run_mmlu(splits, tokenizer, settings, backend, done, record);     // mmlu.h
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "longctx/tokenizer/tokenizer.h"
#include "longctx/eval/answer_backend.h"
#include "longctx/eval/loglikelihood.h"
#include "longctx/model/llama.h"

namespace longctx {

struct NativeLoglikelihoodOptions {
  int64_t batch_rows = 8;    // rows per forward after the prefix
  int64_t chunk_tokens = 0;  // prefill chunk; 0: default_prefill_chunk (model/generation.h)
};

class NativeLoglikelihood : public LoglikelihoodBackend {
 public:
  NativeLoglikelihood(LlamaForCausalLM model, NativeLoglikelihoodOptions options);
  void score(std::span<const LoglikelihoodRequest> requests,
             const LoglikelihoodDone& done) override;

  // Positions run through the model so far (the prefix once per cache row, then every row's
  // own), and the positions a forward of each context plus continuation from 0 would run.
  int64_t computed_tokens() const { return computed_tokens_; }
  int64_t requested_tokens() const { return requested_tokens_; }

 private:
  LlamaForCausalLM model_;
  NativeLoglikelihoodOptions options_;
  torch::Device device_;
  torch::ScalarType dtype_;
  bool fixed_rope_;
  int64_t computed_tokens_ = 0, requested_tokens_ = 0;
};

struct NativeAnswersOptions {
  int64_t chunk_tokens = 0;  // prefill chunk; 0: as Generator picks it
};

// Greedy generation through model/generation.h's Generator: prompts are run in the order of
// their ids (the depth-first order of their prefix trie), so each reuses the keys and values
// it shares with the one before (book QA's questions about the same book share its first half).
class NativeAnswers : public AnswerBackend {
 public:
  NativeAnswers(LlamaForCausalLM model, const Tokenizer& tokenizer, NativeAnswersOptions options);
  void answer(std::span<const AnswerRequest> requests, const AnswerDone& done) override;

 private:
  LlamaForCausalLM model_;
  const Tokenizer& tokenizer_;
  NativeAnswersOptions options_;
};

}  // namespace longctx
