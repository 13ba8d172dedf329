// The few device facts the trainer and benchmarks need that libtorch's C++ API spreads over
// CUDA-only headers: peak memory, total memory, synchronisation. Builds without CUDA (Debian's
// CPU libtorch), where CUDA devices report nothing.
//
//   reset_peak_memory(device);  ...  double gib = peak_memory_bytes(device) / double(1 << 30);
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace longctx {

// "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N"; throws Error naming --device.
torch::Device parse_device(std::string_view name);

// Peak bytes allocated by libtorch's caching allocator since the last reset (0 on CPU).
uint64_t peak_memory_bytes(torch::Device device);
void reset_peak_memory(torch::Device device);
// Total memory of the device (0 when unknown: CPU, or a build without CUDA).
uint64_t total_memory_bytes(torch::Device device);
// Memory a new allocation can still take: the device's free memory plus what libtorch's
// caching allocator holds unused (0 when unknown: CPU, or a build without CUDA).
uint64_t free_memory_bytes(torch::Device device);
void synchronize(torch::Device device);
// The name CUDA reports for the device ("NVIDIA H100 80GB HBM3"); "cpu" on the CPU.
std::string device_name(torch::Device device);
// Dense bf16 peak of the device in FLOP/s for MFU, by its name (base/device_peaks.h: 989e12 for
// H100/H200 SXM, 312e12 for A100, ...); 0 when unknown (the CPU, a GPU outside the table).
double peak_flops(torch::Device device);

}  // namespace longctx
