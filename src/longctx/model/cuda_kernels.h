// Fused element-wise CUDA kernels for the two places where the model's plain libtorch ops make
// several passes over a large tensor (train_ops.h dispatches to them; nothing else calls them):
//
//   rotary   y = x * cos + roll(x, D/2) * sin_signed, and its backward, in one pass: the
//            libtorch ops read x three times and write two temporaries (x*cos, roll(x)).
//   swiglu   y = silu(gate) * up in one pass, and its backward (d gate, d up) in one pass that
//            recomputes silu from gate: the libtorch ops keep silu(gate) for backward, one
//            more [T, F] tensor per layer, and make five passes.
//   merge    two attentions of the same queries over disjoint key sets, combined by their
//            log-sum-exp into the attention over the union (attention.h's block prefill), in
//            one pass: the libtorch ops make about ten over float32 temporaries.
//
// Each kernel rounds where the libtorch ops round (bf16/fp16 after x*cos, after silu, after
// each product of the backward), so results match the plain ops to the last bit or within one
// rounding (where nvcc and PyTorch contract a multiply-add differently).
//
// Built only where CMake finds a CUDA compiler next to a CUDA libtorch
// (LONGCTX_HAVE_CUDA_KERNELS); compiled by nvcc without any libtorch header, so the interface
// is raw pointers, element strides and a cudaStream_t passed as void*. Each function returns
// the cudaError_t of its launch (0 = cudaSuccess).
//
// Shapes: x [B, H, T, D] with D contiguous (any order of B, H, T in memory), cos/sin [T, D];
// gate/up [N, F] with F contiguous, rows `stride` elements apart.
#pragma once

#include <cstdint>

namespace longctx::cuda_kernels {

enum class DType { kFloat32, kBFloat16, kFloat16 };
enum class Pass { kForward, kBackward };

struct RotaryShape {
  int64_t sizes[3];      // the outer dims B, H, T in memory order: largest stride first
  int64_t strides[3];    // their element strides in x (any, e.g. a narrow of a fused projection)
  int64_t y_strides[3];  // and in y
  int t_dim;             // which of the three is T (indexes the rows of cos/sin)
  int64_t head_dim;      // D, even
  int64_t table_stride;  // elements between rows of cos and sin
};

// Forward: y = x * cos + roll(x, D/2) * sin. Backward (x = dL/dy, y = dL/dx): the inverse
// rotation, x * cos + roll(x, -D/2) * roll(sin, -D/2). y must not alias x.
int rotary(DType dtype, Pass pass, const void* x, const void* cos, const void* sin_signed, void* y,
           const RotaryShape& shape, void* stream);

// out [N, F] contiguous = silu(gate) * up.
int swiglu_forward(DType dtype, const void* gate, int64_t gate_stride, const void* up,
                   int64_t up_stride, void* out, int64_t rows, int64_t cols, void* stream);

// grad_out [N, F] contiguous; grad_gate and grad_up [N, F] contiguous, written.
int swiglu_backward(DType dtype, const void* grad_out, const void* gate, int64_t gate_stride,
                    const void* up, int64_t up_stride, void* grad_gate, void* grad_up, int64_t rows,
                    int64_t cols, void* stream);

struct MergeShape {
  int64_t sizes[3];       // the outer dims B, H, T, in the output's memory order
  int64_t strides[4][3];  // their element strides in out_a, out_b, out and lse (in that order)
  int64_t head_dim;       // D
};

// out = (e_a * out_a + e_b * out_b) / (e_a + e_b) with e = exp(lse - max(lse_a, lse_b)), in
// float32, rounded once; a row where both lse are -inf (no visible key) gets 0. out_a, out_b,
// out [B, H, T, D] with D contiguous; lse_a, lse_b [B, H, T] float32 with the same strides.
// out may be out_a or out_b (each element is read before it is written, by the same thread).
int merge_attention(DType dtype, const void* out_a, const float* lse_a, const void* out_b,
                    const float* lse_b, void* out, const MergeShape& shape, void* stream);

}  // namespace longctx::cuda_kernels
