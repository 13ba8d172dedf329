# shellcheck shell=bash
# Sourced by the scripts/gpu/*_checks.sh scripts: the GPU machine's build, the full one (the
# `longctx` binary, every test, the benchmarks) against the libtorch inside PyTorch and, where
# the machine has no package registry, the Debian packages of .gpu-debs/ (scripts/gpu/deps.sh).
# Builds the given targets, or all of them. The log goes to $OUT/build.log, the card's name to
# $OUT/gpu.txt; returns the build's status.
#
#   source scripts/gpu/build_gpu.sh && gpu_build longctx longctx_gpu_tests || exit 1
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
gpu_build() {
  local targets=() status
  # nvcc for the fused kernels (model/cuda_kernels.cu), where the toolkit is not on PATH.
  if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
  nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv > "$OUT/gpu.txt" 2>&1
  gpu_deps > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; return 1; }
  for t in "$@"; do targets+=(--target "$t"); done
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLONGCTX_WERROR=OFF \
    -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLONGCTX_CUDA_ARCHITECTURES=90 >> "$OUT/build.log" 2>&1 &&
    cmake --build build-gpu -j "$(nproc)" "${targets[@]}" >> "$OUT/build.log" 2>&1
  status=$?
  tail -5 "$OUT/build.log"
  return $status
}
