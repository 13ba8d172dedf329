// The memory and time plan (plan.h): what each recompute mode keeps, the peak's two moments,
// the offload's time, mixes of modes across layers and the chunked MLP. Arithmetic only; the
// plan against measured peaks is TrainerGpu.PlanCoversTheMeasuredPeak.
#include "longctx/train/plan.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "longctx/model/presets.h"
#include "longctx/train/train_config.h"

namespace longctx {
namespace {

TEST(PlanTest, RecomputationTradesMemoryForTime) {
  PlanInput in{.config = model_preset("llama2-7b"), .seq_len = 81920};
  std::vector<PlanRow> rows = plan_training(in);
  ASSERT_EQ(rows.size(), 10u);
  auto get = [&](std::string_view mode, bool offload) {
    for (const PlanRow& r : rows)
      if (r.recompute == mode && r.offload == offload) return r;
    return PlanRow{};
  };
  EXPECT_GT(get("none", false).activations, get("mlp", false).activations);
  EXPECT_GT(get("mlp", false).activations, get("full", false).activations);
  EXPECT_LT(get("none", false).step_seconds, get("full", false).step_seconds);
  // 7B: about 6.7e9 parameters; 16 bytes each of optimizer state (masters, sums, moments).
  EXPECT_NEAR(static_cast<double>(get("full", false).optimizer) / 6.74e9, 16.0, 0.2);
  EXPECT_EQ(get("full", true).optimizer, 0u);
  EXPECT_GT(get("full", true).cpu_bytes, 100ull << 30);
  // Full recomputation at 80K on an 80 GB GPU needs offload for 7B, as the paper's ZeRO setup.
  EXPECT_EQ(fastest_fitting(rows, 80ull << 30, false), nullptr);
  ASSERT_NE(fastest_fitting(rows, 80ull << 30, true), nullptr);
  EXPECT_EQ(get("full", false).offload_seconds, 0.0);
}

TEST(PlanTest, GradientsAppearAsBackwardFreesActivations) {
  // 7B: at the start of backward only the head's and the top layer's gradients exist (about
  // 0.2e9 + 0.13e9 parameters), so the peak is weights + activations + transient + those, not
  // every gradient on top of every activation.
  PlanInput in{.config = model_preset("llama2-7b"), .seq_len = 81920};
  for (const PlanRow& r : plan_training(in)) {
    SCOPED_TRACE(r.recompute);
    EXPECT_NEAR(static_cast<double>(r.all_gradients) / 2 / 6.74e9, 1.0, 0.01);
    EXPECT_NEAR(static_cast<double>(r.gradients) / 2, 0.2024e9 + 0.131e9, 0.01e9);
    EXPECT_EQ(r.total,
              r.weights + r.optimizer + r.reserve + r.activations + r.transient + r.gradients);
  }
  // A short row: the end of backward, with every gradient, is the peak.
  in.seq_len = 16;
  for (const PlanRow& r : plan_training(in))
    EXPECT_EQ(r.total, r.weights + r.optimizer + r.reserve + r.all_gradients) << r.recompute;
}

PlanRow plan_row(const PlanInput& input, std::string_view mode, bool offload) {
  for (const PlanRow& r : plan_training(input))
    if (r.recompute == mode && r.offload == offload) return r;
  ADD_FAILURE() << "no row " << mode;
  return PlanRow{};
}

TEST(PlanTest, MixedLayersAddTheirModesLayerByLayer) {
  // 7B at 128K, layers 0-5 keeping their attention output and 6-31 recomputing in full: each
  // part keeps, and recomputes, its layers' share of what the single modes do.
  PlanInput in{.config = model_preset("llama2-7b"), .seq_len = 131072};
  PlanRow keep = plan_row(in, "full-keep-attention", false), full = plan_row(in, "full", false);
  in.recompute_layers = parse_layer_set("6-31", 32);
  in.recompute_rest = "full-keep-attention";
  PlanRow mixed = plan_row(in, "full", false);
  const double outside = 3.0 * 2 * 4096 * 131072;  // embedding output, final norm in and out
  auto share = [&](double a, double b) { return 6.0 / 32 * a + 26.0 / 32 * b; };
  EXPECT_NEAR(static_cast<double>(mixed.activations) - outside,
              share(static_cast<double>(keep.activations) - outside,
                    static_cast<double>(full.activations) - outside),
              64.0);
  const double model = mixed.model_flops_per_token;
  EXPECT_NEAR(mixed.flops_per_token - model,
              share(keep.flops_per_token - model, full.flops_per_token - model), 1.0);
  EXPECT_EQ(mixed.transient, std::max(keep.transient, full.transient));
  EXPECT_EQ(recompute_label(mixed), "full on layers 6-31, full-keep-attention on the others");
  EXPECT_EQ(recompute_label(full), "full");
}

TEST(PlanTest, AutoMixesTwoModesWhereOneAloneLeavesMemoryUnused) {
  // 7B at 128K, offloaded, on an H100's 79.2 GiB: of the single modes only full fits, with
  // GiBs to spare. The fastest configuration keeps the attention output of as many bottom
  // layers as that room holds.
  PlanInput in{.config = model_preset("llama2-7b"), .seq_len = 131072, .fused_swiglu = true};
  const uint64_t budget = static_cast<uint64_t>(79.18 * (1 << 30));
  std::vector<PlanRow> rows = plan_training(in);
  const PlanRow* single = fastest_fitting(rows, budget, true);
  ASSERT_NE(single, nullptr);
  EXPECT_EQ(single->recompute, "full");
  std::optional<PlanRow> mix = auto_recompute(in, budget, true);
  ASSERT_TRUE(mix.has_value());
  EXPECT_EQ(mix->recompute, "full");
  EXPECT_EQ(mix->recompute_rest, "full-keep-attention");
  EXPECT_LE(mix->total, budget);
  EXPECT_LT(mix->step_seconds, single->step_seconds);
  std::vector<bool> layers = parse_layer_set(mix->recompute_layers, 32);
  size_t kept = static_cast<size_t>(std::count(layers.begin(), layers.end(), false));
  ASSERT_GT(kept, 0u);
  ASSERT_LT(kept, 32u);
  EXPECT_EQ(mix->recompute_layers, fmt::format("{}-31", kept));  // the bottom layers keep
  // One layer more would not fit.
  in.recompute_layers = layers;
  in.recompute_layers[kept] = false;
  in.recompute_rest = "full-keep-attention";
  EXPECT_GT(plan_row(in, "full", true).total, budget);

  // Where a single mode fits it wins ties: with room for everything, none on every layer.
  PlanInput roomy{.config = model_preset("tinyllama-1.1b"), .seq_len = 8192};
  std::optional<PlanRow> none = auto_recompute(roomy, 1000ull << 30, false);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->recompute, "none");
  EXPECT_EQ(none->recompute_layers, "all");
  EXPECT_FALSE(auto_recompute(in, 1ull << 30, true).has_value());  // nothing fits 1 GiB
  // Layers given: auto picks a mode for those only, the others keeping --recompute-rest.
  in.recompute_layers = parse_layer_set("4-31", 32);
  in.recompute_rest = "none";
  std::optional<PlanRow> given = auto_recompute(in, 1000ull << 30, true);
  ASSERT_TRUE(given.has_value());
  EXPECT_EQ(given->recompute_layers, "4-31");
  EXPECT_EQ(given->recompute_rest, "none");
}

TEST(PlanTest, ARecomputedMlpHoldsOneChunkOfItsIntermediates) {
  // TinyLlama at 256K: where the MLP runs again (mlp, full, full-keep-attention), its
  // activations and gradient buffers exist for 8192 tokens at a time instead of 262144; the
  // other modes do not change.
  PlanInput in{.config = model_preset("tinyllama-1.1b"), .seq_len = 262144, .fused_swiglu = true};
  std::vector<PlanRow> chunked = plan_training(in);
  in.mlp_chunk = 0;
  std::vector<PlanRow> whole = plan_training(in);
  const double mlp_kept = 2 * 2 * 2048 + 3 * 2 * 5632 + 4, buffers = 2 * 2048 + 2 * 2 * 5632;
  for (size_t i = 0; i < whole.size(); ++i) {
    const std::string& mode = whole[i].recompute;
    bool runs_again = mode == "mlp" || mode == "full" || mode == "full-keep-attention";
    double saved =
        static_cast<double>(whole[i].transient) - static_cast<double>(chunked[i].transient);
    EXPECT_NEAR(saved, runs_again ? (262144.0 - 8192) * (mlp_kept + buffers) : 0.0, 64.0) << mode;
  }
}

TEST(PlanTest, OffloadTimeGrowsWithMicroBatches) {
  // What an offloaded step moves is the gradient of each micro-batch down and the weights up
  // once; the CPU's AdamW runs once a step. So, from the plan's own inputs: the time grows by
  // the same amount with each micro-batch, that amount is one float32 gradient over the host
  // link (it halves when the link is twice as fast), rows grouped into micro-batches count as
  // one transfer each, and the CPU's rate changes the time of every step by the same amount.
  PlanInput in{.config = model_preset("llama2-7b"), .seq_len = 81920};
  auto offload_seconds = [](const PlanInput& input) {
    for (const PlanRow& r : plan_training(input))
      if (r.recompute == "full" && r.offload) return r.offload_seconds;
    ADD_FAILURE() << "no offloaded full row";
    return 0.0;
  };
  std::vector<double> by_rows;
  for (uint64_t rows = 1; rows <= 6; ++rows) {
    in.rows_per_step = rows;
    by_rows.push_back(offload_seconds(in));
  }
  const double step = by_rows[1] - by_rows[0];
  EXPECT_GT(step, 0.0);
  for (size_t i = 1; i < by_rows.size(); ++i)
    EXPECT_NEAR(by_rows[i] - by_rows[i - 1], step, 1e-9 * by_rows.back()) << i + 1 << " rows";
  // One float32 gradient of every parameter (the plan's all_gradients is one in the compute
  // dtype).
  PlanRow any = plan_training(in).front();
  const double gradient_bytes =
      4.0 * static_cast<double>(any.all_gradients) / static_cast<double>(in.compute_bytes);
  EXPECT_NEAR(step, gradient_bytes / in.host_link_bytes_per_second, 1e-9 * step);
  PlanInput faster = in;
  faster.host_link_bytes_per_second *= 2;
  faster.rows_per_step = 2;
  double two_rows = offload_seconds(faster);
  faster.rows_per_step = 1;
  EXPECT_NEAR(two_rows - offload_seconds(faster), step / 2, 1e-9 * two_rows);
  // 42 rows in micro-batches of 7: six transfers, as six rows of one.
  in.rows_per_step = 1;
  PlanInput grouped = in;
  grouped.rows_per_step = 42;
  grouped.micro_batch = 7;
  EXPECT_NEAR(offload_seconds(grouped), by_rows[5], 1e-9 * by_rows[5]);
  // A slower CPU adds the same time to a step of one row and of six.
  PlanInput slow_cpu = in;
  slow_cpu.cpu_memory_bytes_per_second /= 2;
  slow_cpu.rows_per_step = 1;
  double added = offload_seconds(slow_cpu) - by_rows[0];
  EXPECT_GT(added, 0.0);
  slow_cpu.rows_per_step = 6;
  EXPECT_NEAR(offload_seconds(slow_cpu) - by_rows[5], added, 1e-9 * by_rows[5]);
}

// Turning `option` on in TinyLlama's 32K plan keeps one tensor of `width` bf16 values per token
// less in every layer whose mode keeps it (`keeping`), and no other activation; no total grows.
void expect_one_tensor_less_per_layer(bool PlanInput::*option, double width,
                                      const std::vector<std::string>& keeping) {
  PlanInput in{.config = model_preset("tinyllama-1.1b"), .seq_len = 32768};
  std::vector<PlanRow> off = plan_training(in);
  in.*option = true;
  std::vector<PlanRow> on = plan_training(in);
  ASSERT_EQ(off.size(), on.size());
  const double one_tensor = 22.0 * 32768 * 2 * width;  // L * T * bf16 * width
  for (size_t i = 0; i < off.size(); ++i) {
    double saved = static_cast<double>(off[i].activations) - static_cast<double>(on[i].activations);
    bool kept = std::find(keeping.begin(), keeping.end(), off[i].recompute) != keeping.end();
    EXPECT_NEAR(saved, kept ? one_tensor : 0.0, 64.0) << off[i].recompute;
    EXPECT_LE(on[i].total, off[i].total) << off[i].recompute;
  }
}

TEST(PlanTest, AttentionOutputByTokenKeepsOneHiddenTensorLessPerLayer) {
  // Where o_proj reads cuDNN's output as is, a layer that keeps its attention block keeps one
  // [T, d] less; a recomputed one keeps only its input either way (its transient, one layer
  // run again, shrinks unless the loss's logits are the larger).
  expect_one_tensor_less_per_layer(&PlanInput::attention_output_by_token, 2048, {"none", "mlp"});
}

TEST(PlanTest, FusedSwiGluKeepsOneFfnTensorLessPerLayer) {
  // The fused kernel saves gate and up but not silu(gate): one [T, F] less where the MLP's
  // activations are kept, and nothing changes where the MLP is recomputed (only its input is
  // kept; the transient layer buffers shrink instead).
  expect_one_tensor_less_per_layer(&PlanInput::fused_swiglu, 5632, {"none", "attention"});
}

}  // namespace
}  // namespace longctx
