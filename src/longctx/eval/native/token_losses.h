// Per-token next-token losses of packed rows under our model, at prefill speed and in bounded
// memory (libtorch; `longctx eval loss`, and the function a trainer's validation can call).
//
// Shapes: B rows per forward, T tokens per row, C tokens per prefill chunk, d hidden, V vocab.
// A batch of rows [B, T] runs through the KV cache in chunks of C positions
// (prefill_chunks in model/generation.h), so activations are those of [B, C] tokens; each
// chunk's hidden states [B, C, d] go through the LM head `head_tokens / B` positions at a time:
// logits [B, r, V] in float32, loss = logsumexp(logits) - logits[target], so [T, V] logits
// never exist and neither does a second [r, V] buffer of log-probabilities. Position p's
// hidden state predicts token p + 1; the row's last token is fed too (a dynamic-NTK RoPE sees
// the row's length, as in transformers' forward of the row), its output unused.
//
//   LossEvalOptions options{.settings = settings, .batch_rows = 4};
//   LossResult r = evaluate_loss(model, data, options);   // loss.h
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <span>

#include "longctx/eval/loss.h"
#include "longctx/model/llama.h"
#include "longctx/dataset/training_data.h"

namespace longctx {

struct TokenLossOptions {
  int64_t chunk_tokens = 0;    // positions per forward; 0: as `score` picks it (loss_chunk_tokens)
  int64_t head_tokens = 4096;  // rows x positions of float32 logits at once
};

// Losses [B, T - 1] (float32, on the CPU) of ids [B, T] (long, on the model's device), through
// `cache` (batch B, at least T positions). losses[b][p] predicts ids[b][p + 1].
torch::Tensor row_token_losses(LlamaForCausalLM& model, const torch::Tensor& ids, KvCache& cache,
                               const TokenLossOptions& options);

// The chunk row_token_losses runs in when none is given: on CUDA, what the free memory holds
// for B rows beside one head slice (auto_prefill_chunk over B x T tokens, divided by B, in
// multiples of 1024, at least 1024); on the CPU 4096 / B (at least 256).
int64_t loss_chunk_tokens(const ModelConfig& config, torch::Device device, torch::ScalarType dtype,
                          int64_t batch_rows, int64_t seq_len, int64_t head_tokens);

struct LossEvalOptions {
  LossSettings settings;
  uint64_t max_rows = 0;   // the first max_rows rows; 0: all
  int64_t batch_rows = 1;  // rows per forward
  TokenLossOptions losses;
  // Called after each batch with the rows done so far (from the calling thread).
  std::function<void(uint64_t rows_done, uint64_t rows_total)> progress;
  // Called with each row's losses (T - 1 values) before they are counted, e.g. to save them.
  std::function<void(uint64_t row, std::span<const float> losses)> row_losses;
};

// Every selected row of `data`, in dataset order, through the model (no gradients), counted by
// LossAccumulator. The model stays on its device and in its dtype; its vocabulary must cover
// the dataset's ids (Error otherwise).
LossResult evaluate_loss(LlamaForCausalLM& model, const TrainingData& data,
                         const LossEvalOptions& options);

}  // namespace longctx
