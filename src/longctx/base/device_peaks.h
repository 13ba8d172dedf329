// Dense bf16 peak of a GPU by the name CUDA reports for it, for MFU figures. A pure function of
// the name (no libtorch, no CUDA), so it is tested on the CPU with real device names.
//
//   std::optional<double> peak = dense_bf16_peak_tflops("NVIDIA H100 80GB HBM3");  // 989
//   std::optional<double> none = dense_bf16_peak_tflops("NVIDIA H800");             // nullopt
//
// A name outside the table, or a MIG slice of a GPU (a fraction of its SMs), has no known
// peak: MFU is then "unknown" unless the user gives one (--peak-tflops).
#pragma once

#include <optional>
#include <string_view>

namespace longctx {

// TFLOP/s of dense (not 2:4 sparse) bf16 tensor-core math with float32 accumulation.
std::optional<double> dense_bf16_peak_tflops(std::string_view device_name);

}  // namespace longctx
