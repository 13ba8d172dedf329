// The few places where the two libtorch versions we build against differ: Debian's 1.13 (CPU,
// CI) and PyTorch 2.x's (the GPU machine). Attention goes through
// at::scaled_dot_product_attention where it exists (cuDNN / Flash kernels on the GPU) and
// through the explicit softmax(q k^T / sqrt(D)) v otherwise.
//
// Shapes: B batch, H heads, Tq queries, Tk keys (cache included), D head dim.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>

namespace longctx {

// Causal attention of queries at positions [Tk - Tq, Tk) over keys at [0, Tk): query i sees
// keys 0 .. Tk - Tq + i (bottom-right aligned, as with a KV cache). q: [B, H, Tq, D];
// k, v: [B, H, Tk, D] with H already matching q's (GQA repeated by the caller).
// Returns [B, H, Tq, D] in q's dtype.
inline torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v) {
  int64_t tq = q.size(2), tk = k.size(2);
#if TORCH_VERSION_MAJOR >= 2
  if (tq == tk) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
  if (tq == 1) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/false);
  // is_causal aligns top-left; a chunk after cached keys needs the bottom-right mask.
  auto qpos = torch::arange(tk - tq, tk, torch::dtype(torch::kLong).device(q.device()));
  auto kpos = torch::arange(0, tk, torch::dtype(torch::kLong).device(q.device()));
  torch::Tensor allowed = kpos.unsqueeze(0) <= qpos.unsqueeze(1);  // [Tq, Tk] bool
  return at::scaled_dot_product_attention(q, k, v, allowed, 0.0, /*is_causal=*/false);
#else
  // Explicit path: scores in float32, as sdpa's math backend accumulates them.
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  torch::Tensor scores = torch::matmul(q.to(torch::kFloat), k.to(torch::kFloat).transpose(2, 3)) *
                         scale;  // [B, H, Tq, Tk]
  if (tq > 1) {
    auto qpos = torch::arange(tk - tq, tk, torch::dtype(torch::kLong).device(q.device()));
    auto kpos = torch::arange(0, tk, torch::dtype(torch::kLong).device(q.device()));
    torch::Tensor hidden = kpos.unsqueeze(0) > qpos.unsqueeze(1);  // [Tq, Tk]
    scores = scores.masked_fill(hidden, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, v.to(torch::kFloat)).to(q.scalar_type());
#endif
}

// k or v [B, K, T, D] with each head repeated `groups` times: [B, K * groups, T, D].
inline torch::Tensor repeat_kv_heads(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  auto b = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, kv, groups, t, d}).reshape({b, kv * groups, t, d});
}

// Causal self-attention for training (Tq == Tk) with grouped-query heads: q [B, H, T, D],
// k, v [B, K, T, D], H a multiple of K. libtorch 2.5+ passes the groups to the kernel
// (enable_gqa: no [B, H, T, D] copies of k and v, in memory or in backward); older ones repeat
// k and v to H heads first.
inline torch::Tensor causal_attention_gqa(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v) {
  int64_t groups = q.size(1) / k.size(1);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
  if (groups > 1 && q.is_cuda()) {
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true,
                                            /*scale=*/std::nullopt, /*enable_gqa=*/true);
  }
#endif
  return causal_attention(q, repeat_kv_heads(k, groups), repeat_kv_heads(v, groups));
}

// Prefill with a KV cache and grouped-query heads: q [B, H, Tq, D] at positions [Tk - Tq, Tk)
// over k, v [B, K, Tk, D]. Returns [B, H, Tq, D]. The model calls prefill_attention
// (attention.h), which runs this one call where its cuDNN blocks do not apply.
inline torch::Tensor cached_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                             const torch::Tensor& v) {
  int64_t tq = q.size(2), tk = k.size(2);
  if (tq == tk) return causal_attention_gqa(q, k, v);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // A chunk after cached keys: Flash attention aligns its causal mask bottom-right (the reason
  // sdpa refuses is_causal there) and takes K < H heads, so no [Tq, Tk] mask and no copies of
  // the cache (the masked path reads a mask as large as the scores).
  bool half = q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf;
  int64_t d = q.size(3);
  if (q.is_cuda() && half && tq > 1 && d % 8 == 0 && d <= 256) {
    return std::get<0>(at::_scaled_dot_product_flash_attention(q, k, v, 0.0, /*is_causal=*/true,
                                                               /*return_debug_mask=*/false));
  }
#endif
  int64_t groups = q.size(1) / k.size(1);
  return causal_attention(q, repeat_kv_heads(k, groups), repeat_kv_heads(v, groups));
}

// Attention of q [B, K, G, D] over k, v [B, K, W, D] where only keys with visible [W] (bool)
// true count: decoding, with the G query heads of each key/value head as rows. Explicit math,
// the same on every libtorch: the fused kernels would run a handful of thread blocks here.
// Scores in float32 (as sdpa's kernels keep them); probabilities rounded to v's type for the
// second product, as Flash attention does. A window of many `split`s is summed from one product
// per split, so a 128K window still spreads over the whole GPU.
inline torch::Tensor masked_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& visible,
                                      int64_t split = 1024) {
  int64_t b = q.size(0), kv = q.size(1), g = q.size(2), d = q.size(3), w = k.size(2);
  double scale = 1.0 / std::sqrt(static_cast<double>(d));
  torch::Tensor scores = torch::matmul(q.to(torch::kFloat) * scale,
                                       k.to(torch::kFloat).transpose(2, 3));  // [B, K, G, W]
  scores.masked_fill_(visible.logical_not(), -std::numeric_limits<float>::infinity());
  torch::Tensor probs = torch::softmax(scores, -1).to(v.scalar_type());
  if (w % split != 0 || w == split) return torch::matmul(probs, v).to(q.scalar_type());
  int64_t s = w / split;
  torch::Tensor parts = torch::matmul(probs.view({b, kv, g, s, split}).transpose(2, 3),
                                      v.reshape({b, kv, s, split, d}));  // [B, K, S, G, D]
  return parts.sum(2).to(q.scalar_type());
}

}  // namespace longctx
