#include "longctx/model/attention.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "longctx/base/error.h"
#include "longctx/model/torch_compat.h"
#include "longctx/model/train_ops.h"

#ifdef LONGCTX_HAVE_CUDA_KERNELS
#include "longctx/model/cuda_kernels_torch.h"
#endif

// cuDNN attention with its log-sum-exp and grouped-query heads: libtorch 2.5+.
#if (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)) && \
    __has_include(<ATen/ops/_scaled_dot_product_cudnn_attention.h>)
#include <ATen/ops/_scaled_dot_product_cudnn_attention.h>
#define LONGCTX_CUDNN_ATTENTION 1
#endif

// Flash attention's packed-sequence entry with a per-sequence count of keys used (seqused_k):
// libtorch 2.5+.
#if (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)) && \
    __has_include(<ATen/ops/_flash_attention_forward.h>)
#include <ATen/ops/_flash_attention_forward.h>
#define LONGCTX_FLASH_DECODE 1
#endif

namespace longctx {

namespace {

// 64K: on the H100, Llama-3-8B's heads at 128K ran 540 TFLOP/s in one call and 596 as two 64K
// blocks, 578-583 as 32K or 16K blocks; at 32K, one call (608) beat 16K blocks (572).
constexpr int64_t kDefaultBlock = 65536;

// Below this many queries a chunk is the tail of a prompt or the token that runs again after a
// reused prefix: rare shapes, and too little work to repay a plan.
constexpr int64_t kMinRecurringChunk = 256;

#ifdef LONGCTX_CUDNN_ATTENTION
bool wants_grad(const torch::Tensor& t) {
  return torch::GradMode::is_enabled() && t.requires_grad();
}

bool cudnn_fits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  bool half = q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf;
  int64_t d = q.size(3);
  return q.is_cuda() && half && k.scalar_type() == q.scalar_type() &&
         v.scalar_type() == q.scalar_type() && d % 8 == 0 && d <= 128 && v.size(3) == d &&
         k.size(1) > 0 && q.size(1) % k.size(1) == 0 && q.stride(3) == 1 && k.stride(3) == 1 &&
         v.stride(3) == 1 && !wants_grad(q) && !wants_grad(k) && !wants_grad(v);
}

// One cuDNN call: (out [B, H, Tq, D], lse [B, H, Tq] float32). Causal aligns top-left, which is
// the right mask only where Tq == Tk.
std::pair<torch::Tensor, torch::Tensor> cudnn_attention(const torch::Tensor& q,
                                                        const torch::Tensor& k,
                                                        const torch::Tensor& v, bool causal) {
  auto result = at::_scaled_dot_product_cudnn_attention(q, k, v, /*attn_bias=*/std::nullopt,
                                                        /*compute_log_sumexp=*/true,
                                                        /*dropout_p=*/0.0, causal,
                                                        /*return_debug_mask=*/false);
  torch::Tensor lse = std::get<1>(result).reshape({q.size(0), q.size(1), q.size(2)}).contiguous();
  return {std::get<0>(result), lse};
}

#endif

#ifdef LONGCTX_HAVE_CUDA_KERNELS
namespace ck = cuda_kernels;

bool merge_kernel_fits(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                       const torch::Tensor& out_b, const torch::Tensor& lse_b,
                       const torch::Tensor& out) {
  auto same = [&](const torch::Tensor& t) {
    return t.is_cuda() && t.device() == out.device() && t.dim() == 4 && t.sizes() == out.sizes() &&
           t.scalar_type() == out.scalar_type() && t.stride(3) == 1;
  };
  auto rows = [&](const torch::Tensor& lse) {
    return lse.dim() == 3 && lse.size(0) == out.size(0) && lse.size(1) == out.size(1) &&
           lse.size(2) == out.size(2) && lse.scalar_type() == torch::kFloat &&
           lse.device() == out.device();
  };
  return fused_kernels_enabled() && ck::kernel_dtype(out.scalar_type()) && same(out_a) &&
         same(out_b) && same(out) && rows(lse_a) && rows(lse_b) &&
         lse_a.strides() == lse_b.strides();
}

void merge_kernel(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                  const torch::Tensor& out_b, const torch::Tensor& lse_b,
                  const torch::Tensor& out) {
  // Walked in the output's memory order, so consecutive threads write consecutive rows.
  std::array<int, 3> order = ck::outer_dims_in_memory_order(out);
  ck::MergeShape shape{};
  const torch::Tensor* tensors[4] = {&out_a, &out_b, &out, &lse_a};
  for (int i = 0; i < 3; ++i) {
    shape.sizes[i] = out.size(order[i]);
    for (int which = 0; which < 4; ++which)
      shape.strides[which][i] = tensors[which]->stride(order[i]);
  }
  shape.head_dim = out.size(3);
  c10::cuda::CUDAGuard guard(out.device());
  ck::check_launch(ck::merge_attention(
      *ck::kernel_dtype(out.scalar_type()), out_a.data_ptr(), lse_a.data_ptr<float>(),
      out_b.data_ptr(), lse_b.data_ptr<float>(), out.data_ptr(), shape, ck::current_stream()));
}
#endif

#ifdef LONGCTX_FLASH_DECODE
// LONGCTX_FLASH_DECODE=0 keeps decoding on masked_attention, for comparisons.
bool flash_decode_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("LONGCTX_FLASH_DECODE");
    return value == nullptr || std::string(value) != "0";
  }();
  return enabled;
}
#endif

}  // namespace

DecodeVisibility::DecodeVisibility(const torch::Tensor& position, int64_t window) {
  visible = torch::arange(window, position.options()) <= position;
  used = (position + 1).to(torch::kInt);
  auto ints = position.options().dtype(torch::kInt);
  query_offsets = torch::arange(0, 2, ints);
  key_offsets = torch::arange(0, 2 * window, window, ints);
}

bool flash_decode_fits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#ifdef LONGCTX_FLASH_DECODE
  bool half = q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf;
  int64_t d = q.size(3);
  return flash_decode_enabled() && q.is_cuda() && half && k.scalar_type() == q.scalar_type() &&
         v.scalar_type() == q.scalar_type() && q.size(0) == 1 && k.size(0) == 1 && d % 8 == 0 &&
         d <= 256 && k.size(3) == d && v.size(3) == d && k.stride(3) == 1 && v.stride(3) == 1 &&
         !torch::GradMode::is_enabled();
#else
  (void)q, (void)k, (void)v;
  return false;
#endif
}

bool flash_decode_built() {
#ifdef LONGCTX_FLASH_DECODE
  return true;
#else
  return false;
#endif
}

torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const DecodeVisibility& visibility) {
#ifdef LONGCTX_FLASH_DECODE
  if (flash_decode_fits(q, k, v)) {
    int64_t kv = q.size(1), g = q.size(2), d = q.size(3), w = k.size(2);
    // Packed layout: one query of H = K * G heads (head h reads key/value head h / G, as the
    // rows are ordered), and the window's keys [W, K, D] as a strided view of the cache.
    auto result = at::_flash_attention_forward(
        q.reshape({1, kv * g, d}), k.select(0, 0).transpose(0, 1), v.select(0, 0).transpose(0, 1),
        visibility.query_offsets, visibility.key_offsets, /*max_q=*/1, /*max_k=*/w,
        /*dropout_p=*/0.0, /*is_causal=*/false, /*return_debug_mask=*/false,
        /*scale=*/std::nullopt, /*window_size_left=*/std::nullopt,
        /*window_size_right=*/std::nullopt, /*seqused_k=*/visibility.used,
        /*alibi_slopes=*/std::nullopt);
    return std::get<0>(result).view({1, kv, g, d});
  }
#endif
  return masked_attention(q, k, v, visibility.visible);
}

bool recurring_chunk(int64_t queries, int64_t cached) {
  return queries >= kMinRecurringChunk && cached % queries == 0;
}

int64_t prefill_attention_block() {
  static const int64_t block = [] {
    const char* value = std::getenv("LONGCTX_PREFILL_ATTENTION_BLOCK");
    if (value == nullptr || *value == '\0') return kDefaultBlock;
    char* end = nullptr;
    long long parsed = std::strtoll(value, &end, 10);
    if (*end != '\0' || parsed < 0) {
      throw Error(
          fmt::format("LONGCTX_PREFILL_ATTENTION_BLOCK={}: expected a number of tokens "
                      "(0 for one attention call)",
                      value));
    }
    return static_cast<int64_t>(parsed);
  }();
  return block;
}

torch::Tensor prefill_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t block) {
#ifdef LONGCTX_CUDNN_ATTENTION
  // A device where cuDNN attention refuses (older than sm80, say) falls back for good.
  static std::atomic<bool> cudnn_refused{false};
  int64_t tq = q.size(2), tk = k.size(2);
  // A long whole prompt, or a chunk after cached keys whose shape recurs (recurring_chunk).
  bool blocks = tq < tk ? recurring_chunk(tq, tk - tq) : tq > block;
  if (block > 0 && tq <= tk && blocks && !cudnn_refused && cudnn_fits(q, k, v)) {
    try {
      return blockwise_causal_attention(q, k, v, block);
    } catch (const c10::OutOfMemoryError&) {
      throw;
    } catch (const c10::Error& e) {
      cudnn_refused = true;
      fmt::print(stderr,
                 "longctx: cuDNN attention refused this device ({}); long prompts' "
                 "attention runs as one call\n",
                 std::string(e.what_without_backtrace()).substr(0, 200));
    }
  }
#else
  (void)block;
#endif
  return cached_causal_attention(q, k, v);
}

torch::Tensor blockwise_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, int64_t block) {
#ifndef LONGCTX_CUDNN_ATTENTION
  (void)q, (void)k, (void)v, (void)block;
  throw Error("blockwise attention needs libtorch 2.5 or newer (cuDNN attention)");
#else
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || q.size(2) > k.size(2) ||
      !cudnn_fits(q, k, v) || block <= 0) {
    throw Error(
        fmt::format("blockwise attention: needs CUDA bf16/fp16 q, k, v with Tq <= Tk, "
                    "head dim a multiple of 8 up to 128 and a positive block; got q [{}] "
                    "over k [{}], block {}",
                    fmt::join(q.sizes(), ", "), fmt::join(k.sizes(), ", "), block));
  }
  int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  int64_t cached = k.size(2) - t;  // keys before the first query
  // [B, T, H, D] storage, so that the caller's transpose(1, 2).reshape is a view.
  torch::Tensor out = torch::empty({b, t, h, d}, q.options()).transpose(1, 2);
  for (int64_t start = 0; start < t; start += block) {
    int64_t length = std::min(block, t - start), position = cached + start;
    torch::Tensor queries = q.narrow(2, start, length), dst = out.narrow(2, start, length);
    // Causal over the block's own keys (Tq == Tk: top-left alignment is right), then
    // everything before them, unmasked.
    auto [own, own_lse] = cudnn_attention(queries, k.narrow(2, position, length),
                                          v.narrow(2, position, length), true);
    if (position == 0) {
      dst.copy_(own);
      continue;
    }
    auto [before, before_lse] =
        cudnn_attention(queries, k.narrow(2, 0, position), v.narrow(2, 0, position), false);
    merge_attention(own, own_lse, before, before_lse, dst);
  }
  return out;
#endif
}

bool blockwise_attention_built() {
#ifdef LONGCTX_CUDNN_ATTENTION
  return true;
#else
  return false;
#endif
}

torch::Tensor merge_attention_plain(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                                    const torch::Tensor& out_b, const torch::Tensor& lse_b) {
  torch::Tensor top = torch::maximum(lse_a, lse_b);
  // Rows that see no key at all (both -inf) get weights 0, as the kernel gives them.
  top = torch::where(torch::isinf(top), torch::zeros_like(top), top);
  torch::Tensor ea = torch::exp(lse_a - top), eb = torch::exp(lse_b - top);
  torch::Tensor total = ea + eb;
  total = torch::where(total > 0, total, torch::ones_like(total));
  torch::Tensor inv = 1.0 / total;  // as the kernel: one division, two products
  torch::Tensor wa = (ea * inv).unsqueeze(-1), wb = (eb * inv).unsqueeze(-1);
  torch::ScalarType compute =
      out_a.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  return (out_a.to(compute) * wa.to(compute) + out_b.to(compute) * wb.to(compute))
      .to(out_a.scalar_type());
}

void merge_attention(const torch::Tensor& out_a, const torch::Tensor& lse_a,
                     const torch::Tensor& out_b, const torch::Tensor& lse_b,
                     const torch::Tensor& out) {
#ifdef LONGCTX_HAVE_CUDA_KERNELS
  if (merge_kernel_fits(out_a, lse_a, out_b, lse_b, out)) {
    merge_kernel(out_a, lse_a, out_b, lse_b, out);
    return;
  }
#endif
  out.copy_(merge_attention_plain(out_a, lse_a, out_b, lse_b));
}

}  // namespace longctx
