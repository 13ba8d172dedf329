// Attention for long prompts (inference): the causal attention of a prompt, or of a chunk of it
// after cached keys, computed in blocks of queries. Each block is one causal call over its own
// keys plus one full (unmasked) call over the keys before it, the two merged by their
// log-sum-exp.
//
// cuDNN's causal kernel runs slower per FLOP at 128K tokens than at 32-64K (540 against 600-620
// TFLOP/s for Llama-3-8B's heads on an H100; dev/split_attention_probe.py), so a 128K prompt as
// two 64K blocks takes about 10% less attention time, with the same result to within one bf16
// rounding. A chunk after cached keys needs a bottom-right causal mask, which cuDNN's causal
// flag (top-left) is not; as one causal and one full call it runs on cuDNN instead of the
// slower Flash kernel.
//
// cuDNN builds an execution plan for every new shape: 60-120 ms on the H100, about what a 1B
// model's attention over 64K cached keys takes for a 4K chunk in all its layers. So chunks take
// the blocks only where their shape recurs: the chunks Generator cuts at multiples of the chunk
// size (generation.h prefill_chunks), the same (chunk, cached keys) pairs in every prompt. The
// odd-sized ones (the first after a reused prefix, the last of a prompt) run on Flash, which
// needs no plan. On the needle grid that made prefill 1.3x (TinyLlama) to 1.4x (Llama-3 8B)
// faster than Flash alone, where cuDNN for every chunk had been slower than Flash.
//
// Decoding (decode_attention) is the other end: one token's queries against the cache. One Flash
// call reads only the keys in use; the float32 math it replaced read the whole window.
//
// Shapes: B batch, H query heads, K key/value heads (H a multiple of K), T tokens, D head dim.
//
//   torch::Tensor out = prefill_attention(q, k, v);  // q [B, H, T, D], k, v [B, K, T, D]
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace longctx {

// Whether a chunk of `queries` after `cached` keys has a shape that recurs from prompt to
// prompt, so that cuDNN's plan for it is built once: at least 256 queries, starting at a
// multiple of its own length (Generator's chunks between the first and the last).
bool recurring_chunk(int64_t queries, int64_t cached);

// Queries per block of prefill_attention; LONGCTX_PREFILL_ATTENTION_BLOCK overrides it (0: one
// call whatever the length, for comparisons).
int64_t prefill_attention_block();

// Causal attention of queries at positions [Tk - Tq, Tk) over keys [0, Tk): q [B, H, Tq, D],
// k, v [B, K, Tk, D]. Returns [B, H, Tq, D] in q's dtype. A recurring chunk after cached keys
// (Tq < Tk, recurring_chunk) and a whole prompt (Tq == Tk) longer than `block` run in blocks
// when cuDNN attention is there for them (libtorch 2.5+, CUDA, bf16 or fp16, D a multiple of 8
// up to 128, no gradient wanted); everything else is cached_causal_attention (torch_compat.h),
// which the model called before. block 0: always cached_causal_attention.
torch::Tensor prefill_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t block = prefill_attention_block());

// The blocked computation prefill_attention uses, called directly (tests, benchmarks): q, k, v
// as there, Tq <= Tk. Throws where blockwise_attention_built() is false or cuDNN refuses.
torch::Tensor blockwise_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, int64_t block);
// Whether this libtorch has the cuDNN attention op with its log-sum-exp (2.5+).
bool blockwise_attention_built();

// Which cache positions a decoding step attends: the window [0, W), of which the positions up to
// the new token's are visible. Made once per token on the position's device and shared by every
// layer; every tensor is computed there from `position`, so a CUDA graph may capture it.
struct DecodeVisibility {
  DecodeVisibility(const torch::Tensor& position, int64_t window);  // position: [1] long
  torch::Tensor visible;        // [W] bool: position >= key position (masked_attention)
  torch::Tensor used;           // [1] int32: position + 1, the keys Flash reads (seqused_k)
  torch::Tensor query_offsets;  // [2] int32 [0, 1]: Flash's packed layout, one query
  torch::Tensor key_offsets;    // [2] int32 [0, W]
};

// Attention of one token's queries, q [B, K, G, D] (the G query heads of each key/value head as
// rows), over cache views k, v [B, K, W, D], keys past the token hidden. On CUDA with libtorch
// 2.5+ (bf16/fp16, B = 1, D a multiple of 8 up to 256) this is one Flash call that reads only
// the `used` keys of the window, split over the GPU (flash_decode_fits); elsewhere, or with
// LONGCTX_FLASH_DECODE=0, masked_attention (torch_compat.h): float32 scores over the whole
// window. Returns [B, K, G, D] in q's dtype.
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const DecodeVisibility& visibility);
// Whether decode_attention takes the Flash call for these tensors.
bool flash_decode_fits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
// Whether this libtorch has that Flash entry (2.5+).
bool flash_decode_built();

// Merges two attentions of the same queries over disjoint key sets into the attention over the
// union: out = (exp(lse_a) * out_a + exp(lse_b) * out_b) / (exp(lse_a) + exp(lse_b)), in
// float32, rounded once to out's dtype. out_a, out_b, out [B, H, T, D]; lse_a, lse_b [B, H, T]
// float32, the natural-log sum of exp(scores) of each part. Writes out (which may be out_a or
// out_b) with the fused kernel on CUDA where there is one, with libtorch ops elsewhere.
void merge_attention(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                     const torch::Tensor& out_b, const torch::Tensor& lse_b,
                     const torch::Tensor& out);

// The libtorch-op version of merge_attention, whatever the device: the reference the kernel is
// tested against. Returns a new tensor of out_a's dtype.
torch::Tensor merge_attention_plain(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                                    const torch::Tensor& out_b, const torch::Tensor& lse_b);

}  // namespace longctx
