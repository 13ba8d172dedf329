// Helpers shared by the model tests (CPU and GPU): header-only, test code only.
#pragma once

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace longctx::test {

// ||out - ref|| / ||ref|| in float64 (L2 over all elements).
inline double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
  return ((out.to(torch::kDouble) - ref.to(torch::kDouble)).norm() / ref.to(torch::kDouble).norm())
      .item<double>();
}

// How far apart two results of the same math in `dtype` may be: one rounding of the larger,
// plus, where a float32 multiply-add is contracted one way and not the other and the sum
// cancels, one float32 rounding of the largest element. In bf16 and fp16 that last rounding
// only rarely moves a result, so nearly all elements must be bit-identical.
inline void expect_within_one_rounding(const torch::Tensor& fused, const torch::Tensor& plain,
                                       const std::string& what) {
  torch::Tensor a = fused.to(torch::kCPU, torch::kDouble),
                b = plain.to(torch::kCPU, torch::kDouble);
  double ulp = fused.scalar_type() == torch::kBFloat16 ? 0x1p-7
               : fused.scalar_type() == torch::kHalf   ? 0x1p-10
                                                       : 0x1p-23;
  double contraction = 0x1p-22 * b.abs().max().item<double>();
  torch::Tensor allowed = ulp * torch::maximum(a.abs(), b.abs()) + contraction;
  torch::Tensor over = (a - b).abs() > allowed;
  EXPECT_EQ(over.sum().item<int64_t>(), 0) << what << ": elements more than one rounding apart";
  if (fused.scalar_type() != torch::kFloat) {
    double differing = (a != b).to(torch::kDouble).mean().item<double>();
    EXPECT_LT(differing, 0.01) << what << ": share of elements not bit-identical";
  }
}

// n token ids in [3, 203), a fixed pattern shifted by `offset`: prompts that share prefixes
// when their offsets agree and differ from the first token when they do not.
inline std::vector<int32_t> counting_ids(int n, int offset) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(3 + (i * 7 + offset) % 200);
  return ids;
}

}  // namespace longctx::test
