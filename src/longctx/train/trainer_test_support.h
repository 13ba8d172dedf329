// Shared by the trainer's CPU and GPU tests: a scratch directory, a learnable Megatron dataset
// and a random debug model directory.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "longctx/mix/dataset_format.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/model/scratch_dir.h"

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

}  // namespace longctx
