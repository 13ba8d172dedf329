// Prefill and decode throughput of the libtorch LLaMA on one GPU (issue 5's benchmark).
//
//   longctx_bench_prefill --shape tinyllama-1.1b --lengths 8192,32768,131072 --json out.jsonl
//   longctx_bench_prefill --shape llama3-8b --lengths 131072 --chunk 4096 --decode 0
//   longctx_bench_prefill --lengths 8192 --decode 0 --profile trace.json  (kineto, last prefill)
//   longctx_bench_prefill --all-positions 1 ...  (the last layer at every position, as
//   transformers)
//
// For each length: random bf16 weights (transformers' init), one untimed prefill of the whole
// prompt (cuDNN builds its plans per shape, the allocator grows), then the median of --repeats
// (3) timed prefills (one forward into the KV cache, or --chunk tokens per forward as
// `generate` prefills, logits of the last position only; the last layer computes only keys
// and values at the other positions, LlamaForCausalLM::prefill), then
// --decode greedy steps through Generator (CUDA graphs). Prints a table and
// JSON lines (bench/README.md, "JSON lines"). MFU counts the FLOPs as executed
// (executed_prefill_flops in model/llama.h): every layer's matmuls where they run (the last
// layer's q/o/MLP at the kept position only unless --all-positions), causal attention 4 H D
// per query-key pair, the LM head at the one position whose logits are taken; over the dense
// bf16 peak of the GPU by its name (base/device_peaks.h) or --peak-tflops, "unknown" (null)
// otherwise. The JSON also gives the old figure by RECIPE.md section 5's forward count, 2N +
// 2LTd per token, as "recipe_fraction_of_peak". A prompt longer than the prefill attention
// block (attention.h; LONGCTX_PREFILL_ATTENTION_BLOCK, 0 for one call) runs its attention in
// blocks.
#include <c10/cuda/CUDACachingAllocator.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_json.h"
#include "kineto_trace.h"
#include "longctx/base/text.h"
#include "longctx/model/attention.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/generation.h"
#include "longctx/model/presets.h"
#include "longctx/model/train_ops.h"
#include "longctx/runtime/cuda_allocator.h"

namespace {

using longctx::ModelConfig;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  longctx::prefer_expandable_segments();  // before anything touches CUDA
  std::string shape_name = "tinyllama-1.1b", lengths_text = "8192,32768,131072", json_path, profile;
  int64_t decode_steps = 64, repeats = 3, chunk = 0;
  bool all_positions = false;        // forward_hidden: the last layer's output at every position
  std::optional<double> given_peak;  // --peak-tflops
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--shape")
      shape_name = argv[i + 1];
    else if (flag == "--lengths")
      lengths_text = argv[i + 1];
    else if (flag == "--decode")
      decode_steps = std::stoll(argv[i + 1]);
    else if (flag == "--repeats")
      repeats = std::max<int64_t>(1, std::stoll(argv[i + 1]));
    else if (flag == "--chunk")
      chunk = std::max<int64_t>(0, std::stoll(argv[i + 1]));
    else if (flag == "--all-positions")
      all_positions = std::stoll(argv[i + 1]) != 0;
    else if (flag == "--profile")
      profile = argv[i + 1];
    else if (flag == "--peak-tflops")
      given_peak = std::stod(argv[i + 1]);
    else if (flag == "--json")
      json_path = argv[i + 1];
    else {
      std::fprintf(stderr, "longctx_bench_prefill: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "longctx_bench_prefill: no CUDA device\n");
    return 2;
  }
  torch::Device device(torch::kCUDA);
  ModelConfig config = longctx::model_preset(shape_name);
  longctx::set_context_length(config, 131072);
  config.eos_token_ids.clear();  // decode every step, whatever random weights emit
  longctx::LlamaForCausalLM model(config, torch::dtype(torch::kBFloat16).device(device));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 0.02);
  }
  model->fuse_projections();  // as load_model does for inference
  model->eval();
  double n = static_cast<double>(longctx::matmul_parameters(config));
  const std::optional<double> peak = longctx::bench::peak_tflops(device, given_peak);
  std::printf("GPU: %s; MFU: forward FLOPs as executed over %s\n",
              longctx::device_name(device).c_str(),
              peak ? fmt::format("{:g} TFLOP/s dense bf16", *peak).c_str()
                   : "an unknown peak (give --peak-tflops)");
  std::ofstream json;
  if (!json_path.empty()) json.open(json_path, std::ios::app);
  std::printf("fused CUDA kernels: %s\n", longctx::fused_kernels_enabled() ? "on" : "off");
  int64_t block = longctx::prefill_attention_block();
  if (block > 0)
    std::printf("prefill attention: blocks of %lld queries beyond that length\n",
                static_cast<long long>(block));
  else
    std::printf("prefill attention: one call at every length\n");
  std::printf("last layer: %s\n", all_positions
                                      ? "every position (forward_hidden)"
                                      : "keys/values only but the last position (prefill)");
  if (chunk > 0) std::printf("prefill in chunks of %lld tokens\n", static_cast<long long>(chunk));
  // first s: the untimed first prefill, with cuDNN's plan building for new shapes.
  std::printf(
      "| shape | tokens | prefill tokens/s | MFU (executed fwd) | peak GiB | decode tokens/s | "
      "first s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  torch::NoGradGuard no_grad;
  for (const std::string& item : longctx::split(lengths_text, ',')) {
    int64_t t = std::stoll(item);
    auto ids =
        torch::randint(3, config.vocab_size, {1, t}, torch::dtype(torch::kLong).device(device));
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    double prefill_s = 0, first_s = 0, peak_gib = 0;
    // FLOPs as executed (llama.h): chunks keep nothing but the last, which keeps one position
    // (every position with --all-positions); the head runs at the last position.
    double executed = 0;
    int64_t step_tokens = chunk > 0 ? chunk : t;
    for (int64_t start = 0; start < t; start += step_tokens) {
      int64_t length = std::min(step_tokens, t - start);
      bool last_chunk = start + length == t;
      executed += longctx::executed_prefill_flops(config, start, start + length,
                                                  all_positions ? length
                                                  : last_chunk  ? 1
                                                                : 0,
                                                  last_chunk ? 1 : 0);
    }
    {
      longctx::KvCache cache(config, 1, t, device, torch::kBFloat16);
      std::vector<double> times;
      for (int64_t run = 0; run <= repeats; ++run) {  // run 0 warms up
        // --profile: a kineto trace (CPU ops and CUDA kernels) of the last timed prefill.
        bool tracing = !profile.empty() && run == repeats;
        if (tracing) longctx::bench::start_trace();
        torch::cuda::synchronize();
        auto t0 = std::chrono::steady_clock::now();
        torch::Tensor last;
        int64_t step = chunk > 0 ? chunk : t;
        for (int64_t start = 0; start < t; start += step) {
          int64_t length = std::min(step, t - start);
          torch::Tensor chunk_ids = ids.slice(1, start, start + length);
          last = all_positions
                     ? model->forward_hidden(chunk_ids, start, &cache).slice(1, -1)
                     : model->prefill(chunk_ids, start, cache, start + length == t ? 1 : 0);
        }
        torch::Tensor next = model->logits(last).argmax(-1);  // [1, 1]
        torch::cuda::synchronize();
        if (run > 0)
          times.push_back(seconds_since(t0));
        else
          first_s = seconds_since(t0);
        if (tracing) longctx::bench::save_trace(profile);
      }
      std::sort(times.begin(), times.end());
      prefill_s = times[times.size() / 2];
      auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
      // allocated_bytes[0]: the aggregate over both pools (StatType::AGGREGATE).
      peak_gib = static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024 * 1024);
    }
    // Decoding as `longctx generate` and `needle` run it (Generator: a CUDA graph per attention
    // window). The first call prefills and captures the windows' graphs; the second reuses the
    // whole prompt but its last token, so its time after the prefill is decoding alone.
    double decode_s = 0, decoded = 0;
    if (decode_steps > 0) {
      torch::Tensor cpu_ids = ids.cpu();
      std::vector<int32_t> prompt(cpu_ids.data_ptr<int64_t>(), cpu_ids.data_ptr<int64_t>() + t);
      longctx::Generator generator(model, t + decode_steps + 1, device, torch::kBFloat16);
      longctx::GenerationOptions options{.max_new_tokens = decode_steps + 1, .chunk_tokens = t};
      generator.generate(prompt, options);
      longctx::GenerationResult r = generator.generate(prompt, options);
      decode_s = r.total_seconds - r.prefill_seconds;
      decoded = static_cast<double>(r.generated.size()) - 1;  // the first came from the prefill
    }
    c10::cuda::CUDACachingAllocator::emptyCache();
    double tps = static_cast<double>(t) / prefill_s;
    std::optional<double> mfu;
    if (peak) mfu = executed / prefill_s / (*peak * 1e12);
    // RECIPE.md section 5's forward count (every layer and the head at every position), as the
    // earlier tables gave it.
    double recipe_flops_per_token = 2 * n + 2.0 * config.num_hidden_layers * t * config.hidden_size;
    std::optional<double> recipe_fraction;
    if (peak) recipe_fraction = tps * recipe_flops_per_token / (*peak * 1e12);
    double decode_tps = decoded > 0 ? decoded / decode_s : 0;
    std::printf("| %s | %lld | %.0f | %s | %.1f | %.1f | %.2f |\n", shape_name.c_str(),
                static_cast<long long>(t), tps,
                mfu ? fmt::format("{:.1f}%", 100 * *mfu).c_str() : "unknown", peak_gib, decode_tps,
                first_s);
    std::fflush(stdout);
    if (json.is_open()) {
      std::string label = chunk > 0 ? fmt::format("chunks of {}", chunk) : "one pass";
      if (all_positions) label += ", last layer at every position";
      nlohmann::json line = longctx::bench::run_facts(device);
      line.update(
          nlohmann::json{{"bench", "prefill"},
                         {"impl", "longctx"},
                         {"config", label},
                         {"shape", shape_name},
                         {"tokens", t},
                         {"status", "ok"},
                         {"fused_kernels", longctx::fused_kernels_enabled()},
                         {"attention_block", block},
                         {"chunk_tokens", chunk > 0 ? chunk : t},
                         {"last_layer_every_position", all_positions},
                         {"first_prefill_s", first_s},
                         {"tokens_per_s", tps},
                         {"executed_flops", executed},
                         {"mfu", longctx::bench::or_null(mfu)},
                         {"mfu_convention", "executed-forward"},
                         {"recipe_fraction_of_peak", longctx::bench::or_null(recipe_fraction)},
                         {"peak_tflops", longctx::bench::or_null(peak)},
                         {"peak_gib", peak_gib},
                         {"decode_tokens_per_s", decode_tps}});
      json << line.dump() << "\n";
      json.flush();
    }
  }
  return 0;
}
