// GCC 13 reports a false -Warray-bounds and -Wstringop-overflow in std::vector<bool>::reserve
// inlined from PyTorch 2.x's Function::apply (train_ops.cpp says more); this comes before every
// include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

// Activation recomputation (train_ops.h): recompute, and recompute_chunked_mlp for a layer
// whose MLP runs again a chunk of tokens at a time.
#include <algorithm>
#include <functional>
#include <utility>

#include "longctx/model/train_ops.h"  // declares both

namespace longctx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

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

// recompute_chunked_mlp. Rows of dim 1 per chunk: chunk_tokens over the batch, at least one.
int64_t chunk_rows(const torch::Tensor& x, int64_t chunk_tokens) {
  if (chunk_tokens <= 0) return x.size(1);
  return std::clamp<int64_t>(chunk_tokens / std::max<int64_t>(1, x.size(0)), 1, x.size(1));
}

// mlp over x [B, T, d] a chunk of dim 1 at a time, into one [B, T, d] output.
torch::Tensor chunked(const Block& mlp, const torch::Tensor& x, int64_t rows) {
  if (rows >= x.size(1)) return mlp(x);
  torch::Tensor out = torch::empty_like(x);
  for (int64_t start = 0; start < x.size(1); start += rows) {
    int64_t n = std::min(rows, x.size(1) - start);
    out.narrow(1, start, n).copy_(mlp(x.narrow(1, start, n)));
  }
  return out;
}

struct RecomputeChunkedLayerFunction : torch::autograd::Function<RecomputeChunkedLayerFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const Block& attention, const Block& mlp,
                               const torch::Tensor& x, const torch::Tensor& /*anchor*/,
                               int64_t rows) {
    ctx->saved_data["attention"] =
        c10::IValue::make_capsule(c10::make_intrusive<BlockHolder>(attention));
    ctx->saved_data["mlp"] = c10::IValue::make_capsule(c10::make_intrusive<BlockHolder>(mlp));
    ctx->saved_data["rows"] = rows;
    ctx->save_for_backward({x});
    torch::NoGradGuard no_grad;
    return chunked(mlp, attention ? attention(x) : x, rows);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    torch::Tensor x = ctx->get_saved_variables()[0];
    auto block = [&](const char* name) -> const Block& {
      c10::intrusive_ptr<torch::CustomClassHolder> capsule = ctx->saved_data[name].toCapsule();
      return static_cast<BlockHolder*>(capsule.get())->block;
    };
    const Block &attention = block("attention"), &mlp = block("mlp");
    const int64_t rows = ctx->saved_data["rows"].toInt();
    const torch::Tensor& grad = grad_outputs[0];
    // Tensor inputs: x is 0, the anchor 1 (the blocks and rows are none).
    torch::Tensor input = x.detach().requires_grad_(ctx->needs_input_grad(0));
    torch::Tensor h;
    {
      torch::AutoGradMode enable(true);
      h = attention ? attention(input) : input;
    }
    // The MLP's gradient, chunk by chunk; parameters accumulate into their .grad (reentrant).
    torch::Tensor h_grad = torch::empty_like(h);
    torch::Tensor h_value = h.detach();
    for (int64_t start = 0; start < h.size(1); start += rows) {
      int64_t n = std::min(rows, h.size(1) - start);
      torch::Tensor part = h_value.narrow(1, start, n).detach().requires_grad_(true);
      torch::Tensor y;
      {
        torch::AutoGradMode enable(true);
        y = mlp(part);
      }
      torch::autograd::backward({y}, {grad.narrow(1, start, n)});
      h_grad.narrow(1, start, n).copy_(part.grad());
    }
    torch::Tensor x_grad;
    if (attention) {
      if (h.requires_grad()) torch::autograd::backward({h}, {h_grad});
      if (input.requires_grad()) x_grad = input.grad();
    } else if (input.requires_grad()) {
      x_grad = h_grad;
    }
    return {torch::Tensor(), torch::Tensor(), x_grad, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor recompute(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                        const torch::Tensor& x) {
  // Without gradients (evaluation) there is nothing to recompute.
  if (!torch::GradMode::is_enabled()) return block(x);
  torch::Tensor anchor = torch::empty({0}).requires_grad_(!x.requires_grad());
  return RecomputeFunction::apply(block, x, anchor);
}

torch::Tensor recompute_chunked_mlp(const Block& attention, const Block& mlp,
                                    const torch::Tensor& x, int64_t chunk_tokens) {
  const int64_t rows = chunk_rows(x, chunk_tokens);
  if (!torch::GradMode::is_enabled()) return chunked(mlp, attention ? attention(x) : x, rows);
  torch::Tensor anchor = torch::empty({0}).requires_grad_(!x.requires_grad());
  return RecomputeChunkedLayerFunction::apply(attention, mlp, x, anchor, rows);
}

}  // namespace longctx
