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
# Stops at the first step that fails, with that step's exit status (scripts/gpu/steps.sh).
set -euo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
SHAPE=${SHAPE:-tinyllama-1.1b}
LENGTHS=${LENGTHS:-8192,32768,65536}
STEPS=${STEPS:-4}
RECOMPUTE=${RECOMPUTE:-auto}
source scripts/gpu/build_gpu.sh
source scripts/gpu/steps.sh
log=$OUT/summary.txt
: > "$log"

step "$log" gpu_build

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  run_ctest "$log" "$OUT/tests.log" --test-dir build-gpu -j 4
fi

echo "== training steps, one row per step (MFU: 6N + 6LTd per token, RECIPE.md section 5)" \
  | tee -a "$log"
step "$log" build-gpu/bench/longctx_bench_train --shape "$SHAPE" --lengths "$LENGTHS" \
  --steps "$STEPS" --recompute "$RECOMPUTE" --json "$OUT/train.jsonl"
if [ "${COMPARE_PLAIN:-0}" = 1 ]; then
  step "$log" env LONGCTX_FUSED_KERNELS=0 build-gpu/bench/longctx_bench_train --shape "$SHAPE" \
    --lengths "$LENGTHS" --steps "$STEPS" --recompute "$RECOMPUTE" --json "$OUT/train.jsonl"
fi
if [ "${SKIP_PEER:-0}" != 1 ]; then
  step "$log" python3 bench/train_hf.py --shape "$SHAPE" --lengths "$LENGTHS" --steps "$STEPS" \
    --json "$OUT/train.jsonl"
  step "$log" python3 bench/compare_peers.py "$OUT/train.jsonl" --out "$OUT/train_tables.md"
fi
if [ "${SKIP_MAX:-0}" != 1 ]; then
  echo "== longest context that trains (one step each)" | tee -a "$log"
  step "$log" build-gpu/bench/longctx_bench_train --shape "$SHAPE" --max --recompute full \
    --budget-gib 1000 --json "$OUT/train_max.jsonl"
  if [ "${SKIP_PEER:-0}" != 1 ]; then
    step "$log" python3 bench/train_hf.py --shape "$SHAPE" --max --json "$OUT/train_max.jsonl"
  fi
fi
