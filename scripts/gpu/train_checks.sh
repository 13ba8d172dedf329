#!/usr/bin/env bash
# One call on the GPU machine (issue 6): build base/ + model/ + train/ against PyTorch's
# libtorch, run the tests (the CPU ones and the CUDA trainer test, label gpu), then benchmark
# training steps beside HF transformers in the same run, and find the longest context each
# trains at.
#
#   run: bash scripts/gpu/train_checks.sh      (writes logs and JSON lines under $OUT)
# Env: SHAPE (default tinyllama-1.1b), LENGTHS (default 8192,32768,65536), STEPS (default 4),
#      RECOMPUTE (default auto), SKIP_TESTS=1, SKIP_PEER=1, SKIP_MAX=1, COMPARE_PLAIN=1 (ours
#      again with LONGCTX_FUSED_KERNELS=0: the plain libtorch RoPE/SwiGLU, for the kernels' gain).
set -uo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
SHAPE=${SHAPE:-tinyllama-1.1b}
LENGTHS=${LENGTHS:-8192,32768,65536}
STEPS=${STEPS:-4}
RECOMPUTE=${RECOMPUTE:-auto}
source scripts/gpu/build_gpu.sh

echo "== build" | tee "$OUT/summary.txt"
gpu_build | tee -a "$OUT/summary.txt"
status=${PIPESTATUS[0]}
[ $status -eq 0 ] || exit $status

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== tests" | tee -a "$OUT/summary.txt"
  ctest --test-dir build-gpu --output-on-failure -j 4 > "$OUT/tests.log" 2>&1
  grep -E "tests passed|tests failed|Failed|Skipped" "$OUT/tests.log" | tee -a "$OUT/summary.txt"
fi

echo "== training steps, one row per step (MFU: 6N + 6LTd per token, 989 TFLOP/s)" \
  | tee -a "$OUT/summary.txt"
build-gpu/bench/longctx_bench_train --shape "$SHAPE" --lengths "$LENGTHS" --steps "$STEPS" \
  --recompute "$RECOMPUTE" --json "$OUT/train.jsonl" 2>&1 | tee -a "$OUT/summary.txt"
if [ "${COMPARE_PLAIN:-0}" = 1 ]; then
  LONGCTX_FUSED_KERNELS=0 build-gpu/bench/longctx_bench_train --shape "$SHAPE" \
    --lengths "$LENGTHS" --steps "$STEPS" --recompute "$RECOMPUTE" --json "$OUT/train.jsonl" 2>&1 \
    | tee -a "$OUT/summary.txt"
fi
if [ "${SKIP_PEER:-0}" != 1 ]; then
  python3 bench/train_hf.py --shape "$SHAPE" --lengths "$LENGTHS" --steps "$STEPS" \
    --json "$OUT/train.jsonl" 2>&1 | grep -v Warning | tee -a "$OUT/summary.txt"
fi
if [ "${SKIP_MAX:-0}" != 1 ]; then
  echo "== longest context that trains (one step each)" | tee -a "$OUT/summary.txt"
  build-gpu/bench/longctx_bench_train --shape "$SHAPE" --max --recompute full --budget-gib 1000 \
    --json "$OUT/train_max.jsonl" 2>&1 | tee -a "$OUT/summary.txt"
  [ "${SKIP_PEER:-0}" != 1 ] && python3 bench/train_hf.py --shape "$SHAPE" --max \
    --json "$OUT/train_max.jsonl" 2>&1 | grep -v Warning | tee -a "$OUT/summary.txt"
fi
exit 0
