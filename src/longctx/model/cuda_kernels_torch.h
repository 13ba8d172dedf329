// The libtorch side of calling cuda_kernels.h (whose interface has no libtorch types): the
// kernel dtype of a tensor, the launch check, the order of a tensor's dims in memory and the
// current stream. For train_ops.cpp and
// attention.cpp, in builds with the kernels (LONGCTX_HAVE_CUDA_KERNELS) only.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <optional>

#include "longctx/model/cuda_kernels.h"

namespace longctx::cuda_kernels {

// The kernels' element type for a tensor dtype; nullopt for the ones they do not handle.
inline std::optional<DType> kernel_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return DType::kFloat32;
    case torch::kBFloat16:
      return DType::kBFloat16;
    case torch::kHalf:
      return DType::kFloat16;
    default:
      return std::nullopt;
  }
}

// Throws c10::Error for a failed launch (the functions return their cudaError_t).
inline void check_launch(int status) {
  C10_CUDA_CHECK(static_cast<cudaError_t>(status));
}

// The outer dims (0-2) of a [B, H, T, D]-shaped tensor by decreasing stride, ties in dim order,
// so that a kernel's consecutive threads walk consecutive rows in memory: {0, 2, 1} for
// [B, T, H, D] storage (a transposed projection).
inline std::array<int, 3> outer_dims_in_memory_order(const torch::Tensor& x) {
  std::array<int, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return x.stride(a) > x.stride(b); });
  return order;
}

inline void* current_stream() {
  return c10::cuda::getCurrentCUDAStream().stream();
}

}  // namespace longctx::cuda_kernels
