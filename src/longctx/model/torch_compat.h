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

}  // namespace longctx
