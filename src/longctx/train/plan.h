// Predicted peak GPU memory and time per step of a training configuration, for each memory
// option: `longctx plan` prints it, and `longctx train` refuses (or, with --recompute auto,
// chooses) by it before it allocates anything.
//
// Memory is counted tensor by tensor from what the training forward keeps for backward
// (llama.cpp's forward_train with train_ops.h), in bytes per token per layer:
//
//   attention block  x, norm out, q, attention out and its [T, H*D] copy for o_proj: 5 P d
//                    (4 P d where cuDNN writes the output by token and o_proj reads it as
//                    is); k and v at their K heads (sdpa's enable_gqa): 2 P K D; float32
//                    rsqrt and logsumexp
//   MLP block        x, norm out, gate, silu(gate), up, silu(gate)*up: 2 P d + 4 P F
//                    (3 P F with the fused SwiGLU kernel, which keeps no silu(gate))
//   recomputed block only its input: P d
//   full-keep-attention  the layer's input, its attention output and float32 log-sum-exp:
//                    2 P d + 4 H (the attention kernel does not run again)
//
// Layers may mix two modes: --recompute-layers takes one mode, the others --recompute-rest.
// With both at their defaults, --recompute auto searches those mixes too (auto_recompute): at 7B
// and 128K, say, the bottom layers keep their attention output while the rest recompute it,
// for as many layers as the budget holds.
//
// with P the compute dtype's bytes. The peak is the larger of two moments. At the start of
// backward: weights (P N), the optimizer (float32 gradient sums and moments, 12 N, plus 4 N of
// masters unless the compute dtype is float32; none with --offload-optimizer), the kept
// activations, the larger of one recomputed layer's activations with its gradient buffers (a
// recomputed MLP's only for one chunk of tokens) and the loss's float32 logits for one chunk, and
// the gradients backward has made by then (the head's and the top layer's: the others appear as the
// activations they need are freed). At its end: weights, optimizer and every gradient (P N). Both
// add a fixed reserve for library workspaces and the allocator's rounding. Fitted to H100 peaks
// (docs/benchmarks.md).
//
// Time: FLOPs per token 6 N + 6 L T d (RECIPE.md section 5) plus the forward FLOPs of
// recomputed blocks, at an assumed fraction of the device's peak (bench/README.md has the
// measured one); with --offload-optimizer, plus the host traffic and the CPU's AdamW, which do
// not overlap the GPU's work (rates measured on the H100 machine's host; docs/benchmarks.md).
// Offloaded gradient sums that fit in what the budget leaves stay on the GPU and go down once a
// step instead of once a micro-batch. With several ranks and a sharded optimizer (ZeRO-2),
// each rank holds 1/N of the state; offloaded, only that shard is in CPU memory.
//
//   std::vector<PlanRow> rows = plan_training({.config = c, .seq_len = 81920});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "longctx/model/config.h"

namespace longctx {

struct PlanInput {
  ModelConfig config;
  uint32_t seq_len = 81920;             // tokens per row
  uint32_t micro_batch = 1;             // rows per forward/backward
  uint64_t rows_per_step = 1;           // rows per optimizer step
  int compute_bytes = 2;                // 2: bfloat16, 4: float32
  uint32_t loss_chunk = 8192;           // tokens per loss chunk
  uint32_t mlp_chunk = 8192;            // tokens per chunk of a recomputed MLP; 0: whole rows
  double peak_flops = 989e12;           // dense bf16 peak (RECIPE.md section 5)
  double assumed_mfu = 0.45;            // of the peak, for the time estimate
  std::vector<bool> recompute_layers;   // empty: all layers
  std::string recompute_rest = "none";  // the mode of the layers outside recompute_layers
  // The fused SwiGLU kernel (train_ops.h) keeps gate and up but not silu(gate): one [T, F]
  // less per layer. What the trainer runs on a GPU when the build has the kernels.
  bool fused_swiglu = false;
  // The attention output is laid out by token ([B, T, H, D], as cuDNN writes it for q of that
  // layout), so o_proj reads it without a [T, H*D] copy: one [T, d] less per layer. What the
  // trainer runs on a GPU in bfloat16 without --document-mask.
  bool attention_output_by_token = false;
  // Offload: float32 gradients down and masters up (pinned copies and the work around them),
  // and the CPU memory bandwidth of its AdamW.
  double host_link_bytes_per_second = 27e9;
  double cpu_memory_bytes_per_second = 145e9;
  // The GPU's memory budget. With offload and several micro-batches a step, the float32
  // gradient sums take what the budget leaves (less kGpuSumMargin) on the GPU: MasterAdamW's
  // gpu_sum_bytes. 0: none there.
  uint64_t budget_bytes = 0;
  // Data parallelism: the ranks, and how many of them share a host (its CPU memory and
  // bandwidth; 0: min(ranks, 8)). With shard_optimizer each rank keeps 1/ranks of the float32
  // state (ShardedAdamW): master, moments and gradient sum, plus a second gradient piece when a
  // step has several micro-batches and the buckets in flight.
  uint32_t ranks = 1;
  uint32_t ranks_per_host = 0;
  bool shard_optimizer = false;
};

// Library workspaces (cuBLAS, cuDNN) and the caching allocator's rounding, on top of the
// tensors the plan counts.
inline constexpr uint64_t kPlanReserveBytes = 1ull << 30;
// Left free beside offloaded gradient sums placed on the GPU.
inline constexpr uint64_t kGpuSumMargin = 2ull << 30;

struct PlanRow {
  std::string recompute;  // none | mlp | attention | full-keep-attention | full
  // The layers running `recompute` ("all", or a list like 6-31), and the others' mode.
  std::string recompute_layers = "all";
  std::string recompute_rest = "none";
  bool offload = false;
  // GPU bytes at the start of backward, by part (gradients: those made by then); total is the
  // larger of that sum and weights + optimizer + reserve + all_gradients (the end of backward).
  uint64_t weights = 0, gradients = 0, optimizer = 0, activations = 0, transient = 0;
  uint64_t all_gradients = 0, reserve = 0;
  uint64_t total = 0;
  uint64_t cpu_bytes = 0;            // optimizer state in CPU memory (offload), per rank
  uint64_t host_bytes = 0;           // cpu_bytes of all the ranks on one host
  bool sharded = false;              // the optimizer state sharded over the ranks
  uint64_t gpu_sums = 0;             // offload: gradient sums on the GPU (in optimizer, total)
  double flops_per_token = 0;        // hardware FLOPs, recomputation included
  double model_flops_per_token = 0;  // RECIPE.md section 5: 6 N + 6 L T d
  double step_seconds = 0;           // estimate, offload_seconds included
  double offload_seconds = 0;        // host traffic and the CPU's AdamW (offload only)
};

// The recompute modes, from the least memory-saving.
inline constexpr const char* kRecomputeModes[] = {"none", "mlp", "attention", "full-keep-attention",
                                                  "full"};

// Every combination of recompute (kRecomputeModes, on input.recompute_layers) and offload
// (off, on).
std::vector<PlanRow> plan_training(const PlanInput& input);

// What --recompute auto takes: the fastest configuration that fits `budget_bytes` with the
// given offload setting; nullopt when nothing fits. With recompute_layers covering every layer
// and recompute_rest "none" (the defaults), it searches every single mode and every mix of
// two, the bottom k layers in one mode and the others in another (ties go to the single
// mode); otherwise the modes on the given layers.
std::optional<PlanRow> auto_recompute(const PlanInput& input, uint64_t budget_bytes, bool offload);

// Rows in a step of `batch_tokens`: the nearest whole number of rows (at least one), rounded up
// to whole micro-batches on every rank. 4M tokens at 81920: 49 rows; on 8 ranks, 56.
uint64_t rows_per_step(uint64_t batch_tokens, uint64_t seq_len, uint64_t micro_batch,
                       uint64_t ranks);

// "full", or "full on layers 6-31, full-keep-attention on the others".
std::string recompute_label(const PlanRow& row);

// {true, true, false} -> "0-1"; every layer -> "all". Inverse of parse_layer_set.
std::string format_layer_set(const std::vector<bool>& layers);

// The option --recompute auto takes: the fastest row that fits `budget_bytes` with the given
// offload setting; nullptr when none fits.
const PlanRow* fastest_fitting(const std::vector<PlanRow>& rows, uint64_t budget_bytes,
                               bool offload);

}  // namespace longctx
