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
set -uo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
SHAPES=${SHAPES:-"tinyllama-1.1b llama3-8b"}
LENGTHS=${LENGTHS:-8192,32768,131072}
source scripts/gpu/build_gpu.sh

echo "== build" | tee "$OUT/summary.txt"
gpu_build | tee -a "$OUT/summary.txt"
status=${PIPESTATUS[0]}
[ $status -eq 0 ] || exit $status

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== tests" | tee -a "$OUT/summary.txt"
  export LONGCTX_EXPORT_DIR=/tmp/longctx-saved
  rm -rf "$LONGCTX_EXPORT_DIR" && mkdir -p "$LONGCTX_EXPORT_DIR"
  ctest --test-dir build-gpu --output-on-failure > "$OUT/tests.log" 2>&1
  grep -E "tests passed|tests failed|Failed|Skipped" "$OUT/tests.log" | tee -a "$OUT/summary.txt"

  echo "== models saved by longctx, loaded by transformers" | tee -a "$OUT/summary.txt"
  python3 scripts/gpu/check_saved_models.py "$LONGCTX_EXPORT_DIR" 2>&1 | grep -v Warning \
    | tee -a "$OUT/summary.txt"

  echo "== rope vs transformers" | tee -a "$OUT/summary.txt"
  python3 scripts/gpu/rope_reference.py --goldens tests/model/rope_goldens.json \
    --out "$OUT/rope_transformers.json" --device cpu > "$OUT/rope.log" 2>&1
  echo "rope exit $?" | tee -a "$OUT/summary.txt"
  tail -3 "$OUT/rope.log" | tee -a "$OUT/summary.txt"
fi

[ "${SKIP_BENCH:-0}" = 1 ] && exit 0
echo "== prefill/decode (forward FLOPs 2N + 2LTd per token; peak 989 TFLOP/s)" | tee -a "$OUT/summary.txt"
for shape in $SHAPES; do
  build-gpu/bench/longctx_bench_prefill --shape "$shape" --lengths "$LENGTHS" \
    --json "$OUT/prefill.jsonl" 2>&1 | tee -a "$OUT/summary.txt"
  if [ "${COMPARE_ONE_CALL:-0}" = 1 ]; then
    LONGCTX_PREFILL_ATTENTION_BLOCK=0 build-gpu/bench/longctx_bench_prefill --shape "$shape" \
      --lengths "$LENGTHS" --decode 0 --json "$OUT/prefill.jsonl" 2>&1 | tee -a "$OUT/summary.txt"
  fi
  if [ "${COMPARE_ALL_POSITIONS:-0}" = 1 ]; then
    build-gpu/bench/longctx_bench_prefill --shape "$shape" --lengths "$LENGTHS" --decode 0 \
      --all-positions 1 --json "$OUT/prefill.jsonl" 2>&1 | tee -a "$OUT/summary.txt"
  fi
  python3 bench/model_prefill_hf.py --shape "$shape" --lengths "$LENGTHS" \
    --json "$OUT/prefill.jsonl" 2>&1 | grep -v Warning | tee -a "$OUT/summary.txt"
done
