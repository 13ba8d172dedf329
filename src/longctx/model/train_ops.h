// The model's operations for training, as libtorch autograd functions with hand-written
// backward passes. They compute exactly what the plain forward of llama.cpp computes (same ops,
// same rounding) but keep fewer activations for backward, which is what lets an 80K-token row
// fit on one GPU:
//
//   rms_norm            saves x and the float32 rsqrt per row, not the float32 copy of x
//   apply_rotary        saves nothing but cos/sin (its backward is the inverse rotation)
//   swiglu              saves gate and up, not silu(gate) (its backward recomputes it)
//   recompute           saves only its input; the block runs again inside backward
//   causal_attention_kept  lets a recomputed layer keep its attention output instead
//   lm_head_loss        per-token cross entropy of lm_head(hidden) in chunks, so the
//                       [T, V] float32 logits of a long row never exist at once
//
// Shapes: N tokens (batch flattened), d width, V vocab, D head dim.
//
//   torch::Tensor y = recompute([&](const torch::Tensor& x) { return layer(x); }, h);
//   torch::Tensor losses = lm_head_loss(hidden, model->lm_head->weight, targets, 8192);  // [N]
//   (losses * mask).sum().div(tokens).backward();
#pragma once

#include <torch/torch.h>

#include <functional>

namespace longctx {

// weight * to(x.dtype, x.float() * rsqrt(mean(x.float()^2) + eps)) over the last dim, as
// transformers' LlamaRMSNorm. x [..., d], weight [d].
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// RoPE, transformers' x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1),
// computed as x * cos + roll(x, D/2) * sin_signed, sin_signed = cat(-sin1, sin2) (llama.h's
// rotary()): three kernels instead of six with the same products (a sign moved from x to sin
// is exact), one with the fused kernel. x [B, H, T, D], cos and sin_signed [T, D] (or anything
// that broadcasts to x), constants (no gradient flows to them). The inference path uses it too.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin_signed);

// silu(gate) * up: gate and up [..., F] of the same shape (rows may be strided views, as the
// halves of one [..., 2F] matmul). Plain ops with autograd on CPU.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// apply_rotary and swiglu run fused CUDA kernels (cuda_kernels.h) on CUDA tensors when this
// build has them (CMake found a CUDA compiler) and the environment does not turn them off
// with LONGCTX_FUSED_KERNELS=0 (for comparisons). Both ways compute the same values, to within
// one rounding where a multiply-add is contracted differently.
bool fused_kernels_enabled();
// Whether this build has the kernels at all, whatever the environment says.
bool fused_kernels_built();

// The plain-op versions of apply_rotary and swiglu, whatever the device: the reference the
// fused kernels are tested against.
torch::Tensor apply_rotary_plain(const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin_signed);
torch::Tensor swiglu_plain(const torch::Tensor& gate, const torch::Tensor& up);

// Activation recomputation ("gradient checkpointing"): returns block(x), keeping only x for
// backward. In backward, block runs again with gradients on and is backpropagated; parameters
// used inside block accumulate their gradients into .grad, as with PyTorch's reentrant
// checkpoint. The block must be deterministic (LLaMA has no dropout). When x does not require
// grad, only the parameters inside the block get gradients. Use with .backward().
torch::Tensor recompute(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                        const torch::Tensor& x);

// recompute for a layer whose second part is token-wise: returns mlp(attention(x)), keeping
// only x. `mlp` (a norm, an MLP and a residual sum, each token on its own) runs on at most
// `chunk_tokens` tokens at a time (chunk_tokens / B positions of each of x's B rows), in the
// forward and in backward, so one chunk's [chunk, F] intermediates and gradients exist at a time
// instead of the whole row's. In backward, attention runs again with gradients on, mlp runs again
// and is backpropagated chunk by chunk, then attention is backpropagated from the gathered
// gradient. The MLP runs twice, as with recompute. An empty `attention` is the identity (the MLP
// alone is recomputed). chunk_tokens 0: the whole row at once.
torch::Tensor recompute_chunked_mlp(
    const std::function<torch::Tensor(const torch::Tensor&)>& attention,
    const std::function<torch::Tensor(const torch::Tensor&)>& mlp, const torch::Tensor& x,
    int64_t chunk_tokens);

// Attention kept across a recomputation (Recompute::kLayerKeepAttention in llama.h): the
// layer's first, gradient-free forward stores cuDNN's attention output and log-sum-exp here;
// the forward that backward runs again takes them instead of running attention (at 80K tokens
// the largest part of a recomputed layer's work), and its backward is cuDNN's attention backward
// from them. Costs P d + 4 H bytes a token per layer. Where cuDNN attention is not there (CPU,
// libtorch before 2.5, float32), attention runs again as in a plain recomputation.
struct KeptAttention {
  torch::Tensor out, lse, cum_q, cum_k, seed, offset;
  int64_t max_q = 0, max_k = 0;
};

// Causal attention of q [B, H, T, D] over k, v [B, K, T, D] (causal_attention_gqa), through
// `keep` as above when keep is not null.
torch::Tensor causal_attention_kept(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, KeptAttention* keep);
// Whether this build can keep attention at all (libtorch 2.5+ with cuDNN attention).
bool attention_keeping_built();

// Per-token next-token loss -log softmax(hidden @ weight^T)[target], computed in float32 over
// chunks of `chunk_tokens` rows: hidden [N, d] (model dtype), weight [V, d], targets [N] int64;
// returns [N] float32 (float64 for float64 inputs). A target of -100 (ignore_index, as
// transformers) gives loss 0 and no gradient. Backward recomputes each chunk's logits, so memory
// holds one chunk's [chunk, V].
torch::Tensor lm_head_loss(const torch::Tensor& hidden, const torch::Tensor& weight,
                           const torch::Tensor& targets, int64_t chunk_tokens);

}  // namespace longctx
