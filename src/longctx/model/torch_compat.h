// The few places where the two libtorch versions we build against differ: Debian's 1.13 (CPU,
// CI) and PyTorch 2.x's (the GPU machine). Attention goes through
// at::scaled_dot_product_attention where it exists (cuDNN / Flash kernels on the GPU) and
// through the explicit softmax(q k^T / sqrt(D)) v otherwise.
//
// Shapes: B batch, H heads, Tq queries, Tk keys (cache included), D head dim.
#pragma once

#include <torch/torch.h>

#include <cmath>
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
  auto repeat = [groups](const torch::Tensor& x) {  // [B, K, T, D] -> [B, K * groups, T, D]
    if (groups == 1) return x;
    auto b = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
    return x.unsqueeze(2).expand({b, kv, groups, t, d}).reshape({b, kv * groups, t, d});
  };
  return causal_attention(q, repeat(k), repeat(v));
}

}  // namespace longctx
