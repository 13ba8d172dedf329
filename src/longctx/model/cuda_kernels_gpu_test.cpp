// The fused RoPE and SwiGLU kernels (cuda_kernels.h, ctest label gpu; skipped without a CUDA
// device or a build without them): forward and backward against the plain libtorch ops on the
// same device (equal to within one rounding) and against the textbook formulas in float64 on
// the CPU (transformers' rotate_half, silu(g) * u), for each dtype, for the memory layouts the
// model produces, and for sizes that force the scalar (unvectorised) path.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "longctx/model/train_ops.h"
#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::expect_within_one_rounding;
using test::relative_error;

double tolerance(torch::ScalarType dtype) {
  return dtype == torch::kBFloat16 ? 1e-2 : dtype == torch::kHalf ? 2e-3 : 1e-6;
}

// transformers' RoPE: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1); with
// sin negated, the inverse rotation (the gradient of a rotation is its transpose).
torch::Tensor hf_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin) {
  int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

enum class Layout {
  kContiguous,  // [B, H, T, D]
  kTransposed,  // stored [B, T, H, D] and viewed as [B, H, T, D], as the projections are
  kNarrowed,    // heads 2..H+1 of a [B, T, (H + 3) * D] fused projection: not dense
};

struct RotaryCase {
  int64_t b, h, t, d;
  Layout layout;
};

class FusedRotary : public testing::TestWithParam<torch::ScalarType> {};

TEST_P(FusedRotary, MatchesPlainOpsAndTransformersFormula) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!fused_kernels_enabled()) GTEST_SKIP() << "built without the fused CUDA kernels";
  torch::ScalarType dtype = GetParam();
  torch::manual_seed(0);
  // 64 and 128: the model's head sizes (vectorised); 6: three pairs, one element per thread.
  for (RotaryCase c : {RotaryCase{2, 6, 300, 64, Layout::kTransposed},
                       RotaryCase{1, 4, 129, 128, Layout::kContiguous},
                       RotaryCase{2, 3, 17, 6, Layout::kTransposed},
                       RotaryCase{2, 5, 130, 64, Layout::kNarrowed}}) {
    std::string what =
        fmt::format("[{}, {}, {}, {}] layout {}", c.b, c.h, c.t, c.d, static_cast<int>(c.layout));
    // The same values in each layout: x64 is the [B, H, T, D] view, `fused` its storage.
    torch::Tensor fused = torch::randn({c.b, c.t, (c.h + 3) * c.d}, torch::kDouble);
    torch::Tensor x64 =
        fused.narrow(2, 2 * c.d, c.h * c.d).view({c.b, c.t, c.h, c.d}).transpose(1, 2);
    torch::Tensor angles = torch::rand({c.t, c.d / 2}, torch::kDouble) * 100;
    torch::Tensor cos64 = torch::cat({angles.cos(), angles.cos()}, -1);  // [T, D]
    torch::Tensor sin64 = torch::cat({angles.sin(), angles.sin()}, -1);
    int64_t half = c.d / 2;
    torch::Tensor sin_signed64 =
        torch::cat({-sin64.narrow(-1, 0, half), sin64.narrow(-1, half, half)}, -1);
    torch::Tensor grad64 = torch::randn({c.b, c.h, c.t, c.d}, torch::kDouble);

    auto on_gpu = [&](const torch::Tensor& t) { return t.to(torch::kCUDA, dtype); };
    torch::Tensor x = on_gpu(x64.contiguous());
    if (c.layout == Layout::kTransposed)
      x = on_gpu(x64.transpose(1, 2).contiguous()).transpose(1, 2);
    if (c.layout == Layout::kNarrowed)
      x = on_gpu(fused).narrow(2, 2 * c.d, c.h * c.d).view({c.b, c.t, c.h, c.d}).transpose(1, 2);
    ASSERT_EQ(x.is_non_overlapping_and_dense(), c.layout != Layout::kNarrowed) << what;
    torch::Tensor cos = on_gpu(cos64), sin_signed = on_gpu(sin_signed64), grad = on_gpu(grad64);

    torch::Tensor x_fused = x.detach().requires_grad_(true);
    torch::Tensor y_fused = apply_rotary(x_fused, cos, sin_signed);
    ASSERT_TRUE(y_fused.grad_fn() != nullptr);
    EXPECT_NE(y_fused.grad_fn()->name().find("FusedRotary"), std::string::npos)
        << what << ": took " << y_fused.grad_fn()->name();
    // The output keeps x's layout where x is dense; a narrowed x gives [B, T, H, D] storage.
    torch::Tensor like =
        c.layout == Layout::kContiguous ? x : x.transpose(1, 2).contiguous().transpose(1, 2);
    EXPECT_EQ(y_fused.strides(), like.strides()) << what << ": the output's layout";
    y_fused.backward(grad);
    torch::Tensor x_plain = x.detach().requires_grad_(true);
    torch::Tensor y_plain = apply_rotary_plain(x_plain, cos, sin_signed);
    y_plain.backward(grad);

    expect_within_one_rounding(y_fused, y_plain, what + " forward");
    expect_within_one_rounding(x_fused.grad(), x_plain.grad(), what + " backward");
    EXPECT_LT(relative_error(y_fused.cpu(), hf_rotary(x64, cos64, sin64)), tolerance(dtype))
        << what;
    EXPECT_LT(relative_error(x_fused.grad().cpu(), hf_rotary(grad64, cos64, -sin64)),
              tolerance(dtype))
        << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedRotary,
                         testing::Values(torch::kBFloat16, torch::kHalf, torch::kFloat));

class FusedSwiGlu : public testing::TestWithParam<torch::ScalarType> {};

TEST_P(FusedSwiGlu, MatchesPlainOpsAndFormula) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!fused_kernels_enabled()) GTEST_SKIP() << "built without the fused CUDA kernels";
  torch::ScalarType dtype = GetParam();
  torch::manual_seed(1);
  // 1000 columns: vectorised; 37: one element per thread; halves of one [N, 2F] matmul
  // output: rows 2F apart (the inference MLP's fused gate/up).
  for (int64_t cols : {1000, 37}) {
    for (bool halves : {false, true}) {
      std::string what = fmt::format("[2, 129, {}]{}", cols, halves ? " halves of [.., 2F]" : "");
      torch::Tensor gate64, up64;
      if (halves) {
        torch::Tensor both = torch::randn({2, 129, 2 * cols}, torch::kDouble) * 3;
        gate64 = both.narrow(-1, 0, cols);
        up64 = both.narrow(-1, cols, cols);
      } else {
        gate64 = torch::randn({2, 129, cols}, torch::kDouble) * 3;
        up64 = torch::randn({2, 129, cols}, torch::kDouble);
      }
      torch::Tensor grad64 = torch::randn({2, 129, cols}, torch::kDouble);
      torch::Tensor gate, up;
      if (halves) {
        torch::Tensor both = torch::cat({gate64, up64}, -1).to(torch::kCUDA, dtype);
        gate = both.narrow(-1, 0, cols);
        up = both.narrow(-1, cols, cols);
      } else {
        gate = gate64.to(torch::kCUDA, dtype);
        up = up64.to(torch::kCUDA, dtype);
      }
      torch::Tensor grad = grad64.to(torch::kCUDA, dtype);

      torch::Tensor g_fused = gate.detach().requires_grad_(true);
      torch::Tensor u_fused = up.detach().requires_grad_(true);
      torch::Tensor y_fused = swiglu(g_fused, u_fused);
      ASSERT_TRUE(y_fused.grad_fn() != nullptr);
      EXPECT_NE(y_fused.grad_fn()->name().find("FusedSwiGlu"), std::string::npos)
          << what << ": took " << y_fused.grad_fn()->name();
      y_fused.backward(grad);
      torch::Tensor g_plain = gate.detach().requires_grad_(true);
      torch::Tensor u_plain = up.detach().requires_grad_(true);
      swiglu_plain(g_plain, u_plain).backward(grad);
      torch::Tensor y_plain = swiglu_plain(gate, up);

      expect_within_one_rounding(y_fused, y_plain, what + " forward");
      expect_within_one_rounding(g_fused.grad(), g_plain.grad(), what + " d gate");
      expect_within_one_rounding(u_fused.grad(), u_plain.grad(), what + " d up");

      // The formula in float64: y = g sigmoid(g) u; dy/dg = u sigmoid(g) (1 + g (1 - sigmoid)).
      torch::Tensor sig = torch::sigmoid(gate64);
      EXPECT_LT(relative_error(y_fused.cpu(), gate64 * sig * up64), tolerance(dtype)) << what;
      EXPECT_LT(relative_error(u_fused.grad().cpu(), grad64 * gate64 * sig), tolerance(dtype))
          << what;
      EXPECT_LT(
          relative_error(g_fused.grad().cpu(), grad64 * up64 * sig * (1 + gate64 * (1 - sig))),
          tolerance(dtype))
          << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedSwiGlu,
                         testing::Values(torch::kBFloat16, torch::kHalf, torch::kFloat));

TEST(FusedKernels, TurnedOffForCpuTensors) {
  // CPU tensors take the plain ops whatever the build.
  torch::Tensor x = torch::randn({1, 2, 3, 4}, torch::requires_grad());
  torch::Tensor cos = torch::randn({3, 4}), sin = torch::randn({3, 4});
  EXPECT_EQ(apply_rotary(x, cos, sin).grad_fn()->name().find("Fused"), std::string::npos);
  torch::Tensor g = torch::randn({5, 6}, torch::requires_grad());
  EXPECT_EQ(swiglu(g, g).grad_fn()->name().find("Fused"), std::string::npos);
}

TEST(FusedKernels, TurnedOffForBroadcastShapes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!fused_kernels_enabled()) GTEST_SKIP() << "no fused kernels in this build (or turned off)";
  // Decoding's [B, 1, H, D] with one [1, D] row of cos: broadcasts, so the plain ops.
  torch::Tensor q = torch::randn({1, 1, 4, 8}, torch::kCUDA).requires_grad_(true);
  torch::Tensor row = torch::randn({1, 8}, torch::kCUDA);
  EXPECT_EQ(apply_rotary(q, row, row).grad_fn()->name().find("Fused"), std::string::npos);
}

}  // namespace
}  // namespace longctx
