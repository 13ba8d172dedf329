#!/usr/bin/env bash
# One call on the GPU machine (issue 5): build base/ + model/ against PyTorch's libtorch, run
# the model tests (CPU fixtures and the bf16 CUDA check, label gpu), compare the RoPE goldens
# with transformers, and benchmark prefill/decode beside transformers in the same run.
#
#   run: bash scripts/gpu/model_checks.sh      (writes logs and JSON lines under $OUT)
# Env: SHAPES (default "tinyllama-1.1b llama3-8b"), LENGTHS (default 8192,32768,131072),
#      SKIP_BENCH=1 to stop after the tests, SKIP_TESTS=1 to go straight to the benchmark,
#      COMPARE_ONE_CALL=1 to time ours again with the prefill attention as one call
#      (LONGCTX_PREFILL_ATTENTION_BLOCK=0, no decoding) in the same run,
#      COMPARE_ALL_POSITIONS=1 to time ours again with the last layer computed at every position
#      (--all-positions 1, as transformers does; no decoding).
# Stops at the first step that fails, with that step's exit status (scripts/gpu/steps.sh).
set -euo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
SHAPES=${SHAPES:-"tinyllama-1.1b llama3-8b"}
LENGTHS=${LENGTHS:-8192,32768,131072}
source scripts/gpu/build_gpu.sh
source scripts/gpu/steps.sh
log=$OUT/summary.txt
: > "$log"

step "$log" gpu_build

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  export LONGCTX_EXPORT_DIR=/tmp/longctx-saved
  rm -rf "$LONGCTX_EXPORT_DIR" && mkdir -p "$LONGCTX_EXPORT_DIR"
  run_ctest "$log" "$OUT/tests.log" --test-dir build-gpu
  echo "== models saved by longctx, loaded by transformers" | tee -a "$log"
  step "$log" python3 scripts/gpu/check_saved_models.py "$LONGCTX_EXPORT_DIR"
  echo "== rope vs transformers" | tee -a "$log"
  step "$OUT/rope.log" python3 scripts/gpu/rope_reference.py --goldens tests/model/rope_goldens.json \
    --out "$OUT/rope_transformers.json" --device cpu > /dev/null
  tail -3 "$OUT/rope.log" | tee -a "$log"
fi

[ "${SKIP_BENCH:-0}" = 1 ] && exit 0
echo "== prefill/decode (MFU: forward FLOPs as executed)" | tee -a "$log"
for shape in $SHAPES; do
  step "$log" build-gpu/bench/longctx_bench_prefill --shape "$shape" --lengths "$LENGTHS" \
    --json "$OUT/prefill.jsonl"
  if [ "${COMPARE_ONE_CALL:-0}" = 1 ]; then
    step "$log" env LONGCTX_PREFILL_ATTENTION_BLOCK=0 build-gpu/bench/longctx_bench_prefill \
      --shape "$shape" --lengths "$LENGTHS" --decode 0 --json "$OUT/prefill.jsonl"
  fi
  if [ "${COMPARE_ALL_POSITIONS:-0}" = 1 ]; then
    step "$log" build-gpu/bench/longctx_bench_prefill --shape "$shape" --lengths "$LENGTHS" \
      --decode 0 --all-positions 1 --json "$OUT/prefill.jsonl"
  fi
  step "$log" python3 bench/model_prefill_hf.py --shape "$shape" --lengths "$LENGTHS" \
    --json "$OUT/prefill.jsonl"
done
step "$log" python3 bench/compare_peers.py "$OUT/prefill.jsonl" --out "$OUT/prefill_tables.md"
