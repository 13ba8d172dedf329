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
#include <utility>

#include "longctx/base/error.h"

// PyTorch 2.9+ has a fused RMSNorm kernel pair (one pass forward, one backward) on CUDA.
#if __has_include(<ATen/ops/_fused_rms_norm.h>) && __has_include(<ATen/ops/_fused_rms_norm_backward.h>)
#include <ATen/ops/_fused_rms_norm.h>
#include <ATen/ops/_fused_rms_norm_backward.h>
#define LONGCTX_FUSED_RMS_NORM 1
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

using Block = std::function<torch::Tensor(const torch::Tensor&)>;

// ctx->saved_data holds IValues only: the block travels in a capsule.
struct BlockHolder : torch::CustomClassHolder {
  explicit BlockHolder(Block b) : block(std::move(b)) {}
  Block block;
};

// recompute. `anchor` is an empty tensor that requires grad when x does not: a custom
// Function's output requires grad only if one of its tensor inputs does, and the parameters
// inside the block are invisible to autograd here. It receives no gradient.
struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const Block& block, const torch::Tensor& x,
                               const torch::Tensor& /*anchor*/) {
    ctx->saved_data["block"] = c10::IValue::make_capsule(c10::make_intrusive<BlockHolder>(block));
    ctx->save_for_backward({x});
    torch::NoGradGuard no_grad;
    return block(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    torch::Tensor x = ctx->get_saved_variables()[0];
    c10::intrusive_ptr<torch::CustomClassHolder> capsule = ctx->saved_data["block"].toCapsule();
    const Block& block = static_cast<BlockHolder*>(capsule.get())->block;
    // The tensor-input index of x is 0 (the block is no tensor input).
    torch::Tensor input = x.detach().requires_grad_(ctx->needs_input_grad(0));
    torch::Tensor y;
    {
      torch::AutoGradMode enable(true);
      y = block(input);
    }
    // Reentrant: parameters used by the block accumulate into their .grad here.
    if (y.requires_grad()) torch::autograd::backward({y}, {grad_outputs[0]});
    return {torch::Tensor(), input.requires_grad() ? input.grad() : torch::Tensor(),
            torch::Tensor()};
  }
};

// lm_head_loss. Per row, loss = logsumexp(z) - z[t] with z the float32 logits, so
// dL/dz = (softmax(z) - onehot(t)) * g, and the two matmul gradients follow from z = h W^T.
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
      torch::Tensor logits =
          torch::matmul(hidden.narrow(0, start, rows), weight.t()).to(losses.scalar_type());
      torch::Tensor log_probs = torch::log_softmax(logits, -1);  // [c, V]
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
      torch::Tensor scale = grad_losses.narrow(0, start, rows).masked_fill(ignored, 0.0);  // [c]
      torch::Tensor dlogits = torch::softmax(torch::matmul(h, weight.t()).to(math), -1);   // [c, V]
      dlogits.mul_(scale.unsqueeze(1));
      dlogits.scatter_add_(1, target.masked_fill(ignored, 0).unsqueeze(1), -scale.unsqueeze(1));
      dlogits = dlogits.to(hidden.scalar_type());
      if (grad_hidden.defined()) {
        torch::Tensor out = grad_hidden.narrow(0, start, rows);  // [c, d], contiguous rows
        torch::mm_out(out, dlogits, weight);
      }
      if (grad_weight.defined()) {
        if (dlogits.scalar_type() == math) {
          grad_weight.addmm_(dlogits.t(), h);
        } else {
          grad_weight.add_(torch::mm(dlogits.t(), h));
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

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#ifdef LONGCTX_FUSED_RMS_NORM
  if (x.is_cuda() && x.scalar_type() == weight.scalar_type() && x.is_contiguous())
    return FusedRmsNormFunction::apply(x, weight, eps);
#endif
  return RmsNormFunction::apply(x, weight, eps);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin_signed) {
  return RotaryFunction::apply(x, cos, sin_signed);
}

torch::Tensor recompute(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                        const torch::Tensor& x) {
  // Without gradients (evaluation) there is nothing to recompute.
  if (!torch::GradMode::is_enabled()) return block(x);
  torch::Tensor anchor = torch::empty({0}).requires_grad_(!x.requires_grad());
  return RecomputeFunction::apply(block, x, anchor);
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
