// Greedy generation with a preallocated KV cache, chunked prefill, and prefix reuse: a prompt
// that starts with the tokens of the previous call reuses their keys and values instead of
// recomputing them (the needle test's cells share everything up to the needle).
//
//   Generator gen(model, /*max_tokens=*/131072 + 64, device, dtype);
//   GenerationResult r = gen.generate(prompt_ids, {.max_new_tokens = 50});
//   r.reused_tokens;   // prompt tokens whose KV came from the previous call
//
// Reuse needs keys and values that depend only on earlier tokens: true for every RoPE type
// except dynamic NTK that follows the sequence length (frozen dynamic NTK is fine); for those,
// reuse is off and every call prefills from position 0.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "longctx/model/llama.h"

namespace longctx {

struct GenerationOptions {
  int64_t max_new_tokens = 50;
  int64_t chunk_tokens = 4096;  // prompt tokens per prefill forward
  bool reuse_prefix = true;
};

struct GenerationResult {
  std::vector<int32_t> generated;  // stop token excluded
  std::string stop_reason;         // "stop_token" | "max_new_tokens"
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;  // prompt tokens not recomputed
  double prefill_seconds = 0, total_seconds = 0;
};

class Generator {
 public:
  Generator(LlamaForCausalLM model, int64_t max_tokens, torch::Device device,
            torch::ScalarType dtype);
  // Greedy: argmax until a stop token (config eos_token_ids) or max_new_tokens. Throws Error
  // when prompt + max_new_tokens exceeds the cache.
  GenerationResult generate(const std::vector<int32_t>& prompt, const GenerationOptions& options);
  int64_t max_tokens() const { return cache_.max_tokens(); }

 private:
  LlamaForCausalLM model_;
  torch::Device device_;
  KvCache cache_;
  std::vector<int32_t> cached_;  // the tokens whose keys/values fill cache positions [0, n)
};

}  // namespace longctx
