#include "longctx/runtime/device.h"

#include <fmt/format.h>

#include <cstdlib>
#include <optional>

#include "longctx/base/device_peaks.h"
#include "longctx/base/error.h"
#include "longctx/runtime/cuda_allocator.h"

#ifdef LONGCTX_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#if __has_include(<c10/core/AllocatorConfig.h>)
#include <c10/core/AllocatorConfig.h>
#define LONGCTX_HAVE_ALLOCATOR_SETTINGS 1
#endif
#endif

namespace longctx {

void prefer_expandable_segments() {
#ifdef LONGCTX_HAVE_ALLOCATOR_SETTINGS
  if (std::getenv("PYTORCH_ALLOC_CONF") != nullptr ||
      std::getenv("PYTORCH_CUDA_ALLOC_CONF") != nullptr)
    return;
  // The call rather than setenv: the variable's name changed in PyTorch 2.9 (the old one now
  // warns that it is deprecated), and the call does not depend on when libtorch reads it.
  c10::CachingAllocator::setAllocatorSettings("expandable_segments:True");
#endif
}

bool expandable_segments_enabled() {
#ifdef LONGCTX_HAVE_CUDA
  // Asked of the allocator's segments: CUDAAllocatorConfig::expandable_segments() is inline and
  // reads a macro that libtorch's own build defines but its CMake package does not pass on, so
  // compiled here it answers false whatever the setting.
  for (const auto& segment : c10::cuda::CUDACachingAllocator::snapshot().segments)
    if (segment.is_expandable) return true;
  return false;
#else
  return false;
#endif
}

torch::Device parse_device(std::string_view name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  try {
    torch::Device device{std::string(name)};
    if (device.is_cuda() && !torch::cuda::is_available())
      throw Error(fmt::format("--device {}: no CUDA device is available", name),
                  "use --device cpu, or a machine with a GPU and a CUDA build of libtorch");
    return device;
  } catch (const c10::Error&) {
    throw Error(fmt::format("--device '{}' is not a device", name),
                "use auto, cpu, cuda or cuda:N");
  }
}

#ifdef LONGCTX_HAVE_CUDA
namespace {

c10::DeviceIndex index_of(torch::Device device) {
  return device.index() < 0 ? 0 : device.index();
}

// The caching allocator's statistics; nothing before the process's first CUDA allocation, when
// it throws "Invalid device argument". [0] of each is the aggregate over both pools.
using AllocatorStats = decltype(c10::cuda::CUDACachingAllocator::getDeviceStats(0));
std::optional<AllocatorStats> allocator_stats(torch::Device device) {
  try {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device));
  } catch (const c10::Error&) {
    return std::nullopt;
  }
}

}  // namespace

uint64_t peak_memory_bytes(torch::Device device) {
  if (!device.is_cuda()) return 0;
  std::optional<AllocatorStats> stats = allocator_stats(device);
  return stats ? static_cast<uint64_t>(stats->allocated_bytes[0].peak) : 0;
}
void reset_peak_memory(torch::Device device) {
  if (!device.is_cuda() || !allocator_stats(device)) return;
  c10::cuda::CUDACachingAllocator::resetPeakStats(index_of(device));
}
uint64_t total_memory_bytes(torch::Device device) {
  if (!device.is_cuda()) return 0;
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, index_of(device)) != cudaSuccess) return 0;
  return prop.totalGlobalMem;
}
uint64_t free_memory_bytes(torch::Device device) {
  if (!device.is_cuda()) return 0;
  c10::cuda::CUDAGuard guard(index_of(device));
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
  std::optional<AllocatorStats> stats = allocator_stats(device);
  uint64_t held = stats ? static_cast<uint64_t>(stats->reserved_bytes[0].current -
                                                stats->allocated_bytes[0].current)
                        : 0;
  return static_cast<uint64_t>(free) + held;
}
void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}
std::string device_name(torch::Device device) {
  if (!device.is_cuda()) return "cpu";
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, index_of(device)) != cudaSuccess) return "unknown";
  return prop.name;
}
#else
uint64_t peak_memory_bytes(torch::Device) {
  return 0;
}
void reset_peak_memory(torch::Device) {}
uint64_t total_memory_bytes(torch::Device) {
  return 0;
}
uint64_t free_memory_bytes(torch::Device) {
  return 0;
}
void synchronize(torch::Device) {}
std::string device_name(torch::Device device) {
  return device.is_cuda() ? "unknown" : "cpu";
}
#endif

double peak_flops(torch::Device device) {
  if (!device.is_cuda()) return 0.0;
  return dense_bf16_peak_tflops(device_name(device)).value_or(0.0) * 1e12;
}

}  // namespace longctx
