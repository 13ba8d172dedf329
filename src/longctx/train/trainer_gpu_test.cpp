// The trainer on CUDA (ctest label gpu; skipped without a CUDA device): bfloat16 compute with
// float32 masters and the fused AdamW kernel trains the debug model as float32 on the CPU does,
// and the optimizer offload gives the same run (two micro-batches a step: the offloaded
// accumulation's staging path runs too).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "longctx/model/train_ops.h"
#include "longctx/runtime/device.h"
#include "longctx/train/adamw.h"
#include "longctx/train/plan.h"
#include "longctx/train/trainer.h"
#include "support/trainer_test_support.h"

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
      // The GPU machine's cards (H100, H200) are in the peak table: MFU is known.
      EXPECT_TRUE(m.mfu.has_value());
      EXPECT_GT(m.mfu.value_or(0.0), 0.0);
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
  // The offloaded run follows the GPU run (MasterAdamWGpu below checks the update itself):
  // the CPU's fused AdamW rounds a little differently, and at lr 1e-2 an occasional bf16 weight
  // that rounds the other way moves later losses (by up to 1.3e-3 relative in 10 steps on an
  // H100).
  for (int s = 0; s < 10; ++s) EXPECT_NEAR(offload[s], gpu[s], 5e-3 * gpu[s]) << "step " << s + 1;
  // All three learn the pattern.
  EXPECT_LT(cpu.back(), 0.5);
  EXPECT_LT(gpu.back(), 0.5);
  EXPECT_LT(offload.back(), 0.5);
}

// The offloaded optimizer (gradients down in float32, the CPU's AdamW, weights up in float32 and
// narrowed on the GPU) gives the bf16 weights of the optimizer on the GPU: two micro-batches a
// step (the second summed through the pinned staging buffer), clipping, weight decay on the
// matrix only. A third run keeps the matrix's gradient sum on the GPU (gpu_sum_bytes fits it and
// not the bias), so one parameter sums there and goes down once a step, the other does not.
TEST(MasterAdamWGpu, OffloadedStepsGiveTheWeightsOfStepsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(3);
  auto bf16 = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  torch::Tensor w = torch::randn({512, 384}, bf16), b = torch::randn({384}, bf16);
  std::vector<torch::OrderedDict<std::string, torch::Tensor>> params(3);
  for (auto& p : params) {
    p.insert("w", w.clone().requires_grad_(true));
    p.insert("b", b.clone().requires_grad_(true));
  }
  AdamWOptions options{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  std::vector<std::unique_ptr<MasterAdamW>> opts;
  opts.push_back(std::make_unique<MasterAdamW>(params[0], options));
  options.offload = true;
  opts.push_back(std::make_unique<MasterAdamW>(params[1], options));
  options.gpu_sum_bytes = 512 * 384 * 4;
  opts.push_back(std::make_unique<MasterAdamW>(params[2], options));
  EXPECT_EQ(opts[2]->state_bytes(), opts[1]->state_bytes() + 512 * 384 * 4);
  for (int step = 0; step < 5; ++step) {
    for (int micro = 0; micro < 2; ++micro) {
      for (const char* name : {"w", "b"}) {
        torch::Tensor g = torch::randn(params[0][name].sizes(), bf16) * 0.1;
        for (auto& p : params) p[name].mutable_grad() = g.clone();
      }
      for (auto& o : opts) o->accumulate();
    }
    double norm_gpu = opts[0]->clip_grad_norm(1.0);
    for (size_t k = 1; k < opts.size(); ++k)
      EXPECT_NEAR(opts[k]->clip_grad_norm(1.0), norm_gpu, 1e-4 * norm_gpu) << "run " << k;
    for (auto& o : opts) o->step(1e-2);
  }
  for (size_t k = 1; k < opts.size(); ++k) {
    for (const char* name : {"w", "b"}) {
      SCOPED_TRACE(std::string(name) + " run " + std::to_string(k));
      torch::Tensor a = params[0][name].detach().to(torch::kFloat);
      torch::Tensor c = params[k][name].detach().to(torch::kFloat);
      EXPECT_TRUE(a.is_cuda() && c.is_cuda());
      // The weights moved (5 steps of 1e-2), and moved alike: at most one bf16 rounding apart.
      EXPECT_GT((a - w.to(torch::kFloat)).abs().max().item<double>(), 1e-2);
      torch::Tensor apart = (a - c).abs() > a.abs() * (1.0 / 128) + 1e-6;
      EXPECT_EQ(apart.sum().item<int64_t>(), 0);
      EXPECT_LT((a != c).to(torch::kFloat).mean().item<double>(), 0.01);
    }
  }
}

// A 4-layer model of TinyLlama's widths (dir/model) and `rows` counting rows of `t` tokens
// (dir/counting); returns a one-step CUDA config for them, its --out left to the caller.
TrainConfig four_layer_tinyllama(const fs::path& dir, uint64_t rows, uint32_t t) {
  write_counting_dataset(dir, rows, t);
  ModelConfig config = model_preset("tinyllama-1.1b");
  config.num_hidden_layers = 4;
  LlamaForCausalLM model = init_model(config, /*seed=*/1);
  save_model(model, dir / "model", torch::kBFloat16);
  TrainConfig c;
  c.model = (dir / "model").string();
  c.data = (dir / "counting").string();
  c.seq_len = t;
  c.batch_tokens = t;
  c.steps = 1;
  c.device = "cuda";
  return c;
}

// The memory plan against the peak the allocator records, for each recompute mode and the
// offload, on a 4-layer model of TinyLlama's widths at 16K tokens: the plan must not promise
// less than the run takes (train refuses by it), and should not waste more than 15% either.
TEST(TrainerGpu, PlanCoversTheMeasuredPeak) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ScratchDir tmp;
  const uint32_t t = 16384;
  const TrainConfig base = four_layer_tinyllama(tmp.path(), 4, t);
  struct Case {
    const char* recompute;
    bool offload;
    const char* layers = "all";  // the layers in `recompute`; the others in `rest`
    const char* rest = "none";
  };
  for (Case k :
       {Case{"none", false}, Case{"mlp", false}, Case{"attention", false},
        Case{"full-keep-attention", false}, Case{"full", false}, Case{"full", true},
        Case{"full", false, "2-3", "full-keep-attention"}, Case{"mlp", false, "0-1", "none"}}) {
    std::string name = fmt::format(
        "{}{}{}", k.recompute, k.offload ? "_offload" : "",
        std::string_view(k.layers) == "all" ? "" : fmt::format("_{}_{}", k.layers, k.rest));
    SCOPED_TRACE(name);
    TrainConfig c = base;
    c.out = (tmp.path() / name).string();
    c.batch_tokens = 2 * t;  // two micro-batches: the second's accumulation is in the peak
    c.recompute = k.recompute;
    c.recompute_layers = k.layers;
    c.recompute_rest = k.rest;
    c.offload_optimizer = k.offload;
    Trainer trainer(c, {.note = [](const std::string&) {}});
    double measured = trainer.train_step().peak_memory_gib;
    // What train planned by (gradient sums on the GPU with offload: this model's all fit).
    double planned = static_cast<double>(trainer.plan().total) / (1024.0 * 1024 * 1024);
    EXPECT_EQ(trainer.plan().recompute, k.recompute);
    EXPECT_EQ(trainer.plan().recompute_rest, k.rest);
    EXPECT_EQ(trainer.plan().gpu_sums > 0, k.offload);
    std::printf("plan %-40s: measured %.2f GiB, planned %.2f GiB\n", name.c_str(), measured,
                planned);
    EXPECT_GE(planned, measured);
    EXPECT_LE(planned, 1.15 * measured);
  }
}

// Without --gpu-memory-gib the plan's budget is the memory free when the run starts: with most
// of the card taken by another allocation (standing in for the CUDA context or another
// process), auto picks what fits in the rest, not in the card's total.
TEST(TrainerGpu, AutoPlansWithinTheMemoryFreeAtTheStart) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ScratchDir tmp;
  const TrainConfig base = four_layer_tinyllama(tmp.path(), 2, 16384);
  auto make = [&](const std::string& recompute) {
    TrainConfig c = base;
    c.out = (tmp.path() / recompute).string();
    c.recompute = recompute;
    return c;
  };
  const torch::Device cuda(torch::kCUDA);
  auto planned = [&](const std::string& mode) {
    return Trainer(make(mode), {.note = [](const std::string&) {}}).plan().total;
  };
  const uint64_t none = planned("none"), full = planned("full");
  ASSERT_LT(full + (1ull << 30), none);
  const uint64_t target = (none + full) / 2;
  ASSERT_GT(free_memory_bytes(cuda), target);
  torch::Tensor blocker = torch::empty({static_cast<int64_t>(free_memory_bytes(cuda) - target)},
                                       torch::dtype(torch::kByte).device(cuda));
  const uint64_t free = free_memory_bytes(cuda);
  EXPECT_LT(free, none);
  Trainer trainer(make("auto"), {.note = [](const std::string&) {}});
  EXPECT_LE(trainer.plan().total, free);
  EXPECT_LT(trainer.plan().total, none);
  EXPECT_TRUE(std::isfinite(trainer.train_step().loss));
}

}  // namespace
}  // namespace longctx
