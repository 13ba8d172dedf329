// Training throughput of `longctx train` on one GPU (issue 6's benchmark): tokens/s, MFU and
// peak memory of full optimizer steps, one row of T tokens per step (--rows N: N rows, their
// gradients summed, as a --batch-tokens of N rows does). --gpus N: data parallel over cuda:0..N-1,
// one process per GPU started as `longctx train --nproc-per-node N` starts them (launch.h), one
// row per GPU a step unless --rows says more; a rank that fails ends the run.
//
//   longctx_bench_train --shape tinyllama-1.1b --lengths 8192,32768,65536 --steps 4
//       --recompute auto --json out.jsonl [--profile trace.json] [--mlp-chunk N]   (one line)
//   longctx_bench_train --lengths 32768 --gpus 2
//   longctx_bench_train --lengths 32768 --budget-gib 30.4   (the recompute that fits 30.4 GiB)
//
// For each length: a random-weight model directory (bf16, transformers' init) and a Megatron
// dataset of random tokens in a scratch directory, then a Trainer (trainer.h) exactly as the
// CLI builds it: bf16 compute, fp32 masters and fused AdamW, chunked loss, the memory plan's
// recompute choice. The first step warms up; the table reports the median of the others.
// MFU: RECIPE.md section 5, 6*N + 6*L*T*d FLOPs per token (causal), over the dense bf16 peak
// of the GPU by its name (base/device_peaks.h: 989 TFLOP/s for H100/H200 SXM) or
// --peak-tflops; "unknown" (null in JSON) for a GPU outside the table.
// --budget-gib B: the plan's budget (default: the memory free at the start), so --recompute
// auto takes the fastest option that fits B, and the line reports the peak it reached: ours at
// a peer's memory. --max tries 64K, 128K, 256K (one step each) until one fails; --budget-gib
// 1000 skips the plan's refusal so the GPU itself says what fits.
//
// Each length gives one JSON line (bench/README.md, "JSON lines"): status "ok",
// "out_of_memory", "does_not_fit" (the plan refused the budget) or "error". Exit status 1 when
// any length ended in "error" (a fault, not a measurement), 2 for bad flags.
#include <c10/cuda/CUDACachingAllocator.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_json.h"
#include "kineto_trace.h"
#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/dataset/format.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/model/train_ops.h"
#include "longctx/runtime/cuda_allocator.h"
#include "longctx/runtime/device.h"
#include "longctx/train/launch.h"
#include "longctx/train/plan.h"
#include "longctx/train/process_group.h"
#include "longctx/train/trainer.h"

namespace {

namespace fs = std::filesystem;

void write_random_dataset(const fs::path& prefix, uint64_t rows, uint64_t row_len, int64_t vocab) {
  torch::manual_seed(0);
  torch::Tensor ids = torch::randint(3, vocab, {static_cast<int64_t>(rows * row_len)}, torch::kInt);
  std::ofstream out(prefix.string() + ".bin", std::ios::binary);
  out.write(static_cast<const char*>(ids.data_ptr()), static_cast<std::streamsize>(ids.nbytes()));
  out.close();
  longctx::write_megatron_index(prefix.string() + ".idx", longctx::TokenType::kInt32, rows,
                                row_len);
}

struct Result {
  std::string status = "error";  // ok | out_of_memory | does_not_fit | error
  std::string error;
  double tokens_per_second = 0, peak_gib = 0, predicted_gib = 0;
  std::optional<double> mfu;  // unset: the peak is unknown
  std::string recompute;
};

Result measure(const fs::path& scratch, const fs::path& model_dir, const longctx::ModelConfig& c,
               uint32_t t, int steps, int rows, const std::string& recompute, bool offload,
               double budget_gib, std::optional<double> peak_tflops, const std::string& profile,
               uint32_t mlp_chunk, const std::shared_ptr<longctx::ProcessGroup>& group) {
  // Rank 0 (or the only process) writes the data and reports; every rank's metrics are the
  // whole step's (tokens/s over all GPUs, MFU per GPU, the fullest GPU's peak).
  const bool speaker = !group || group->rank() == 0;
  Result r;
  fs::path data = scratch / fmt::format("data-{}", t);
  fs::path run = scratch / fmt::format("run-{}-{}", t, recompute);
  if (speaker) {
    write_random_dataset(data, static_cast<uint64_t>(steps) * static_cast<uint64_t>(rows) + 1, t,
                         c.vocab_size);
    fs::remove_all(run);
  }
  if (group) group->barrier();
  longctx::TrainConfig config;
  config.model = model_dir.string();
  config.data = data.string();
  config.out = run.string();
  config.seq_len = t;
  config.batch_tokens = static_cast<uint64_t>(t) * static_cast<uint64_t>(rows);
  config.steps = static_cast<uint64_t>(steps);
  config.device = "cuda";  // ranks: cuda:LOCAL_RANK
  config.recompute = recompute;
  config.offload_optimizer = offload;
  config.eval_every = 0;
  config.gpu_memory_gib = budget_gib;
  config.mlp_chunk = mlp_chunk;
  config.peak_tflops = peak_tflops;
  try {
    auto t0 = std::chrono::steady_clock::now();
    longctx::Trainer trainer(config, {.note =
                                          [](const std::string& text) {
                                            std::fprintf(stderr, "  note: %s\n", text.c_str());
                                          },
                                      .group = group});
    if (speaker)
      std::fprintf(stderr, "  trainer ready in %.1f s (model load, optimizer state)\n",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    r.recompute = longctx::recompute_label(trainer.plan());
    std::vector<double> tps, mfu, peak;
    for (int s = 0; s < steps; ++s) {
      // --profile: a kineto trace (CPU ops and CUDA kernels) of the last step.
      bool tracing = speaker && !profile.empty() && s == steps - 1;
      if (tracing) longctx::bench::start_trace();
      longctx::StepMetrics m = trainer.train_step();
      if (speaker)
        std::fprintf(stderr, "  step %d: %.1f s, %.0f tokens/s, loss %.3f, peak %.1f GiB\n", s + 1,
                     m.step_seconds, m.tokens_per_second, m.loss, m.peak_memory_gib);
      if (tracing) longctx::bench::save_trace(profile);
      if (s == 0 && steps > 1) continue;  // warm-up
      tps.push_back(m.tokens_per_second);
      if (m.mfu) mfu.push_back(*m.mfu);
      peak.push_back(m.peak_memory_gib);
    }
    std::sort(tps.begin(), tps.end());
    std::sort(mfu.begin(), mfu.end());
    r.tokens_per_second = tps[tps.size() / 2];
    if (!mfu.empty()) r.mfu = mfu[mfu.size() / 2];
    r.peak_gib = *std::max_element(peak.begin(), peak.end());
    r.predicted_gib = static_cast<double>(trainer.plan().total) / (1 << 30);
    r.status = "ok";
  } catch (const std::exception& e) {
    // A rank that fails leaves the others waiting in NCCL: it exits, and the launcher ends
    // them. Alone, the table notes the failure and goes on.
    if (group) throw;
    r.status = dynamic_cast<const longctx::DoesNotFit*>(&e) != nullptr     ? "does_not_fit"
               : dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ? "out_of_memory"
                                                                           : "error";
    r.error = e.what();
    r.error = r.error.substr(0, r.error.find('\n'));
  }
  if (group) group->barrier();
  if (speaker) {
    fs::remove_all(run);
    fs::remove(data.string() + ".bin");
    fs::remove(data.string() + ".idx");
  }
  c10::cuda::CUDACachingAllocator::emptyCache();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  longctx::prefer_expandable_segments();  // before anything touches CUDA
  std::string shape = "tinyllama-1.1b", lengths_text = "8192,32768,65536", json_path;
  std::string recompute = "auto";
  int steps = 4, rows = 0, gpus = 1;  // rows: per step over every GPU (0: one per GPU)
  bool find_max = false, offload = false;
  double budget_gib = 0;  // 0: the device's memory; large: skip the plan, find out by running
  std::optional<double> given_peak;  // --peak-tflops
  uint32_t mlp_chunk = longctx::TrainConfig{}.mlp_chunk;
  std::string profile;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--shape")
      shape = value();
    else if (flag == "--lengths")
      lengths_text = value();
    else if (flag == "--steps")
      steps = std::stoi(value());
    else if (flag == "--rows")
      rows = std::stoi(value());
    else if (flag == "--recompute")
      recompute = value();
    else if (flag == "--json")
      json_path = value();
    else if (flag == "--max")
      find_max = true;
    else if (flag == "--offload")
      offload = true;
    else if (flag == "--budget-gib")
      budget_gib = std::stod(value());
    else if (flag == "--mlp-chunk")
      mlp_chunk = static_cast<uint32_t>(std::stoul(value()));
    else if (flag == "--profile")
      profile = value();
    else if (flag == "--gpus")
      gpus = std::stoi(value());
    else if (flag == "--peak-tflops")
      given_peak = std::stod(value());
    else {
      std::fprintf(stderr, "longctx_bench_train: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (rows == 0) rows = gpus;
  if (gpus < 1 || rows < gpus || rows % gpus != 0) {
    std::fprintf(stderr, "longctx_bench_train: --rows must be a multiple of --gpus (both >= 1)\n");
    return 2;
  }
  if (gpus > static_cast<int>(torch::cuda::device_count())) {
    std::fprintf(stderr, "longctx_bench_train: --gpus %d, but %d GPU(s) are visible\n", gpus,
                 static_cast<int>(torch::cuda::device_count()));
    return 2;
  }
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "longctx_bench_train: no CUDA device\n");
    return 2;
  }
  fs::path scratch = fs::temp_directory_path() / "longctx-bench-train";
  fs::create_directories(scratch);
  longctx::ModelConfig config = longctx::model_preset(shape);
  fs::path model_dir = scratch / ("model-" + shape);
  if (!fs::exists(model_dir / "config.json")) {
    // Random bf16 weights drawn on the GPU (transformers' N(0, 0.02), norms 1): seconds for a
    // 7B shape, where CPU init takes minutes.
    auto t0 = std::chrono::steady_clock::now();
    longctx::LlamaForCausalLM model = longctx::init_model(
        config, /*seed=*/0, torch::dtype(torch::kBFloat16).device(torch::kCUDA));
    longctx::save_model(model, model_dir, torch::kBFloat16);
    std::fprintf(stderr, "  random %s written in %.1f s\n", shape.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  c10::cuda::CUDACachingAllocator::emptyCache();
  // --gpus N: N processes, one per GPU, as `longctx train --nproc-per-node N` starts them
  // (launch.h); each runs this program again as one rank, and rank 0 prints the table.
  std::shared_ptr<longctx::ProcessGroup> group;
  if (gpus > 1) {
    if (!longctx::launched_as_rank()) return longctx::launch_local_ranks(gpus);
    longctx::RankInfo info = longctx::rank_info_from_environment();
    group = longctx::connect_process_group(info, longctx::rank_device(torch::kCUDA, info));
  }
  const bool speaker = !group || group->rank() == 0;
  std::ofstream json;
  if (speaker && !json_path.empty()) json.open(json_path, std::ios::app);
  // LONGCTX_FUSED_KERNELS=0 turns the fused RoPE/SwiGLU kernels off (train_ops.h).
  if (!speaker && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;  // rank 0 prints
  std::printf("fused CUDA kernels: %s\n", longctx::fused_kernels_enabled() ? "on" : "off");
  if (rows > 1) std::printf("%d rows per step\n", rows);
  if (gpus > 1)
    std::printf(
        "%d GPUs, one process each, data parallel (NCCL: %s); tokens/s over all GPUs, "
        "MFU per GPU\n",
        gpus, longctx::nccl_built() ? "yes" : "no");
  const torch::Device device(torch::kCUDA, 0);  // a host's GPUs are of one kind here
  const std::optional<double> peak = longctx::bench::peak_tflops(device, given_peak);
  std::printf("GPU: %s; MFU: 6N + 6LTd per token (RECIPE.md section 5) over %s\n",
              longctx::device_name(device).c_str(),
              peak ? fmt::format("{:g} TFLOP/s dense bf16", *peak).c_str()
                   : "an unknown peak (give --peak-tflops)");
  std::printf("| shape | tokens | recompute | tokens/s | MFU (6N+6LTd) | peak GiB | plan GiB |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|\n");
  std::vector<uint32_t> lengths;
  if (find_max) {
    for (uint32_t t = 65536; t <= 262144; t *= 2)
      lengths.push_back(t);  // capped: 256K steps
                             // take minutes
  } else {
    for (const std::string& s : longctx::split(lengths_text, ','))
      lengths.push_back(static_cast<uint32_t>(longctx::parse_count(s, "--lengths")));
  }
  // The run's label in the comparison tables: what was asked for.
  std::string label = "recompute " + recompute;
  if (offload) label += ", optimizer offloaded";
  if (budget_gib > 0) label += fmt::format(", budget {:g} GiB", budget_gib);
  bool faulted = false;
  for (uint32_t t : lengths) {
    Result r = measure(scratch, model_dir, config, t, find_max ? 1 : steps, rows, recompute,
                       offload, budget_gib, given_peak, profile, mlp_chunk, group);
    const bool ok = r.status == "ok";
    faulted = faulted || r.status == "error";
    if (ok) {
      std::printf("| %s | %u | %s | %.0f | %s | %.1f | %.1f |\n", shape.c_str(), t,
                  r.recompute.c_str(), r.tokens_per_second,
                  r.mfu ? fmt::format("{:.1f}%", 100 * *r.mfu).c_str() : "unknown", r.peak_gib,
                  r.predicted_gib);
    } else {
      std::fprintf(stderr, "  %u tokens: %s: %s\n", t, r.status.c_str(), r.error.c_str());
      std::printf("| %s | %u | %s | %s: %s | | | |\n", shape.c_str(), t, recompute.c_str(),
                  r.status.c_str(), r.error.substr(0, 120).c_str());
    }
    std::fflush(stdout);
    if (json.is_open()) {
      nlohmann::json line = longctx::bench::run_facts(device);
      line.update(nlohmann::json{
          {"bench", "train"},
          {"impl", "longctx"},
          {"config", label},
          {"shape", shape},
          {"tokens", t},
          {"status", r.status},
          {"recompute_requested", recompute},
          {"recompute", ok ? nlohmann::json(r.recompute) : nlohmann::json(nullptr)},
          {"offload", offload},
          {"budget_gib", budget_gib > 0 ? nlohmann::json(budget_gib) : nlohmann::json(nullptr)},
          {"rows_per_step", rows},
          {"gpus", gpus},
          {"fused_kernels", longctx::fused_kernels_enabled()},
          {"tokens_per_s", ok ? nlohmann::json(r.tokens_per_second) : nlohmann::json(nullptr)},
          {"mfu", longctx::bench::or_null(r.mfu)},
          {"mfu_convention", "6N+6LTd"},
          {"peak_tflops", longctx::bench::or_null(peak)},
          {"peak_gib", ok ? nlohmann::json(r.peak_gib) : nlohmann::json(nullptr)},
          {"plan_gib", ok ? nlohmann::json(r.predicted_gib) : nlohmann::json(nullptr)}});
      if (!ok) line["error"] = r.error;
      json << line.dump() << "\n";
      json.flush();
    }
    if (!ok && find_max) break;
  }
  if (faulted) std::fprintf(stderr, "longctx_bench_train: a length failed with an error\n");
  return faulted ? 1 : 0;
}
