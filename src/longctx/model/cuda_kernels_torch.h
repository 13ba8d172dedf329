// The libtorch side of calling cuda_kernels.h (whose interface has no libtorch types): the
// kernel dtype of a tensor, the launch check and the current stream. For train_ops.cpp and
// attention.cpp, in builds with the kernels (LONGCTX_HAVE_CUDA_KERNELS) only.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

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

inline void* current_stream() {
  return c10::cuda::getCurrentCUDAStream().stream();
}

}  // namespace longctx::cuda_kernels
