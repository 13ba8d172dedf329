// GCC 13 reports a false -Warray-bounds and -Wstringop-overflow in std::vector<bool>::reserve
// inlined from PyTorch 2.x's Function::apply. Middle-end warnings follow the pragma state where the
// standard header was read, so this comes before every include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include "longctx/model/train_ops.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "longctx/base/error.h"
#include "longctx/model/torch_compat.h"

#ifdef LONGCTX_HAVE_CUDA_KERNELS
#include "longctx/model/cuda_kernels_torch.h"
#endif

// PyTorch 2.9+ has a fused RMSNorm kernel pair (one pass forward, one backward) on CUDA.
#if __has_include(<ATen/ops/_fused_rms_norm.h>) && __has_include(<ATen/ops/_fused_rms_norm_backward.h>)
#include <ATen/ops/_fused_rms_norm.h>
#include <ATen/ops/_fused_rms_norm_backward.h>
#define LONGCTX_FUSED_RMS_NORM 1
#endif

// cuDNN attention's forward with its log-sum-exp, and its backward: libtorch 2.5+.
#if (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)) && \
    __has_include(<ATen/ops/_scaled_dot_product_cudnn_attention.h>) &&                        \
    __has_include(<ATen/ops/_scaled_dot_product_cudnn_attention_backward.h>)
#include <ATen/ops/_scaled_dot_product_cudnn_attention.h>
#include <ATen/ops/_scaled_dot_product_cudnn_attention_backward.h>
#define LONGCTX_KEEP_ATTENTION 1
#endif

namespace longctx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The math type of the float32 parts: float32 for bfloat16/float16/float32 inputs, float64
// for float64 ones (the gradient checks run in float64; nothing trains in it).
torch::ScalarType math_type(torch::ScalarType dtype) {
  return c10::promoteTypes(dtype, torch::kFloat);
}

// rms_norm. With h = float(x), r = rsqrt(mean(h^2) + eps), n = h * r and y = w * cast(n):
//   dL/dw = sum over rows of g * cast(n)
//   dL/dh = r * (gn - n * mean(gn * n)),  gn = g * w   (the cast's gradient is the identity)
// where the second line is gn * r plus the path through r: dr/dh_i = -r^3 h_i / d.
struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    // The same ops as RMSNormImpl::forward, so the result is bit-identical.
    torch::Tensor h = x.to(math_type(x.scalar_type()));                         // [..., d]
    torch::Tensor r = torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);  // [..., 1]
    ctx->save_for_backward({x, weight, r});
    return weight * (h * r).to(x.scalar_type());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &r = saved[2];
    torch::ScalarType math = r.scalar_type();
    int64_t d = x.size(-1);
    torch::Tensor g = grad_outputs[0].to(math);  // [..., d]
    torch::Tensor n = x.to(math) * r;            // [..., d], uncast
    torch::Tensor grad_x, grad_weight;
    if (ctx->needs_input_grad(1)) {
      // weight multiplied the cast n: use it, as autograd would.
      torch::Tensor cast_n = n.to(x.scalar_type()).to(math);
      grad_weight = (g * cast_n).reshape({-1, d}).sum(0).to(weight.scalar_type());  // [d]
    }
    if (ctx->needs_input_grad(0)) {
      torch::Tensor gn = g * weight.to(math);
      grad_x = (r * (gn - n * (gn * n).mean(-1, /*keepdim=*/true))).to(x.scalar_type());
    }
    return {grad_x, grad_weight, torch::Tensor()};
  }
};

// apply_rotary: y = x * cos + roll(x, s) * sin with s = D/2, i.e. y_j = x_j cos_j +
// x_(j-s) sin_j. x_k reaches y_k through cos_k and y_(k+s) through sin_(k+s), so
//   dL/dx = g * cos + roll(g * sin, -s) = g * cos + roll(g, -s) * roll(sin, -s).
struct RotaryFunction : torch::autograd::Function<RotaryFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin_signed) {
    // The same ops as rotate() in llama.cpp, so the result is bit-identical.
    torch::Tensor y = torch::addcmul(x * cos, torch::roll(x, {x.size(-1) / 2}, {-1}), sin_signed);
    if (y.sizes() != x.sizes()) {
      throw Error(fmt::format("apply_rotary: cos/sin of shape [{}] do not broadcast to x [{}]",
                              fmt::join(cos.sizes(), ", "), fmt::join(x.sizes(), ", ")),
                  "pass cos and sin_signed as [T, D] for x [B, H, T, D]");
    }
    ctx->save_for_backward({cos, sin_signed});
    ctx->saved_data["dtype"] = x.scalar_type();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    if (!ctx->needs_input_grad(0)) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &cos = saved[0], &sin_signed = saved[1];
    const torch::Tensor& g = grad_outputs[0];  // [B, H, T, D]
    int64_t shift = g.size(-1) / 2;
    torch::Tensor grad_x = torch::addcmul(g * cos, torch::roll(g, {-shift}, {-1}),
                                          torch::roll(sin_signed, {-shift}, {-1}));
    return {grad_x.to(ctx->saved_data["dtype"].toScalarType()), torch::Tensor(), torch::Tensor()};
  }
};

#ifdef LONGCTX_KEEP_ATTENTION
bool keep_fits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  bool half = q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf;
  int64_t d = q.size(3);
  return q.is_cuda() && half && k.scalar_type() == q.scalar_type() &&
         v.scalar_type() == q.scalar_type() && d % 8 == 0 && d <= 128 && k.size(1) > 0 &&
         q.size(1) % k.size(1) == 0 && q.size(2) == k.size(2);
}

// Attention whose forward already ran: returns (an alias of) the kept output; backward is
// cuDNN's attention backward from the kept output and log-sum-exp, as PyTorch's own derivative
// of _scaled_dot_product_cudnn_attention computes it. The kept state rides in a capsule, not as
// tensor arguments: some of it is undefined tensors, which autograd inputs may not be.
struct KeptHolder : torch::CustomClassHolder {
  explicit KeptHolder(KeptAttention k) : kept(std::move(k)) {}
  KeptAttention kept;
};

struct KeptAttentionFunction : torch::autograd::Function<KeptAttentionFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, KeptAttention kept) {
    torch::Tensor out = kept.out.view_as(kept.out);  // the output; the capsule keeps the base
    ctx->saved_data["kept"] =
        c10::IValue::make_capsule(c10::make_intrusive<KeptHolder>(std::move(kept)));
    ctx->save_for_backward({q, k, v});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    c10::intrusive_ptr<torch::CustomClassHolder> capsule = ctx->saved_data["kept"].toCapsule();
    const KeptAttention& kept = static_cast<KeptHolder*>(capsule.get())->kept;
    auto [dq, dk, dv] = at::_scaled_dot_product_cudnn_attention_backward(
        grad_outputs[0], q, k, v, kept.out, kept.lse, kept.seed, kept.offset, /*attn_bias=*/{},
        kept.cum_q, kept.cum_k, kept.max_q, kept.max_k, /*dropout_p=*/0.0, /*is_causal=*/true);
    // Grouped-query heads: should the gradients come back at H heads, sum each group.
    auto grouped = [&](const torch::Tensor& g, const torch::Tensor& like) {
      if (g.size(1) == like.size(1)) return g;
      return g.view({g.size(0), like.size(1), g.size(1) / like.size(1), g.size(2), g.size(3)})
          .sum(2);
    };
    return {dq, grouped(dk, k), grouped(dv, v), torch::Tensor()};
  }
};
#endif

// lm_head_loss. Per row, loss = logsumexp(z) - z[t] with z the float32 logits, so
// dL/dz = (softmax(z) - onehot(t)) * g, and the two matmul gradients follow from z = h W^T.
// The logits stay in the model dtype: (log_)softmax reads them and computes in float32 with
// no float32 copy of [c, V]. The row scale g goes on the [c, d] side of each product instead
// of the [c, V] one:  dL/dh = g * ((softmax - onehot) W),  dL/dW = (softmax - onehot)^T (g * h).
struct LmHeadLossFunction : torch::autograd::Function<LmHeadLossFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t chunk_tokens) {
    int64_t n = hidden.size(0);
    torch::Tensor losses =
        torch::empty({n}, hidden.options().dtype(math_type(hidden.scalar_type())));  // [N]
    for (int64_t start = 0; start < n; start += chunk_tokens) {
      int64_t rows = std::min(chunk_tokens, n - start);
      torch::Tensor target = targets.narrow(0, start, rows);  // [c]
      torch::Tensor ignored = target == kIgnoreIndex;
      torch::Tensor logits = torch::matmul(hidden.narrow(0, start, rows), weight.t());  // [c, V]
      torch::Tensor log_probs = torch::log_softmax(logits, -1, losses.scalar_type());   // float32
      torch::Tensor picked =
          log_probs.gather(1, target.masked_fill(ignored, 0).unsqueeze(1)).squeeze(1);  // [c]
      losses.narrow(0, start, rows).copy_(picked.neg().masked_fill_(ignored, 0.0));
    }
    ctx->save_for_backward({hidden, weight, targets});
    ctx->saved_data["chunk_tokens"] = chunk_tokens;
    return losses;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[2];
    int64_t chunk_tokens = ctx->saved_data["chunk_tokens"].toInt();
    const torch::Tensor& grad_losses = grad_outputs[0];  // [N]
    torch::ScalarType math = grad_losses.scalar_type();
    int64_t n = hidden.size(0);
    torch::Tensor grad_hidden, grad_weight;
    if (ctx->needs_input_grad(0)) grad_hidden = torch::empty_like(hidden);  // [N, d]
    if (ctx->needs_input_grad(1))
      grad_weight = torch::zeros(weight.sizes(), weight.options().dtype(math));  // [V, d]
    if (!grad_hidden.defined() && !grad_weight.defined()) return {{}, {}, {}, {}};
    for (int64_t start = 0; start < n; start += chunk_tokens) {
      int64_t rows = std::min(chunk_tokens, n - start);
      torch::Tensor h = hidden.narrow(0, start, rows);        // [c, d]
      torch::Tensor target = targets.narrow(0, start, rows);  // [c]
      torch::Tensor ignored = target == kIgnoreIndex;
      torch::Tensor scale = grad_losses.narrow(0, start, rows)
                                .masked_fill(ignored, 0.0)
                                .unsqueeze(1);  // [c, 1] float32
      // softmax - onehot, unscaled; ignored rows take their scale of 0 below.
      torch::Tensor dlogits = torch::softmax(torch::matmul(h, weight.t()), -1, math);  // [c, V]
      dlogits.scatter_add_(1, target.masked_fill(ignored, 0).unsqueeze(1),
                           torch::full({rows, 1}, -1.0, dlogits.options()));
      dlogits = dlogits.to(hidden.scalar_type());
      if (grad_hidden.defined()) {
        torch::Tensor out = grad_hidden.narrow(0, start, rows);  // [c, d], contiguous rows
        torch::mm_out(out, dlogits, weight);
        out.mul_(scale);  // in float32, rounded once to out's dtype
      }
      if (grad_weight.defined()) {
        torch::Tensor scaled_h = (h * scale).to(h.scalar_type());  // [c, d]
        if (dlogits.scalar_type() == math) {
          grad_weight.addmm_(dlogits.t(), scaled_h);
        } else {
          grad_weight.add_(torch::mm(dlogits.t(), scaled_h));
        }
      }
    }
    if (grad_weight.defined()) grad_weight = grad_weight.to(weight.scalar_type());
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor()};
  }

  static constexpr int64_t kIgnoreIndex = -100;  // transformers' ignore_index
};

}  // namespace

#ifdef LONGCTX_FUSED_RMS_NORM
// On CUDA the two fused kernels replace a dozen float32 passes over [T, d]. They round once,
// w * x * rsqrt(...) in float32 then cast, where transformers casts before multiplying by w:
// results differ from the plain formula by one bf16 rounding, which training tolerates (the
// inference path keeps transformers' exact order).
struct FusedRmsNormFunction : torch::autograd::Function<FusedRmsNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    auto [y, rstd] = at::_fused_rms_norm(x, {x.size(-1)}, weight, eps);
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list saved = ctx->get_saved_variables();
    auto [grad_x, grad_weight] = at::_fused_rms_norm_backward(
        grad_outputs[0].contiguous(), saved[0], {saved[0].size(-1)}, saved[2], saved[1],
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1)});
    return {grad_x, grad_weight, torch::Tensor()};
  }
};
#endif

#ifdef LONGCTX_HAVE_CUDA_KERNELS
namespace {

namespace ck = cuda_kernels;
using ck::check_launch;
using ck::current_stream;
using ck::kernel_dtype;

// x [B, H, T, D] with D contiguous, B, H, T at any strides (a transposed projection, or a
// narrow of the fused q/k/v projection's output); cos and sin [T, D] with contiguous rows, on
// x's device and of its dtype.
bool rotary_kernel_fits(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin) {
  return fused_kernels_enabled() && x.is_cuda() && kernel_dtype(x.scalar_type()) && x.dim() == 4 &&
         x.size(3) % 2 == 0 && x.stride(3) == 1 && cos.dim() == 2 && sin.sizes() == cos.sizes() &&
         cos.size(0) == x.size(2) && cos.size(1) == x.size(3) && cos.stride(1) == 1 &&
         sin.stride(1) == 1 && cos.stride(0) == sin.stride(0) &&
         cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type() &&
         cos.device() == x.device() && sin.device() == x.device();
}

// y = rotation of x (forward) or its inverse (backward). y is dense with its dims in x's
// memory order: x's own strides where x is dense; [B, T, H, D] storage for a narrow of the
// [B, T, (H + 2K) * D] fused projection.
torch::Tensor rotary_kernel(const torch::Tensor& x, const torch::Tensor& cos,
                            const torch::Tensor& sin, ck::Pass pass) {
  // [B, H, T, D] stored as [B, T, H, D] (a transposed projection): order B, T, H; t_dim 1.
  std::array<int, 3> order = ck::outer_dims_in_memory_order(x);
  torch::Tensor stored =
      torch::empty({x.size(order[0]), x.size(order[1]), x.size(order[2]), x.size(3)}, x.options());
  std::array<int64_t, 4> back{0, 0, 0, 3};  // stored's dim of each of x's dims
  for (int i = 0; i < 3; ++i) back[order[i]] = i;
  torch::Tensor y = stored.permute(back);  // [B, H, T, D]
  ck::RotaryShape shape{};
  for (int i = 0; i < 3; ++i) {
    shape.sizes[i] = x.size(order[i]);
    shape.strides[i] = x.stride(order[i]);
    shape.y_strides[i] = y.stride(order[i]);
    if (order[i] == 2) shape.t_dim = i;
  }
  shape.head_dim = x.size(3);
  shape.table_stride = cos.stride(0);
  c10::cuda::CUDAGuard guard(x.device());
  check_launch(ck::rotary(*kernel_dtype(x.scalar_type()), pass, x.data_ptr(), cos.data_ptr(),
                          sin.data_ptr(), y.data_ptr(), shape, current_stream()));
  return y;
}

struct FusedRotaryFunction : torch::autograd::Function<FusedRotaryFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin_signed) {
    ctx->save_for_backward({cos, sin_signed});
    return rotary_kernel(x, cos, sin_signed, ck::Pass::kForward);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    if (!ctx->needs_input_grad(0)) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    variable_list saved = ctx->get_saved_variables();
    torch::Tensor g = grad_outputs[0];  // [B, H, T, D]
    if (g.stride(3) != 1) g = g.contiguous();
    return {rotary_kernel(g, saved[0], saved[1], ck::Pass::kBackward), torch::Tensor(),
            torch::Tensor()};
  }
};

// Rows of [..., F] as [N, F] `stride` elements apart: true when every dim before the last
// two steps over whole rows (a contiguous tensor, or a narrow of the last dim of one).
bool uniform_rows(const torch::Tensor& t) {
  if (t.dim() < 1 || t.stride(-1) != 1) return false;
  for (int64_t i = 0; i + 2 < t.dim(); ++i) {
    if (t.size(i) > 1 && t.stride(i) != t.stride(i + 1) * t.size(i + 1)) return false;
  }
  return true;
}

int64_t row_stride(const torch::Tensor& t) {
  return t.dim() >= 2 ? t.stride(-2) : t.size(-1);
}

int64_t rows_of(const torch::Tensor& t) {  // N of [..., F] as [N, F]
  return t.size(-1) == 0 ? 0 : t.numel() / t.size(-1);
}

bool swiglu_kernel_fits(const torch::Tensor& gate, const torch::Tensor& up) {
  return fused_kernels_enabled() && gate.is_cuda() && kernel_dtype(gate.scalar_type()) &&
         up.scalar_type() == gate.scalar_type() && up.sizes() == gate.sizes() &&
         up.device() == gate.device() && gate.dim() >= 1;
}

struct FusedSwiGluFunction : torch::autograd::Function<FusedSwiGluFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor gate, torch::Tensor up) {
    if (!uniform_rows(gate)) gate = gate.contiguous();
    if (!uniform_rows(up)) up = up.contiguous();
    torch::Tensor out = torch::empty(gate.sizes(), gate.options());  // [..., F]
    c10::cuda::CUDAGuard guard(gate.device());
    check_launch(ck::swiglu_forward(*kernel_dtype(gate.scalar_type()), gate.data_ptr(),
                                    row_stride(gate), up.data_ptr(), row_stride(up), out.data_ptr(),
                                    rows_of(gate), gate.size(-1), current_stream()));
    ctx->save_for_backward({gate, up});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &gate = saved[0], &up = saved[1];
    torch::Tensor grad_out = grad_outputs[0].contiguous();  // [..., F]
    torch::Tensor grad_gate = torch::empty(gate.sizes(), gate.options());
    torch::Tensor grad_up = torch::empty(gate.sizes(), gate.options());
    c10::cuda::CUDAGuard guard(gate.device());
    check_launch(ck::swiglu_backward(*kernel_dtype(gate.scalar_type()), grad_out.data_ptr(),
                                     gate.data_ptr(), row_stride(gate), up.data_ptr(),
                                     row_stride(up), grad_gate.data_ptr(), grad_up.data_ptr(),
                                     rows_of(gate), gate.size(-1), current_stream()));
    return {grad_gate, grad_up};
  }
};

}  // namespace
#endif

bool fused_kernels_built() {
#ifdef LONGCTX_HAVE_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

bool fused_kernels_enabled() {
#ifdef LONGCTX_HAVE_CUDA_KERNELS
  static const bool enabled = [] {
    const char* value = std::getenv("LONGCTX_FUSED_KERNELS");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
#else
  return false;
#endif
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#ifdef LONGCTX_FUSED_RMS_NORM
  if (x.is_cuda() && x.scalar_type() == weight.scalar_type() && x.is_contiguous())
    return FusedRmsNormFunction::apply(x, weight, eps);
#endif
  return RmsNormFunction::apply(x, weight, eps);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin_signed) {
#ifdef LONGCTX_HAVE_CUDA_KERNELS
  if (rotary_kernel_fits(x, cos, sin_signed)) return FusedRotaryFunction::apply(x, cos, sin_signed);
#endif
  return RotaryFunction::apply(x, cos, sin_signed);
}

torch::Tensor apply_rotary_plain(const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin_signed) {
  return RotaryFunction::apply(x, cos, sin_signed);
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
#ifdef LONGCTX_HAVE_CUDA_KERNELS
  if (swiglu_kernel_fits(gate, up)) return FusedSwiGluFunction::apply(gate, up);
#endif
  return swiglu_plain(gate, up);
}

torch::Tensor swiglu_plain(const torch::Tensor& gate, const torch::Tensor& up) {
  return torch::silu(gate) * up;
}

torch::Tensor causal_attention_kept(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, KeptAttention* keep) {
#ifdef LONGCTX_KEEP_ATTENTION
  if (keep != nullptr && keep_fits(q, k, v)) {
    bool grad = torch::GradMode::is_enabled();
    if (!grad && !keep->out.defined()) {
      // The first forward of a recomputed layer: run attention once and keep what backward needs.
      auto r = at::_scaled_dot_product_cudnn_attention(q, k, v, /*attn_bias=*/std::nullopt,
                                                       /*compute_log_sumexp=*/true,
                                                       /*dropout_p=*/0.0, /*is_causal=*/true,
                                                       /*return_debug_mask=*/false);
      keep->out = std::get<0>(r);
      keep->lse = std::get<1>(r);
      keep->cum_q = std::get<2>(r);
      keep->cum_k = std::get<3>(r);
      keep->max_q = std::get<4>(r).guard_int(__FILE__, __LINE__);
      keep->max_k = std::get<5>(r).guard_int(__FILE__, __LINE__);
      keep->seed = std::get<6>(r);
      keep->offset = std::get<7>(r);
      return keep->out;
    }
    if (grad && keep->out.defined()) {
      // The forward that backward runs again: the kept output, and the kept state leaves the
      // holder (the autograd node holds it until its backward has run).
      KeptAttention kept = std::move(*keep);
      *keep = KeptAttention{};
      return KeptAttentionFunction::apply(q, k, v, std::move(kept));
    }
  }
#else
  (void)keep;
#endif
  return causal_attention_gqa(q, k, v);
}

bool attention_keeping_built() {
#ifdef LONGCTX_KEEP_ATTENTION
  return true;
#else
  return false;
#endif
}

torch::Tensor lm_head_loss(const torch::Tensor& hidden, const torch::Tensor& weight,
                           const torch::Tensor& targets, int64_t chunk_tokens) {
  if (hidden.dim() != 2 || weight.dim() != 2 || hidden.size(1) != weight.size(1)) {
    throw Error(fmt::format("lm_head_loss: hidden [{}] and weight [{}] are not [N, d] and [V, d]",
                            fmt::join(hidden.sizes(), ", "), fmt::join(weight.sizes(), ", ")),
                "flatten the batch: hidden.reshape({-1, d})");
  }
  if (hidden.scalar_type() != weight.scalar_type()) {
    throw Error(fmt::format("lm_head_loss: hidden is {} but weight is {}",
                            c10::toString(hidden.scalar_type()),
                            c10::toString(weight.scalar_type())));
  }
  if (targets.dim() != 1 || targets.size(0) != hidden.size(0) ||
      targets.scalar_type() != torch::kLong) {
    throw Error(fmt::format("lm_head_loss: targets must be [{}] int64, found [{}] {}",
                            hidden.size(0), fmt::join(targets.sizes(), ", "),
                            c10::toString(targets.scalar_type())));
  }
  if (chunk_tokens < 1)
    throw Error(fmt::format("lm_head_loss: chunk_tokens must be positive, found {}", chunk_tokens));
  return LmHeadLossFunction::apply(hidden, weight, targets, chunk_tokens);
}

}  // namespace longctx
