// Flags shared by the commands that run a model (score, generate, init): where it lives, the
// device and the compute dtype.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "longctx/model/checkpoint.h"

namespace longctx {

struct ModelFlags {
  std::string model;               // an HF model directory
  std::string device = "auto";     // auto | cpu | cuda | cuda:N
  std::string dtype = "auto";      // auto | float32 | bfloat16 | float16
  int64_t rope_frozen_length = 0;  // 0: off

  void add_to(CLI::App& command);
  torch::Device torch_device() const;  // auto: cuda when available
  LoadOptions load_options() const;
};

}  // namespace longctx
