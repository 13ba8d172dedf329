# shellcheck shell=bash
# Sourced by the scripts/gpu/*_checks.sh scripts: the GPU machine's build. It configures
# base/ + model/ + train/ (LONGCTX_MODEL_ONLY: no tokenizers there) against the libtorch inside
# PyTorch, and builds the given targets, or all of them. The log goes to $OUT/build.log, the
# card's name to $OUT/gpu.txt; returns the build's status.
#
#   source scripts/gpu/build_gpu.sh && gpu_build longctx_bench_needle longctx_gpu_tests || exit 1
gpu_build() {
  local torch_prefix targets=()
  torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  # nvcc for the fused kernels (model/cuda_kernels.cu), where the toolkit is not on PATH.
  if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
  nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv > "$OUT/gpu.txt" 2>&1
  for t in "$@"; do targets+=(--target "$t"); done
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLONGCTX_MODEL_ONLY=ON \
    -DLONGCTX_WERROR=OFF -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLONGCTX_CUDA_ARCHITECTURES=90 \
    > "$OUT/build.log" 2>&1 && cmake --build build-gpu -j 16 "${targets[@]}" >> "$OUT/build.log" 2>&1
  local status=$?
  tail -5 "$OUT/build.log"
  return $status
}
