// What every GPU benchmark's JSON line carries besides its measurements, so that a line read
// on its own says where and when it was measured (bench/compare_peers.py groups by it):
//
//   {"gpu": "NVIDIA H200", "date": "2026-11-27", "versions": {"libtorch": "2.11.0"}, ...}
//
// The peers (bench/train_hf.py, bench/model_prefill_hf.py) write the same keys.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "longctx/runtime/device.h"

namespace longctx::bench {

// Today's date, UTC, as YYYY-MM-DD.
inline std::string today() {
  std::time_t now = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

// The keys shared by every line: the GPU's name, the date, the libtorch version.
inline nlohmann::json run_facts(torch::Device device) {
  return {
      {"gpu", device_name(device)}, {"date", today()}, {"versions", {{"libtorch", TORCH_VERSION}}}};
}

// The peak for MFU, in TFLOP/s: --peak-tflops when given, else the device's by its name (base/
// device_peaks.h); nullopt when unknown, and MFU is then null in JSON and "unknown" in tables.
inline std::optional<double> peak_tflops(torch::Device device, std::optional<double> given) {
  if (given) return given;
  double flops = peak_flops(device);
  return flops > 0 ? std::optional<double>(flops / 1e12) : std::nullopt;
}

inline nlohmann::json or_null(std::optional<double> value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace longctx::bench
