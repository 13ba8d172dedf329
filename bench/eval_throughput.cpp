// `longctx eval`'s model work on one device, for the benchmarks of issue 24:
//
//   longctx_bench_eval loss --shape tinyllama-1.1b --seq-len 32768 --rows 8 --batch 1,2,4
//       per-token losses of random rows: `longctx score`'s loop (one text at a time, the head's
//       log-softmax in 4096-position slices) against eval loss's (row_token_losses, B rows a
//       forward), tokens/s of each and the largest difference between their losses;
//   longctx_bench_eval mmlu --requests mmlu-requests.jsonl --shape tinyllama-1.1b --batch 8
//       questions/s of the native MMLU backend (NativeLoglikelihood: each group's shared prefix
//       once, B rows a forward) on requests from `longctx eval mmlu --dump-requests` or
//       bench/make_mmlu_requests.py; --out writes each question's log-likelihoods (JSON lines)
//       for bench/mmlu_hf.py --compare.
//
// Random weights of the shape in bfloat16 on CUDA (--model DIR loads a checkpoint instead;
// --device cpu --dtype float32 runs a smoke check on the CPU with --shape debug). The GPU
// machine builds only base/, model/ and the dataset readers, so the requests come tokenized.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longctx/eval/native/native_backend.h"
#include "longctx/eval/native/token_losses.h"
#include "longctx/model/checkpoint.h"
#include "longctx/runtime/cuda_allocator.h"
#include "longctx/runtime/device.h"
#include "longctx/model/generation.h"
#include "longctx/model/presets.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::string mode, shape = "tinyllama-1.1b", model, requests, out, device = "cuda", dtype;
  int64_t seq_len = 32768, rows = 8, limit = 0;
  std::vector<int64_t> batches = {1, 2, 4};
};

longctx::LlamaForCausalLM make_model(const Args& a, int64_t context) {
  torch::Device device = longctx::parse_device(a.device);
  torch::ScalarType dtype =
      a.dtype.empty() ? longctx::default_dtype(device) : longctx::parse_torch_dtype(a.dtype);
  if (!a.model.empty()) return longctx::load_model(a.model, {.device = device, .dtype = dtype});
  longctx::ModelConfig config = longctx::model_preset(a.shape);
  longctx::set_context_length(config, std::max<int64_t>(context, 4096));
  longctx::LlamaForCausalLM model =
      longctx::init_model(config, /*seed=*/0, torch::dtype(dtype).device(device));
  model->fuse_projections();
  model->eval();
  return model;
}

// `longctx score`'s loop (tools/score.cpp), the baseline: one row through the cache in chunks,
// the head's float32 log-softmax over 4096 positions at a time, the targets gathered.
torch::Tensor score_style_losses(longctx::LlamaForCausalLM& model, const torch::Tensor& row,
                                 longctx::KvCache& cache, int64_t chunk) {
  torch::NoGradGuard no_grad;
  constexpr int64_t kHeadRows = 4096;
  const int64_t t = row.size(1);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < t - 1; start += chunk) {
    int64_t end = std::min(start + chunk, t - 1);
    torch::Tensor hidden = model->forward_hidden(row.slice(1, start, end), start, &cache);
    for (int64_t r = start; r < end; r += kHeadRows) {
      int64_t n = std::min(kHeadRows, end - r);
      torch::Tensor lp = torch::log_softmax(
          model->logits(hidden.slice(1, r - start, r - start + n)).to(torch::kFloat), -1);
      parts.push_back(-lp.gather(-1, row.slice(1, r + 1, r + n + 1).unsqueeze(-1)).reshape({-1}));
    }
  }
  return torch::cat(parts).to(torch::kCPU);
}

int run_loss(const Args& a) {
  longctx::LlamaForCausalLM model = make_model(a, a.seq_len);
  const longctx::ModelConfig& config = model->config();
  torch::Device device = model->lm_head->weight.device();
  torch::ScalarType dtype = model->lm_head->weight.scalar_type();
  torch::Tensor ids = torch::randint(3, config.vocab_size, {a.rows, a.seq_len},
                                     torch::dtype(torch::kLong).device(device));  // [R, T]
  const double tokens = static_cast<double>(a.rows * a.seq_len);
  std::printf("| run | rows x tokens | chunk | seconds | tokens/s | max |diff| vs score |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");

  // The baseline, with its untimed warm-up row.
  torch::Tensor baseline;
  {
    longctx::KvCache cache(config, 1, a.seq_len, device, dtype);
    auto head = static_cast<uint64_t>(4096 * config.vocab_size *
                                      (static_cast<int64_t>(c10::elementSize(dtype)) + 8));
    int64_t chunk = longctx::default_prefill_chunk(config, device, dtype, a.seq_len - 1, head);
    score_style_losses(model, ids.slice(0, 0, 1), cache, chunk);
    std::vector<torch::Tensor> rows;
    longctx::synchronize(device);
    auto t0 = Clock::now();
    for (int64_t r = 0; r < a.rows; ++r)
      rows.push_back(score_style_losses(model, ids.slice(0, r, r + 1), cache, chunk));
    longctx::synchronize(device);
    double s = seconds_since(t0);
    baseline = torch::stack(rows);  // [R, T-1]
    std::printf("| score's loop | %lld x %lld | %lld | %.2f | %.0f | - |\n", (long long)a.rows,
                (long long)a.seq_len, (long long)chunk, s, tokens / s);
  }
  for (int64_t b : a.batches) {
    if (a.rows % b != 0) continue;
    longctx::KvCache cache(config, b, a.seq_len, device, dtype);
    longctx::TokenLossOptions options;
    options.chunk_tokens = longctx::loss_chunk_tokens(config, device, dtype, b, a.seq_len, 4096);
    longctx::row_token_losses(model, ids.slice(0, 0, b), cache, options);  // warm-up
    std::vector<torch::Tensor> parts;
    longctx::synchronize(device);
    auto t0 = Clock::now();
    for (int64_t r = 0; r < a.rows; r += b)
      parts.push_back(longctx::row_token_losses(model, ids.slice(0, r, r + b), cache, options));
    longctx::synchronize(device);
    double s = seconds_since(t0);
    double diff = (torch::cat(parts) - baseline).abs().max().item<double>();
    std::printf("| eval loss, batch %lld | %lld x %lld | %lld | %.2f | %.0f | %.2g |\n",
                (long long)b, (long long)a.rows, (long long)a.seq_len,
                (long long)options.chunk_tokens, s, tokens / s, diff);
  }
  if (device.is_cuda())
    std::fprintf(stderr, "peak GPU memory %.1f GiB\n",
                 static_cast<double>(longctx::peak_memory_bytes(device)) / (1 << 30));
  return 0;
}

int run_mmlu(const Args& a) {
  // The requests, in groups (a group: one subject, whose prefix the backend shares).
  std::map<int64_t, std::vector<longctx::LoglikelihoodRequest>> groups;
  std::ifstream in(a.requests);
  int64_t questions = 0, longest = 0;
  for (std::string line; std::getline(in, line) && (a.limit == 0 || questions < a.limit);) {
    nlohmann::json j = nlohmann::json::parse(line);
    longctx::LoglikelihoodRequest r{j["context"].get<std::vector<int32_t>>(),
                                    j["continuations"].get<std::vector<std::vector<int32_t>>>()};
    longest = std::max<int64_t>(longest, static_cast<int64_t>(r.context.size()) + 8);
    groups[j.value("group", int64_t{0})].push_back(std::move(r));
    ++questions;
  }
  if (questions == 0) {
    std::fprintf(stderr, "no requests in %s\n", a.requests.c_str());
    return 2;
  }
  longctx::LlamaForCausalLM model = make_model(a, longest);
  torch::Device device = model->lm_head->weight.device();
  std::ofstream out;
  if (!a.out.empty()) out.open(a.out);
  std::printf("| batch | questions | seconds | questions/s | context positions computed |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (int64_t b : a.batches) {
    longctx::NativeLoglikelihood backend(model, {.batch_rows = b, .chunk_tokens = 0});
    backend.score(std::vector<longctx::LoglikelihoodRequest>{groups.begin()->second.front()},
                  [](size_t, const longctx::LoglikelihoodResult&) {});  // warm-up
    longctx::synchronize(device);
    auto t0 = Clock::now();
    int64_t done = 0, computed_before = backend.computed_tokens(),
            requested_before = backend.requested_tokens();
    for (const auto& [group, requests] : groups) {
      std::vector<std::vector<double>> lls(requests.size());
      backend.score(requests, [&](size_t i, const longctx::LoglikelihoodResult& r) {
        lls[i] = r.loglikelihoods;
      });
      done += static_cast<int64_t>(requests.size());
      if (out.is_open() && b == a.batches.front())
        for (size_t i = 0; i < lls.size(); ++i)
          out << nlohmann::json{{"group", group}, {"index", i}, {"loglikelihoods", lls[i]}}.dump()
              << "\n";
    }
    longctx::synchronize(device);
    double s = seconds_since(t0);
    double computed = static_cast<double>(backend.computed_tokens() - computed_before);
    double requested = static_cast<double>(backend.requested_tokens() - requested_before);
    std::printf("| %lld | %lld | %.1f | %.1f | %.1f%% |\n", (long long)b, (long long)done, s,
                static_cast<double>(done) / s, 100 * computed / requested);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  longctx::prefer_expandable_segments();  // before anything touches CUDA
  Args a;
  CLI::App app("eval loss tokens/s vs score's loop (loss), MMLU questions/s (mmlu)",
               "longctx_bench_eval");
  app.add_option("mode", a.mode, "loss | mmlu")->required()->check(CLI::IsMember({"loss", "mmlu"}));
  app.add_option("--shape", a.shape, "preset shape of the random-weight model")->capture_default_str();
  app.add_option("--model", a.model, "a model directory instead of a random-weight shape");
  app.add_option("--requests", a.requests, "mmlu: requests file (bench/make_mmlu_requests.py)");
  app.add_option("--out", a.out, "mmlu: write the log-likelihoods of the first batch size here");
  app.add_option("--device", a.device, "cpu | cuda")->capture_default_str();
  app.add_option("--dtype", a.dtype, "float32 | bfloat16 (default: the device's)");
  app.add_option("--seq-len", a.seq_len, "loss: tokens per row")->capture_default_str();
  app.add_option("--rows", a.rows, "loss: rows scored")->capture_default_str();
  app.add_option("--limit", a.limit, "mmlu: at most this many questions (0: all)");
  app.add_option("--batch", a.batches, "batch sizes to time, a comma list")
      ->delimiter(',')
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (a.mode == "mmlu" && a.requests.empty()) {
    std::fprintf(stderr, "longctx_bench_eval: mmlu needs --requests FILE\n");
    return 2;
  }
  try {
    return a.mode == "loss" ? run_loss(a) : run_mmlu(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "longctx_bench_eval: %s\n", e.what());
    return 1;
  }
}
