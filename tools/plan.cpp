// longctx plan: predicted peak GPU memory and time per step of a training configuration, for
// every memory option (plan.h), so a run's settings can be chosen before it starts.
//
//   longctx plan --model Llama-2-7b-hf --seq-len 81920 --gpu-mem 80GiB
//   longctx plan --preset tinyllama-1.1b --seq-len 65536 --json
//
// Phases: the model's config -> plan_training for each option -> a table (or JSON).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/model/config.h"
#include "longctx/model/presets.h"
#include "longctx/model/train_ops.h"
#include "longctx/train/plan.h"
#include "longctx/train/train_config.h"

namespace longctx {

namespace {

struct PlanFlags {
  std::string model;
  std::string preset;
  uint32_t seq_len = 81920;
  uint32_t micro_batch = 1;
  uint32_t gpus = 1;  // data-parallel ranks: each runs 1/gpus of a step's rows
  uint32_t gpus_per_host = 0;  // ranks sharing a host's CPU memory; 0: min(gpus, 8)
  std::string batch_tokens = "4M";
  std::string gpu_mem = "80GiB";
  std::string dtype = "bfloat16";
  std::string recompute_layers = "all";
  std::string recompute_rest = "none";
  uint32_t loss_chunk = PlanInput{}.loss_chunk;  // the plan's defaults
  uint32_t mlp_chunk = PlanInput{}.mlp_chunk;
  double assumed_mfu = 0.45;
  double host_gbps = PlanInput{}.host_link_bytes_per_second / 1e9;  // the plan's defaults
  double cpu_gbps = PlanInput{}.cpu_memory_bytes_per_second / 1e9;
  bool json = false;
};

// "80GiB", "80G", "80" (GiB), "141GB" (taken as GiB-sized decimal: 141e9 bytes).
uint64_t parse_memory(std::string_view text) {
  std::string s(text);
  double scale = 1024.0 * 1024 * 1024;
  for (auto [suffix, factor] : {std::pair{"GiB", 1024.0 * 1024 * 1024}, std::pair{"GB", 1e9},
                                std::pair{"G", 1024.0 * 1024 * 1024}}) {
    std::string_view sv(suffix);
    if (s.size() > sv.size() && s.ends_with(sv)) {
      s.resize(s.size() - sv.size());
      scale = factor;
      break;
    }
  }
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(value > 0))
    throw Error(fmt::format("--gpu-mem: expected a size like 80GiB, got '{}'", text));
  return static_cast<uint64_t>(value * scale);
}

int run_plan(const PlanFlags& flags) {
  if (flags.model.empty() == flags.preset.empty())
    throw Error("give either --model DIR or --preset NAME");
  ModelConfig config =
      flags.model.empty() ? model_preset(flags.preset) : load_model_config(flags.model);
  if (flags.dtype != "bfloat16" && flags.dtype != "float32")
    throw Error(fmt::format("--dtype '{}': use bfloat16 or float32", flags.dtype));
  uint64_t batch = parse_count(flags.batch_tokens, "--batch-tokens");
  // As `train` rounds: whole rows, whole micro-batches on every GPU.
  const uint64_t step_rows = rows_per_step(batch, flags.seq_len, flags.micro_batch, flags.gpus);
  uint64_t budget = parse_memory(flags.gpu_mem);
  PlanInput input{
      .config = config,
      .seq_len = flags.seq_len,
      .micro_batch = flags.micro_batch,
      .rows_per_step = step_rows / flags.gpus,  // one GPU's share
      .compute_bytes = flags.dtype == "float32" ? 4 : 2,
      .loss_chunk = flags.loss_chunk,
      .mlp_chunk = flags.mlp_chunk,
      .assumed_mfu = flags.assumed_mfu,
      .recompute_layers = parse_layer_set(flags.recompute_layers, config.num_hidden_layers),
      .recompute_rest = flags.recompute_rest,
      .fused_swiglu = fused_kernels_enabled(),
      .attention_output_by_token = attention_keeping_built() && flags.dtype == "bfloat16",
      .host_link_bytes_per_second = flags.host_gbps * 1e9,
      .cpu_memory_bytes_per_second = flags.cpu_gbps * 1e9,
      .budget_bytes = budget,
      .ranks = flags.gpus,
      .ranks_per_host = flags.gpus_per_host > 0 ? flags.gpus_per_host : std::min(flags.gpus, 8u)};
  // Several GPUs: every option with the optimizer state whole on each GPU, then sharded.
  std::vector<bool> shardings{false};
  if (flags.gpus > 1) shardings.push_back(true);
  std::vector<PlanRow> plan;  // plan_training's rows, per sharding
  std::vector<PlanRow> picks;
  std::vector<PlanRow> rows;  // those, then the mixes auto picks, per sharding
  std::vector<bool> mixed;    // rows[i] is a mix of its own
  auto same = [](const PlanRow& a, const PlanRow& b) {
    return a.offload == b.offload && a.sharded == b.sharded && a.recompute == b.recompute &&
           a.recompute_layers == b.recompute_layers && a.recompute_rest == b.recompute_rest;
  };
  for (bool sharded : shardings) {
    input.shard_optimizer = sharded;
    std::vector<PlanRow> options = plan_training(input);
    // What --recompute auto picks, without and with offload: with the layers left to it, the
    // fastest single mode or mix of two; otherwise the fastest mode on the given layers.
    std::vector<PlanRow> chosen;
    for (bool offload : {false, true})
      if (std::optional<PlanRow> r = auto_recompute(input, budget, offload)) chosen.push_back(*r);
    plan.insert(plan.end(), options.begin(), options.end());
    rows.insert(rows.end(), options.begin(), options.end());
    mixed.resize(rows.size(), false);
    // A mix auto picks is a row of its own.
    for (const PlanRow& p : chosen) {
      picks.push_back(p);
      if (std::none_of(options.begin(), options.end(),
                       [&](const PlanRow& r) { return same(p, r); })) {
        rows.push_back(p);
        mixed.push_back(true);
      }
    }
  }
  auto picked = [&](const PlanRow& r) {
    return std::any_of(picks.begin(), picks.end(), [&](const PlanRow& p) { return same(p, r); });
  };
  auto gib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024 * 1024); };

  if (flags.json) {
    nlohmann::json out = {{"seq_len", flags.seq_len},
                          {"rows_per_step", step_rows},
                          {"gpus", flags.gpus},
                          {"gpus_per_host", input.ranks_per_host},
                          {"budget_gib", gib(budget)},
                          {"assumed_mfu", flags.assumed_mfu},
                          {"flop_convention", "6N + 6LTd per token, 989 TFLOP/s peak"},
                          {"fused_swiglu", input.fused_swiglu},
                          {"host_gbps", flags.host_gbps},
                          {"cpu_gbps", flags.cpu_gbps},
                          {"options", nlohmann::json::array()}};
    for (const PlanRow& r : rows) {
      out["options"].push_back({{"recompute", r.recompute},
                                {"recompute_layers", r.recompute_layers},
                                {"recompute_rest", r.recompute_rest},
                                {"offload_optimizer", r.offload},
                                {"sharded_optimizer", r.sharded},
                                {"weights_gib", gib(r.weights)},
                                {"gradients_gib", gib(r.gradients)},
                                {"all_gradients_gib", gib(r.all_gradients)},
                                {"reserve_gib", gib(r.reserve)},
                                {"optimizer_gib", gib(r.optimizer)},
                                {"activations_gib", gib(r.activations)},
                                {"transient_gib", gib(r.transient)},
                                {"total_gib", gib(r.total)},
                                {"cpu_gib", gib(r.cpu_bytes)},
                                {"host_cpu_gib", gib(r.host_bytes)},
                                {"gpu_gradient_sums_gib", gib(r.gpu_sums)},
                                {"fits", r.total <= budget},
                                {"auto_picks", picked(r)},
                                {"step_time_s", r.step_seconds},
                                {"offload_time_s", r.offload_seconds},
                                {"flops_per_token", r.flops_per_token}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s at %u tokens per row, %llu rows per step, %s budget %.1f GiB\n",
              flags.model.empty() ? flags.preset.c_str() : flags.model.c_str(), flags.seq_len,
              static_cast<unsigned long long>(step_rows), flags.dtype.c_str(), gib(budget));
  const bool several = flags.gpus > 1;
  if (several)
    std::printf(
        "%u data-parallel GPUs (%u a host), %llu rows each a step: GPU memory is per GPU; "
        "tokens/s is over all GPUs; shard: the optimizer state split over the GPUs (ZeRO-2, "
        "train's default with several), else whole on each\n",
        flags.gpus, input.ranks_per_host, static_cast<unsigned long long>(step_rows / flags.gpus));
  std::printf("%-19s %-8s %8s %8s %9s %11s %9s %8s %5s %11s %9s %9s%s\n", "recompute", "offload",
              "weights", "grads", "optimizer", "activations", "transient", "total", "fits",
              "step time s", "offload s", "tokens/s", several ? "  shard  cpu/rank  cpu/host" : "");
  if (flags.recompute_layers != "all" || flags.recompute_rest != "none")
    std::printf("each row's mode on layers %s, %s on the others\n", flags.recompute_layers.c_str(),
                flags.recompute_rest.c_str());
  for (size_t i = 0; i < rows.size(); ++i) {
    const PlanRow& r = rows[i];
    if (mixed[i]) std::printf("mixed: %s\n", recompute_label(r).c_str());
    double step_tokens = static_cast<double>(step_rows) * flags.seq_len;
    std::string ranks_text =
        several ? fmt::format("  {:<5} {:>9.1f} {:>9.1f}", r.sharded ? "yes" : "no",
                              gib(r.cpu_bytes), gib(r.host_bytes))
                : "";
    std::printf("%-19s %-8s %8.1f %8.1f %9.1f %11.1f %9.1f %8.1f %5s %11.2f %9.2f %9.0f%s%s\n",
                mixed[i] ? "  mixed" : r.recompute.c_str(), r.offload ? "yes" : "no",
                gib(r.weights), gib(r.gradients), gib(r.optimizer), gib(r.activations),
                gib(r.transient), gib(r.total), r.total <= budget ? "yes" : "no", r.step_seconds,
                r.offload_seconds, step_tokens / r.step_seconds, ranks_text.c_str(),
                picked(r) ? " <" : "");
  }
  std::printf(
      "GiB on the GPU at the start of backward (grads: the head's and the top layer's, made by "
      "then); total adds a %.1f GiB reserve, or is the end of backward's weights, optimizer and "
      "all %.1f GiB of gradients when that is larger. Offload keeps %.1f GiB of optimizer state "
      "in CPU memory.\n"
      "Step time assumes %.0f%% MFU (6N + 6LTd FLOPs per token, 989 TFLOP/s) plus "
      "recomputation; offload adds float32 gradients down each micro-batch and masters up at "
      "--host-gbps %g, and AdamW at --cpu-gbps %g (28 bytes a parameter). An offloaded row's "
      "optimizer column is the gradient sums kept on the GPU where the budget leaves room; "
      "those go down once a step.\n"
      "< marks what --recompute auto picks (without and with --offload-optimizer); with "
      "--recompute-layers and --recompute-rest left at all and none, that may be a mix of two "
      "modes across the layers (a mixed row: train takes its --recompute-layers and "
      "--recompute-rest).\n"
      "MLP activations counted %s the fused SwiGLU kernel (%s); attention outputs %s.\n",
      gib(plan.front().reserve), gib(plan.front().all_gradients),
      gib(plan[plan.size() / shardings.size() - 1].cpu_bytes), 100 * flags.assumed_mfu,
      flags.host_gbps, flags.cpu_gbps, input.fused_swiglu ? "with" : "without",
      input.fused_swiglu ? "this build has the fused CUDA kernels"
      : fused_kernels_built()
          ? "turned off by LONGCTX_FUSED_KERNELS=0"
          : "this build has no fused CUDA kernels; a build with them needs less",
      input.attention_output_by_token
          ? "without a copy for o_proj (cuDNN's layout)"
          : "with a copy for o_proj (this libtorch is older than 2.5, or float32)");
  return 0;
}

// A GB/s rate: a number above zero.
std::string positive_rate(const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(value > 0))
    return fmt::format("expected GB/s above 0, like 27; got '{}'", text);
  return "";
}

}  // namespace

CommandRun add_plan_command(CLI::App& app) {
  auto flags = std::make_shared<PlanFlags>();
  CLI::App* command = app.add_subcommand(
      "plan", "Predict peak GPU memory and step time of `longctx train` for each memory option");
  command->add_option("--model", flags->model, "Hugging Face model directory");
  command->add_option("--preset", flags->preset, "Or a preset shape (see longctx init)");
  command->add_option("--seq-len", flags->seq_len, "Tokens per row")->capture_default_str();
  command->add_option("--micro-batch", flags->micro_batch, "Rows per forward/backward")
      ->capture_default_str();
  command->add_option("--gpus", flags->gpus, "Data-parallel GPUs (train --nproc-per-node)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command
      ->add_option("--gpus-per-host", flags->gpus_per_host,
                   "GPUs (ranks) on each host, sharing its CPU memory (0: min(--gpus, 8))")
      ->capture_default_str();
  command->add_option("--batch-tokens", flags->batch_tokens, "Tokens per optimizer step")
      ->capture_default_str();
  command->add_option("--gpu-mem", flags->gpu_mem, "GPU memory budget (80GiB, 141GB)")
      ->capture_default_str();
  command->add_option("--dtype", flags->dtype, "Compute dtype: bfloat16 or float32")
      ->capture_default_str();
  command
      ->add_option("--recompute-layers", flags->recompute_layers,
                   "Layers that take each row's recompute mode (all, or a list like 0-11,20)")
      ->capture_default_str();
  command
      ->add_option("--recompute-rest", flags->recompute_rest, "Recompute mode of the other layers")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "full", "full-keep-attention", "attention", "mlp"}));
  command
      ->add_option("--mlp-chunk", flags->mlp_chunk,
                   "Tokens per chunk of a recomputed MLP (0: the whole row)")
      ->capture_default_str();
  command->add_option("--loss-chunk", flags->loss_chunk, "Tokens per loss chunk")
      ->capture_default_str();
  command->add_option("--assumed-mfu", flags->assumed_mfu, "MFU the step time assumes")
      ->capture_default_str();
  command
      ->add_option("--host-gbps", flags->host_gbps,
                   "GB/s of float32 gradients and weights between GPU and CPU memory "
                   "(offload; measured on an H100 host)")
      ->capture_default_str()
      ->check(positive_rate);
  command
      ->add_option("--cpu-gbps", flags->cpu_gbps,
                   "CPU memory GB/s the offloaded AdamW reaches (measured on an H100 host)")
      ->capture_default_str()
      ->check(positive_rate);
  command->add_flag("--json", flags->json, "Print JSON instead of a table");
  return [flags] { return run_plan(*flags); };
}

}  // namespace longctx
