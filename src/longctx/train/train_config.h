// Every setting of `longctx train`, with the paper's defaults (RECIPE.md section 3): constant
// LR 2e-5, batch 4M tokens, 5B tokens, AdamW betas 0.9/0.999, eps 1e-8, no weight decay.
//
// Settings have one name each, used alike as a flag (--seq-len), as a key of a JSON config
// file ("seq_len") and in the resolved config.json written to the run directory. Values are
// set from text, so a config file and the command line go through the same parser:
//
//   TrainConfig c;
//   c.apply_json(nlohmann::json::parse(read_file("train.json")));  // the config file
//   c.set("lr", "3e-5");                                              // then flags win
//   c.validate();
//   write_file_atomic(run / "config.json", c.to_json().dump(2));
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

enum class LrSchedule { kConstant, kCosine, kLinear };

struct TrainConfig {
  // Inputs and outputs.
  std::string model;                 // Hugging Face model directory to continue from
  std::string data;                  // `longctx mix` --out directory, or a Megatron prefix
  std::string out;                   // run directory (config, metrics, checkpoints)
  uint32_t seq_len = 0;              // tokens per row; 0: the dataset's
  std::optional<double> rope_theta;  // the new RoPE base; unset keeps the model's

  // Optimisation.
  double lr = 2e-5;
  LrSchedule schedule = LrSchedule::kConstant;
  uint64_t warmup_steps = 0;  // linear from 0 to lr
  double min_lr = 0.0;        // where cosine and linear end
  double weight_decay = 0.0;  // decoupled (AdamW), on matrices only (not norms, biases)
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double grad_clip = 1.0;             // global L2 norm; 0 turns clipping off
  uint64_t batch_tokens = 4'000'000;  // per optimizer step, rounded to whole rows
  uint64_t tokens = 5'000'000'000;    // to train on (steps = ceil(tokens / step tokens))
  uint64_t steps = 0;                 // overrides tokens when non-zero
  uint32_t micro_batch = 1;           // rows per forward/backward
  uint64_t seed = 0;                  // data order
  bool shuffle = true;                // rows in a seeded random order per epoch

  // Memory and precision.
  std::string device = "auto";           // auto | cpu | cuda | cuda:N
  std::string dtype = "auto";            // compute dtype: auto = bfloat16 on CUDA, float32 on CPU
  std::string recompute = "auto";        // auto (the plan's cheapest fit) | none | full |
                                         // full-keep-attention | attention | mlp
  std::string recompute_layers = "all";  // which layers recompute: all | "0-11,20"
  std::string recompute_rest = "none";   // the mode of the layers outside recompute_layers
  uint32_t loss_chunk = 8192;            // tokens per chunk of the LM-head loss
  uint32_t mlp_chunk = 8192;             // tokens per chunk of a recomputed MLP (0: whole rows)
  bool offload_optimizer = false;        // fp32 master weights and AdamW state in CPU memory
  std::string shard_optimizer = "auto";  // several ranks: auto | on (ZeRO-2) | off
  bool document_mask = false;            // attention stops at document boundaries
  double gpu_memory_gib = 0;             // the plan's budget; 0: the device's free memory

  // Checkpoints and metrics.
  uint64_t save_every = 0;          // steps between checkpoints; 0: only at the end
  uint64_t eval_every = 10;         // steps between per-domain loss reports
  uint32_t keep_checkpoints = 2;    // the newest N step checkpoints are kept
  std::string save_dtype = "auto";  // auto = the model's torch_dtype (bfloat16 if absent)
  // Dense bf16 peak of one GPU in TFLOP/s for MFU; unset: the device's, by its name
  // (base/device_peaks.h), and MFU unknown where the name is not in the table.
  std::optional<double> peak_tflops;

  // Sets one setting from text; key is the JSON name ("seq_len") or the flag ("seq-len").
  // Throws Error naming the setting and the value.
  void set(std::string_view key, std::string_view value);
  // Applies every key of a JSON object (a config file); unknown keys are errors.
  void apply_json(const nlohmann::json& object, std::string_view origin);
  nlohmann::json to_json() const;
  // Throws Error naming the bad setting.
  void validate() const;

  // The names of the settings, in order (JSON names), with a one-line description each.
  struct Setting {
    std::string_view name;
    std::string_view help;
  };
  static const std::vector<Setting>& settings();
  // Settings a resumed run may change: those that do not change what the model computes (the
  // peak for MFU among them), and lr and grad_clip, the ways out of a diverging run (a resumed run
  // with them changed is no longer the same as a straight one).
  static bool resumable_change(std::string_view name);
};

std::string_view lr_schedule_name(LrSchedule schedule);

// Learning rate at `step` (0-based): linear warmup over warmup_steps, then constant, or cosine
// or linear from lr to min_lr at total_steps.
double learning_rate(const TrainConfig& config, uint64_t step, uint64_t total_steps);

// "all" | "" -> every layer; "0-3,7" -> {0,1,2,3,7}. Throws Error naming --recompute-layers.
std::vector<bool> parse_layer_set(std::string_view text, int64_t layers);

}  // namespace longctx
