// The kernels of cuda_kernels.h. Each thread handles V consecutive elements (up to 16 bytes,
// one vector load), V chosen per call from the sizes, strides and pointer alignment.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "longctx/model/cuda_kernels.h"

namespace longctx::cuda_kernels {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float to_float(float x) {
  return x;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
__device__ __forceinline__ float to_float(__half x) {
  return __half2float(x);
}

// Round to nearest even, as PyTorch's casts.
template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

// x rounded to T and back: where the libtorch ops store an intermediate in the tensor's dtype.
template <typename T>
__device__ __forceinline__ float round_to(float x) {
  return to_float(from_float<T>(x));
}

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load(const T* p) {
  return *reinterpret_cast<const Pack<T, V>*>(p);
}

template <typename T, int V>
__device__ __forceinline__ void store(T* p, const Pack<T, V>& value) {
  *reinterpret_cast<Pack<T, V>*>(p) = value;
}

// Row r of the outer dims [sizes[0], sizes[1], sizes[2]] (row-major) as its three indices.
struct Outer {
  int64_t c[3];
  __device__ __forceinline__ Outer(int64_t r, const int64_t (&sizes)[3]) {
    c[2] = r % sizes[2];
    r /= sizes[2];
    c[1] = r % sizes[1];
    c[0] = r / sizes[1];
  }
  __device__ __forceinline__ int64_t offset(const int64_t (&strides)[3]) const {
    return c[0] * strides[0] + c[1] * strides[1] + c[2] * strides[2];
  }
};

// One thread: elements [j, j + V) of the first half of a row of x and the same of the second
// half. With s = D/2 and sin_signed = [-sin_first_half, sin_second_half], forward:
//   y_j     = x_j     * cos_j     + x_(j+s) * sin_j        (roll(x, s)_j = x_(j+s) for j < s)
//   y_(j+s) = x_(j+s) * cos_(j+s) + x_j     * sin_(j+s)
// backward (g = dL/dy): dL/dx = g * cos + roll(g, -s) * roll(sin, -s):
//   dx_j     = g_j     * cos_j     + g_(j+s) * sin_(j+s)
//   dx_(j+s) = g_(j+s) * cos_(j+s) + g_j     * sin_j
// The product with cos is rounded to T first, as x * cos is a tensor before addcmul.
template <typename T, int V, bool kBackward>
__global__ void rotary_kernel(const T* __restrict__ x, const T* __restrict__ cos,
                              const T* __restrict__ sin, T* __restrict__ y, RotaryShape shape) {
  const int64_t half = shape.head_dim / 2;
  const int64_t groups = half / V;  // threads per row
  const int64_t rows = shape.sizes[0] * shape.sizes[1] * shape.sizes[2];
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * groups) return;
  const int64_t j = (i % groups) * V;
  const Outer row(i / groups, shape.sizes);
  const int64_t offset = row.offset(shape.strides), y_offset = row.offset(shape.y_strides);
  const int64_t t = row.c[shape.t_dim];
  const T* cos_row = cos + t * shape.table_stride;
  const T* sin_row = sin + t * shape.table_stride;

  Pack<T, V> x1 = load<T, V>(x + offset + j), x2 = load<T, V>(x + offset + j + half);
  Pack<T, V> cos1 = load<T, V>(cos_row + j), cos2 = load<T, V>(cos_row + j + half);
  Pack<T, V> sin1 = load<T, V>(sin_row + j), sin2 = load<T, V>(sin_row + j + half);
  Pack<T, V> y1, y2;
#pragma unroll
  for (int k = 0; k < V; ++k) {
    float a = to_float(x1.v[k]), b = to_float(x2.v[k]);
    float s_first = to_float(kBackward ? sin2.v[k] : sin1.v[k]);
    float s_second = to_float(kBackward ? sin1.v[k] : sin2.v[k]);
    y1.v[k] = from_float<T>(round_to<T>(a * to_float(cos1.v[k])) + b * s_first);
    y2.v[k] = from_float<T>(round_to<T>(b * to_float(cos2.v[k])) + a * s_second);
  }
  store<T, V>(y + y_offset + j, y1);
  store<T, V>(y + y_offset + j + half, y2);
}

// silu as PyTorch's CUDA kernel computes it: x / (1 + exp(-x)) in float.
__device__ __forceinline__ float silu(float x) {
  return x / (1.0f + expf(-x));
}

template <typename T, int V>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate, int64_t gate_stride,
                                      const T* __restrict__ up, int64_t up_stride,
                                      T* __restrict__ out, int64_t rows, int64_t cols) {
  const int64_t groups = cols / V;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * groups) return;
  const int64_t row = i / groups, col = (i % groups) * V;
  Pack<T, V> g = load<T, V>(gate + row * gate_stride + col);
  Pack<T, V> u = load<T, V>(up + row * up_stride + col);
  Pack<T, V> y;
#pragma unroll
  for (int k = 0; k < V; ++k)
    y.v[k] = from_float<T>(round_to<T>(silu(to_float(g.v[k]))) * to_float(u.v[k]));
  store<T, V>(out + row * cols + col, y);
}

// With s = silu(g) rounded to T (the tensor the plain ops keep) and dy the incoming gradient:
//   d up   = dy * s
//   d gate = round(dy * up) * sigmoid(g) * (1 + g * (1 - sigmoid(g)))   (PyTorch's silu_backward)
template <typename T, int V>
__global__ void swiglu_backward_kernel(const T* __restrict__ grad_out, const T* __restrict__ gate,
                                       int64_t gate_stride, const T* __restrict__ up,
                                       int64_t up_stride, T* __restrict__ grad_gate,
                                       T* __restrict__ grad_up, int64_t rows, int64_t cols) {
  const int64_t groups = cols / V;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * groups) return;
  const int64_t row = i / groups, col = (i % groups) * V;
  Pack<T, V> dy = load<T, V>(grad_out + row * cols + col);
  Pack<T, V> g = load<T, V>(gate + row * gate_stride + col);
  Pack<T, V> u = load<T, V>(up + row * up_stride + col);
  Pack<T, V> dg, du;
#pragma unroll
  for (int k = 0; k < V; ++k) {
    float x = to_float(g.v[k]), d = to_float(dy.v[k]);
    float sigmoid = 1.0f / (1.0f + expf(-x));
    du.v[k] = from_float<T>(d * round_to<T>(silu(x)));
    float ds = round_to<T>(d * to_float(u.v[k]));
    dg.v[k] = from_float<T>(ds * sigmoid * (1.0f + x * (1.0f - sigmoid)));
  }
  store<T, V>(grad_gate + row * cols + col, dg);
  store<T, V>(grad_up + row * cols + col, du);
}

// One thread: elements [j, j + V) of one query row. No __restrict__ on out_a, out_b and out:
// out may be either input.
template <typename T, int V>
__global__ void merge_attention_kernel(const T* out_a, const float* __restrict__ lse_a,
                                       const T* out_b, const float* __restrict__ lse_b, T* out,
                                       MergeShape shape) {
  const int64_t groups = shape.head_dim / V;  // threads per row
  const int64_t rows = shape.sizes[0] * shape.sizes[1] * shape.sizes[2];
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * groups) return;
  const int64_t j = (i % groups) * V;
  const Outer row(i / groups, shape.sizes);
  const float la = lse_a[row.offset(shape.strides[3])], lb = lse_b[row.offset(shape.strides[3])];
  const float m = fmaxf(la, lb);
  float wa = 0.0f, wb = 0.0f;
  if (m != -INFINITY) {
    const float ea = expf(la - m), eb = expf(lb - m), inv = 1.0f / (ea + eb);
    wa = ea * inv;
    wb = eb * inv;
  }
  Pack<T, V> a = load<T, V>(out_a + row.offset(shape.strides[0]) + j);
  Pack<T, V> b = load<T, V>(out_b + row.offset(shape.strides[1]) + j), y;
#pragma unroll
  for (int k = 0; k < V; ++k) y.v[k] = from_float<T>(wa * to_float(a.v[k]) + wb * to_float(b.v[k]));
  store<T, V>(out + row.offset(shape.strides[2]) + j, y);
}

bool aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

// The widest V (elements per thread, at most 16 bytes) that divides every count and stride
// and to whose size every pointer is aligned.
int vector_width(int64_t element_bytes, std::initializer_list<int64_t> counts,
                 std::initializer_list<const void*> pointers) {
  for (int v = static_cast<int>(16 / element_bytes); v > 1; v /= 2) {
    bool fits = true;
    for (int64_t c : counts) fits = fits && c % v == 0;
    for (const void* p : pointers) fits = fits && aligned(p, v * element_bytes);
    if (fits) return v;
  }
  return 1;
}

unsigned int blocks_for(int64_t threads) {
  return static_cast<unsigned int>((threads + kThreads - 1) / kThreads);
}

// Calls fn(T{}, std::integral_constant<int, V>{}) with T the element type of `dtype` and V the
// widest vector that the counts, strides and pointers allow (vector_width).
template <typename Fn>
void dispatch(DType dtype, std::initializer_list<int64_t> counts,
              std::initializer_list<const void*> pointers, Fn fn) {
  auto with_width = [&](auto element) {
    using T = decltype(element);
    switch (vector_width(sizeof(T), counts, pointers)) {
      case 8:
        return fn(T{}, std::integral_constant<int, 8>{});
      case 4:
        return fn(T{}, std::integral_constant<int, 4>{});
      case 2:
        return fn(T{}, std::integral_constant<int, 2>{});
      default:
        return fn(T{}, std::integral_constant<int, 1>{});
    }
  };
  switch (dtype) {
    case DType::kFloat32:
      return with_width(float{});
    case DType::kBFloat16:
      return with_width(__nv_bfloat16{});
    case DType::kFloat16:
      return with_width(__half{});
  }
}

}  // namespace

int rotary(DType dtype, Pass pass, const void* x, const void* cos, const void* sin_signed, void* y,
           const RotaryShape& shape, void* stream) {
  const int64_t rows = shape.sizes[0] * shape.sizes[1] * shape.sizes[2];
  dispatch(dtype,
           {shape.head_dim / 2, shape.strides[0], shape.strides[1], shape.strides[2],
            shape.y_strides[0], shape.y_strides[1], shape.y_strides[2], shape.table_stride},
           {x, cos, sin_signed, y}, [&](auto element, auto width) {
             using T = decltype(element);
             constexpr int V = decltype(width)::value;
             int64_t threads = rows * (shape.head_dim / 2 / V);
             if (threads == 0) return;
             auto kernel =
                 pass == Pass::kForward ? rotary_kernel<T, V, false> : rotary_kernel<T, V, true>;
             kernel<<<blocks_for(threads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
                 static_cast<const T*>(x), static_cast<const T*>(cos),
                 static_cast<const T*>(sin_signed), static_cast<T*>(y), shape);
           });
  return static_cast<int>(cudaGetLastError());
}

int swiglu_forward(DType dtype, const void* gate, int64_t gate_stride, const void* up,
                   int64_t up_stride, void* out, int64_t rows, int64_t cols, void* stream) {
  dispatch(dtype, {cols, gate_stride, up_stride}, {gate, up, out}, [&](auto element, auto width) {
    using T = decltype(element);
    constexpr int V = decltype(width)::value;
    int64_t threads = rows * (cols / V);
    if (threads == 0) return;
    swiglu_forward_kernel<T, V>
        <<<blocks_for(threads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            static_cast<const T*>(gate), gate_stride, static_cast<const T*>(up), up_stride,
            static_cast<T*>(out), rows, cols);
  });
  return static_cast<int>(cudaGetLastError());
}

int swiglu_backward(DType dtype, const void* grad_out, const void* gate, int64_t gate_stride,
                    const void* up, int64_t up_stride, void* grad_gate, void* grad_up, int64_t rows,
                    int64_t cols, void* stream) {
  dispatch(dtype, {cols, gate_stride, up_stride}, {grad_out, gate, up, grad_gate, grad_up},
           [&](auto element, auto width) {
             using T = decltype(element);
             constexpr int V = decltype(width)::value;
             int64_t threads = rows * (cols / V);
             if (threads == 0) return;
             swiglu_backward_kernel<T, V>
                 <<<blocks_for(threads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
                     static_cast<const T*>(grad_out), static_cast<const T*>(gate), gate_stride,
                     static_cast<const T*>(up), up_stride, static_cast<T*>(grad_gate),
                     static_cast<T*>(grad_up), rows, cols);
           });
  return static_cast<int>(cudaGetLastError());
}

int merge_attention(DType dtype, const void* out_a, const float* lse_a, const void* out_b,
                    const float* lse_b, void* out, const MergeShape& shape, void* stream) {
  const int64_t rows = shape.sizes[0] * shape.sizes[1] * shape.sizes[2];
  const int64_t(&st)[4][3] = shape.strides;
  dispatch(dtype,
           {shape.head_dim, st[0][0], st[0][1], st[0][2], st[1][0], st[1][1], st[1][2], st[2][0],
            st[2][1], st[2][2]},
           {out_a, out_b, out}, [&](auto element, auto width) {
             using T = decltype(element);
             constexpr int V = decltype(width)::value;
             int64_t threads = rows * (shape.head_dim / V);
             if (threads == 0) return;
             merge_attention_kernel<T, V>
                 <<<blocks_for(threads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
                     static_cast<const T*>(out_a), lse_a, static_cast<const T*>(out_b), lse_b,
                     static_cast<T*>(out), shape);
           });
  return static_cast<int>(cudaGetLastError());
}

}  // namespace longctx::cuda_kernels
