// Greedy generation with a preallocated KV cache, chunked prefill, and prefix reuse: a prompt
// that starts with the tokens of the previous call reuses their keys and values instead of
// recomputing them (the needle test's cells share everything up to the needle).
//
//   Generator gen(model, /*max_tokens=*/131072 + 64, device, dtype);
//   GenerationResult r = gen.generate(prompt_ids, {.max_new_tokens = 50});
//   r.reused_tokens;   // prompt tokens whose KV came from the previous call
//
// Decoding runs one token per step in fixed shapes (DecodeStep in llama.h): attention reads the
// cache up to the next multiple of `decode_window` positions, masked after the token. On CUDA each
// window's step is captured once as a CUDA graph and replayed, so a token costs a few kernel
// launches from the host instead of about a thousand (`cuda_graphs = false` runs the same ops
// one by one).
//
// Reuse needs keys and values that depend only on earlier tokens: true for every RoPE type
// except dynamic NTK that follows the sequence length (frozen dynamic NTK is fine); for those,
// reuse is off and every call prefills from position 0.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "longctx/model/llama.h"

namespace longctx {

struct GenerationOptions {
  int64_t max_new_tokens = 50;
  // Prompt tokens per prefill forward; 0 picks them: on CUDA as many as the free memory holds,
  // up to the whole prompt (auto_prefill_chunk), else kCpuPrefillChunk.
  int64_t chunk_tokens = 0;
  bool reuse_prefix = true;
  bool cuda_graphs = true;  // on CUDA: replay each decoding step as a captured graph
  // Decoding attends over cache positions [0, window), the window a multiple of this (or the
  // whole cache): larger means fewer graphs and more masked positions read.
  int64_t decode_window = 4096;
};

struct GenerationResult {
  std::vector<int32_t> generated;  // stop token excluded
  std::string stop_reason;         // "stop_token" | "max_new_tokens"
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;  // prompt tokens not recomputed
  double prefill_seconds = 0, total_seconds = 0;
};

// The prefill chunks [start, end) of prompt positions [from, to): each ends at the next
// multiple of `chunk` (or at `to`), whatever `from` is, so that the chunks between the first and
// the last are the same in every prompt. cuDNN builds an execution plan per attention shape, and
// these recur (attention.h). prefill_chunks(5000, 13000, 4096) = {5000, 8192}, {8192, 12288},
// {12288, 13000}. Throws Error unless chunk > 0.
std::vector<std::pair<int64_t, int64_t>> prefill_chunks(int64_t from, int64_t to, int64_t chunk);

// The prefill chunk on the CPU, and the unit of automatic chunks.
inline constexpr int64_t kCpuPrefillChunk = 4096;

// Bytes per prompt token that one prefill forward holds beyond the weights and the KV cache, at
// the widest point of a layer in `dtype`: the MLP's gate/up product [T, 2F] and SwiGLU [T, F]
// beside two [T, d] states, or attention's projections, rotated queries and keys and outputs,
// whichever is larger. GenerationGpu.PrefillStaysInsideItsEstimatedMemory holds it to the
// measured peak.
int64_t prefill_bytes_per_token(const ModelConfig& config, torch::ScalarType dtype);

// The chunk a prefill of positions [0, prompt_tokens) runs in when none is given: the most
// tokens, in multiples of kCpuPrefillChunk, whose activations fit in `free_bytes` with a 1.5x
// margin, up to the whole prompt (rounded up); never below kCpuPrefillChunk. One pass avoids
// a cuDNN plan per chunk shape (bench/README.md: a 128K TinyLlama prompt in 4K chunks spends
// 3-4 s building 32 plans) and runs attention in 64K blocks, its fastest form.
int64_t auto_prefill_chunk(const ModelConfig& config, torch::ScalarType dtype,
                           int64_t prompt_tokens, uint64_t free_bytes);

// The chunk to prefill `prompt_tokens` positions in on `device` now: on CUDA,
// auto_prefill_chunk over the free memory less `reserved_bytes` (what the caller will
// allocate beside the forward); kCpuPrefillChunk elsewhere.
int64_t default_prefill_chunk(const ModelConfig& config, torch::Device device,
                              torch::ScalarType dtype, int64_t prompt_tokens,
                              uint64_t reserved_bytes = 0);

struct DecodeGraphs;  // generation.cpp: CUDA graphs of the decoding step, per window

class Generator {
 public:
  Generator(LlamaForCausalLM model, int64_t max_tokens, torch::Device device,
            torch::ScalarType dtype);
  ~Generator();
  // Greedy: argmax until a stop token (config eos_token_ids) or max_new_tokens. Throws Error
  // when prompt + max_new_tokens exceeds the cache.
  GenerationResult generate(const std::vector<int32_t>& prompt, const GenerationOptions& options);
  int64_t max_tokens() const { return max_tokens_; }

 private:
  // The next token (greedy) after `token` at `position`, whose keys/values it stores.
  int64_t decode(int64_t token, int64_t position, const GenerationOptions& options);

  LlamaForCausalLM model_;
  torch::Device device_;
  torch::ScalarType dtype_;
  int64_t max_tokens_;
  KvCache cache_;
  std::vector<int32_t> cached_;  // the tokens whose keys/values fill cache positions [0, n)
  bool fixed_rope_;              // positions' rotations do not depend on the sequence length
  torch::Tensor cos_table_, sin_table_;  // [max_tokens, D] when fixed_rope_
  std::unique_ptr<DecodeGraphs> graphs_;
};

}  // namespace longctx
