// The needle grid on one GPU (issue 7's benchmark): every cell's prompt prefilled and 50 tokens
// decoded greedily, with and without prefix reuse (model/generation.h).
//
//   longctx needle --tokenizer Llama-2-7b-hf --dump-prompts prompts.jsonl     (any machine)
//   longctx_bench_needle --prompts prompts.jsonl --shape tinyllama-1.1b [--no-reuse]
//                        [--no-graphs] [--chunk 8192] [--max-new-tokens 50]
//
// The GPU machine builds only base/ and model/ (no tokenizers), so the prompts come tokenized.
// Random bf16 weights of the shape (the answers are noise; the timing is the point). Prints
// wall time, prefill tokens/s (tokens actually computed), decode tokens/s and the prefill
// FLOPs that reuse saved (RECIPE.md section 5, forward only: 2N per token plus 4Ld per
// attended position).
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longctx/model/checkpoint.h"
#include "longctx/model/generation.h"
#include "longctx/model/presets.h"
#include "longctx/runtime/cuda_allocator.h"
#include "longctx/runtime/device.h"

int main(int argc, char** argv) {
  longctx::prefer_expandable_segments();  // before anything touches CUDA
  std::string prompts_path, shape = "tinyllama-1.1b";
  bool reuse = true, graphs = true;
  int64_t max_new = 50, chunk = 8192;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--prompts")
      prompts_path = value();
    else if (flag == "--shape")
      shape = value();
    else if (flag == "--no-reuse")
      reuse = false;
    else if (flag == "--max-new-tokens")
      max_new = std::stoll(value());
    else if (flag == "--chunk")
      chunk = std::stoll(value());
    else if (flag == "--no-graphs")
      graphs = false;
  }
  if (!torch::cuda::is_available() || prompts_path.empty()) {
    std::fprintf(stderr, "usage: longctx_bench_needle --prompts FILE [--shape S] (needs CUDA)\n");
    return 2;
  }
  std::vector<std::vector<int32_t>> prompts;
  std::ifstream in(prompts_path);
  for (std::string line; std::getline(in, line);)
    prompts.push_back(nlohmann::json::parse(line)["ids"].get<std::vector<int32_t>>());
  std::sort(prompts.begin(), prompts.end());  // prefix-trie order, as longctx needle runs them
  int64_t longest = 0;
  for (const auto& p : prompts)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));

  longctx::ModelConfig config = longctx::model_preset(shape);
  longctx::set_context_length(config, std::max<int64_t>(longest + max_new, 4096));
  longctx::LlamaForCausalLM model =
      longctx::init_model(config, /*seed=*/0, torch::dtype(torch::kBFloat16).device(torch::kCUDA));
  model->fuse_projections();
  model->eval();
  longctx::Generator generator(model, longest + max_new, torch::kCUDA, torch::kBFloat16);

  auto t0 = std::chrono::steady_clock::now();
  double prefill_s = 0, decode_s = 0, computed = 0, total = 0, flops = 0, saved = 0;
  int64_t decoded = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int32_t>& p = prompts[i];
    longctx::GenerationResult r = generator.generate(p, {.max_new_tokens = max_new,
                                                         .chunk_tokens = chunk,
                                                         .reuse_prefix = reuse,
                                                         .cuda_graphs = graphs});
    prefill_s += r.prefill_seconds;
    decode_s += r.total_seconds - r.prefill_seconds;
    auto t = static_cast<double>(p.size());
    total += t;
    computed += t - static_cast<double>(r.reused_tokens);
    flops += longctx::prefill_flops(config, 0, static_cast<int64_t>(t));
    saved += longctx::prefill_flops(config, 0, r.reused_tokens);
    decoded += static_cast<int64_t>(r.generated.size());
    if (i % 20 == 19 || i + 1 == prompts.size()) {  // progress, in case the run is cut short
      std::fprintf(stderr, "%zu/%zu cells, %.0f s: prefill %.0f s, decode %.0f s\n", i + 1,
                   prompts.size(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                   prefill_s, decode_s);
    }
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "| shape | cells | reuse | wall s | prefill tokens/s | decode tokens/s | prefill FLOPs saved "
      "|\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|\n");
  std::printf("| %s | %zu | %s%s | %.1f | %.0f | %.1f | %.1f%% (%.3g of %.3g) |\n", shape.c_str(),
              prompts.size(), reuse ? "on" : "off", graphs ? "" : ", no graphs", wall,
              computed / prefill_s, static_cast<double>(decoded) / decode_s, 100 * saved / flops,
              saved, flops);
  std::fprintf(stderr, "%.0f prompt tokens, %.0f computed; peak GPU memory %.1f GiB\n", total,
               computed, static_cast<double>(longctx::peak_memory_bytes(torch::kCUDA)) / (1 << 30));
  return 0;
}
