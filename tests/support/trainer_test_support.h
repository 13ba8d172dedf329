// Shared by the trainer's CPU and GPU tests: a scratch directory, a learnable Megatron dataset
// and a random debug model directory.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "longctx/dataset/format.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/train/launch.h"
#include "longctx/train/process_group.h"
#include "longctx/train/train_config.h"
#include "support/scratch_dir.h"

namespace longctx {

namespace fs = std::filesystem;

// A Megatron dataset of `rows` sequences of `row_len` int32 tokens counting up from 3 modulo
// 61 (token[i] = 3 + (i + row) % 61): next-token prediction is learnable from the current
// token alone, so a tiny model's loss falls fast.
inline fs::path write_counting_dataset(const fs::path& dir, uint64_t rows, uint64_t row_len) {
  fs::path prefix = dir / "counting";
  std::vector<int32_t> tokens;
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t i = 0; i < row_len; ++i) tokens.push_back(static_cast<int32_t>(3 + (i + r) % 61));
  std::ofstream out(prefix.string() + ".bin", std::ios::binary);
  out.write(reinterpret_cast<const char*>(tokens.data()),
            static_cast<std::streamsize>(tokens.size() * sizeof(int32_t)));
  out.close();
  write_megatron_index(prefix.string() + ".idx", TokenType::kInt32, rows, row_len);
  return prefix;
}

inline fs::path write_debug_model(const fs::path& dir) {
  fs::path model_dir = dir / "model";
  LlamaForCausalLM model = init_model(model_preset("debug"), /*seed=*/1);
  save_model(model, model_dir, torch::kFloat);
  return model_dir;
}

// The trainer's test configuration: the debug model on CPU, 4 rows of 64 tokens a step in two
// micro-batches (float32 accumulation is exercised), 6 steps at a high learning rate.
inline TrainConfig debug_config(const fs::path& model, const fs::path& data, const fs::path& out) {
  TrainConfig c;
  c.model = model.string();
  c.data = data.string();
  c.out = out.string();
  c.seq_len = 64;
  c.batch_tokens = 256;  // 4 rows per step
  c.micro_batch = 2;     // 2 micro-batches: float32 accumulation is exercised
  c.steps = 6;
  c.lr = 1e-2;
  c.device = "cpu";
  c.eval_every = 2;
  return c;
}

inline std::map<std::string, torch::Tensor> parameters_of(const fs::path& dir) {
  LlamaForCausalLM m =
      load_model(dir, {.device = torch::kCPU, .dtype = torch::kFloat, .fuse_projections = false});
  std::map<std::string, torch::Tensor> out;
  for (auto& p : m->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

inline std::vector<nlohmann::json> metric_lines(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Runs body(group), a std::shared_ptr<ProcessGroup>, as `ranks` data-parallel ranks, one thread
// each, meeting in a c10d store rank 0 hosts on a free local port (Gloo, and NCCL on cuda:r for
// a CUDA `device`). Rethrows the first rank's exception after every thread has ended.
template <typename Body>
void run_ranks(int ranks, torch::Device device, Body body) {
  const int port = free_tcp_port();
  // CUDA starts on every GPU here, in this thread, as in a rank's own process, before the
  // ranks' threads meet in NCCL.
  if (device.is_cuda())
    for (int r = 0; r < ranks; ++r) torch::empty({1}, torch::Device(torch::kCUDA, r));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        RankInfo info{.rank = r, .world_size = ranks, .local_rank = r, .master_port = port};
        torch::Device d = device.is_cuda() ? torch::Device(torch::kCUDA, r) : device;
        std::shared_ptr<ProcessGroup> group =
            connect_process_group(info, d, {.rendezvous = std::chrono::seconds(60)});
        body(group);
      } catch (const std::exception& e) {
        // Said at once: a rank left waiting in NCCL for this one would hide it until killed.
        std::fprintf(stderr, "rank %d failed: %s\n", r, e.what());
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace longctx
