// Helpers shared by the model tests (CPU and GPU): header-only, test code only.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace longctx::test {

// ||out - ref|| / ||ref|| in float64 (L2 over all elements).
inline double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
  return ((out.to(torch::kDouble) - ref.to(torch::kDouble)).norm() / ref.to(torch::kDouble).norm())
      .item<double>();
}

// n token ids in [3, 203), a fixed pattern shifted by `offset`: prompts that share prefixes
// when their offsets agree and differ from the first token when they do not.
inline std::vector<int32_t> counting_ids(int n, int offset) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(3 + (i * 7 + offset) % 200);
  return ids;
}

}  // namespace longctx::test
