// The trainer on CUDA (ctest label gpu; skipped without a CUDA device): bfloat16 compute with
// float32 masters and the fused AdamW kernel trains the debug model as float32 on the CPU does,
// and the optimizer offload gives the same run.
#include <gtest/gtest.h>

#include "longctx/train/trainer.h"
#include "longctx/train/trainer_test_support.h"

namespace longctx {
namespace {

std::vector<double> losses_of(const fs::path& tmp, const std::string& name,
                              const std::string& device, bool offload, int steps) {
  TrainConfig c;
  c.model = (tmp / "model").string();
  c.data = (tmp / "counting").string();
  c.out = (tmp / name).string();
  c.seq_len = 64;
  c.batch_tokens = 256;
  c.micro_batch = 2;
  c.steps = static_cast<uint64_t>(steps);
  c.lr = 1e-2;
  c.device = device;
  c.offload_optimizer = offload;
  Trainer trainer(c, {.note = [](const std::string&) {}});
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    StepMetrics m = trainer.train_step();
    if (device != "cpu") {
      EXPECT_GT(m.peak_memory_gib, 0.0);
      EXPECT_GT(m.mfu, 0.0);
    }
    losses.push_back(m.loss);
  }
  return losses;
}

TEST(TrainerGpu, Bfloat16TrainingFollowsFloat32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ScratchDir tmp;
  write_counting_dataset(tmp.path(), 16, 64);
  write_debug_model(tmp.path());
  std::vector<double> cpu = losses_of(tmp.path(), "cpu", "cpu", false, 30);
  std::vector<double> gpu = losses_of(tmp.path(), "gpu", "cuda", false, 30);
  std::vector<double> offload = losses_of(tmp.path(), "offload", "cuda", true, 30);
  // Step 1 sees the same weights: bf16 rounding only.
  EXPECT_NEAR(gpu[0], cpu[0], 0.02 * cpu[0]);
  EXPECT_NEAR(offload[0], cpu[0], 0.02 * cpu[0]);
  // All three learn the pattern.
  EXPECT_LT(cpu.back(), 0.5);
  EXPECT_LT(gpu.back(), 0.5);
  EXPECT_LT(offload.back(), 0.5);
}

}  // namespace
}  // namespace longctx
