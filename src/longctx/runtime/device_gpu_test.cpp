// The CUDA allocator setting of cuda_allocator.h (ctest label gpu; skipped without CUDA). Every
// GPU test runs with the allocator the `longctx` binary sets up: the environment below calls
// prefer_expandable_segments() before any test touches CUDA, as tools/main.cpp does.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

#include "longctx/runtime/cuda_allocator.h"
#include "longctx/runtime/device.h"

namespace longctx {
namespace {

class AllocatorEnvironment : public testing::Environment {
 public:
  void SetUp() override { prefer_expandable_segments(); }
};
[[maybe_unused]] testing::Environment* const kAllocatorEnvironment =
    testing::AddGlobalTestEnvironment(new AllocatorEnvironment);

TEST(DeviceGpu, ExpandableSegmentsAreOnUnlessTheUserChose) {
  bool user_chose = std::getenv("PYTORCH_ALLOC_CONF") != nullptr ||
                    std::getenv("PYTORCH_CUDA_ALLOC_CONF") != nullptr;
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::Tensor a = torch::ones({1 << 20}, torch::dtype(torch::kFloat).device(torch::kCUDA));
  EXPECT_EQ(a.sum().item<double>(), 1 << 20);
  std::printf(
      "expandable segments: %s (PYTORCH_ALLOC_CONF %s, PYTORCH_CUDA_ALLOC_CONF %s)\n",
      expandable_segments_enabled() ? "on" : "off",
      std::getenv("PYTORCH_ALLOC_CONF") ? std::getenv("PYTORCH_ALLOC_CONF") : "unset",
      std::getenv("PYTORCH_CUDA_ALLOC_CONF") ? std::getenv("PYTORCH_CUDA_ALLOC_CONF") : "unset");
  if (!user_chose) {
    EXPECT_TRUE(expandable_segments_enabled());
  }
  // Memory the allocator holds stays counted as free for the prefill chunk (device.h).
  uint64_t before = free_memory_bytes(torch::kCUDA);
  a.reset();
  EXPECT_GE(free_memory_bytes(torch::kCUDA), before);
}

}  // namespace
}  // namespace longctx
