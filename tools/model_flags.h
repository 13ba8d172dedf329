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

// A whole number of tokens, 0 allowed. CLI11's NonNegativeNumber would report a range up to
// the largest double.
inline CLI::Validator non_negative_tokens() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        try {
          size_t used = 0;
          if (std::stoll(value, &used) >= 0 && used == value.size()) return "";
        } catch (const std::exception&) {
        }
        return "expected a whole number of tokens, 0 or more; got '" + value + "'";
      },
      "INT>=0");
}

}  // namespace longctx
