#!/usr/bin/env bash
# One short call on a new GPU machine: what it has (OS, compilers, CUDA, PyTorch, the system
# libraries the full build could use), then the full build (scripts/gpu/build_gpu.sh) and the
# GPU tests, so a longer session there starts from a build known to work.
#
#   run: bash scripts/gpu/probe.sh         (writes $OUT/probe.txt, build.log, tests.log)
set -uo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
{
  echo "== machine"; date -u; uname -a; head -4 /etc/os-release; nproc; free -g | head -2
  df -h /tmp | tail -1
  echo "== compilers"; g++ --version | head -1; cmake --version | head -1; ninja --version
  ls /usr/local/cuda/bin/nvcc && /usr/local/cuda/bin/nvcc --version | tail -2
  echo "== python"; command -v python3; python3 -c 'import torch, transformers, sys;
print(sys.version.split()[0], torch.__version__, torch.version.cuda, transformers.__version__,
      torch.cuda.get_device_name(0), torch.utils.cmake_prefix_path)'
  echo "== sonames the build could take from the machine"
  for s in libz.so.1 libzstd.so.1 libpng16.so.16 libcurl.so.4 libssl.so.3 libcrypto.so.3 \
    libbrotlidec.so.1 libbrotlienc.so.1 libicuuc.so.74 libsimdjson.so.14 libnghttp2.so.14 \
    libldap-2.5.so.0 libldap.so.2 librsvg-2.so.2 libcairo.so.2; do
    printf '%-22s %s\n' "$s" "$(ldconfig -p | awk -v s=$s '$1 == s {print $NF; exit}')"
  done
  echo "== headers"; ls -d /usr/include/{curl,zstd.h,zlib.h,png.h,unicode,openssl,gtest} 2>&1
  command -v pkg-config dpkg-deb chromium rsvg-convert
} > "$OUT/probe.txt" 2>&1
cat "$OUT/probe.txt"
source scripts/gpu/build_gpu.sh
start=$(date +%s)
gpu_build || { echo "build failed"; exit 1; }
echo "build: $(( $(date +%s) - start )) s" | tee -a "$OUT/probe.txt"
ctest --test-dir build-gpu -L gpu --output-on-failure -j 2 > "$OUT/tests.log" 2>&1
status=$?
grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/tests.log" | tee -a "$OUT/probe.txt"
exit $status
