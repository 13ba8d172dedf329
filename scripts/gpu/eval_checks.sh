#!/usr/bin/env bash
# The GPU machine's part of issue 24, one step per call (each fits a 10-minute slot):
#
#   bash scripts/gpu/eval_checks.sh goldens     # transformers' goldens -> $OUT/goldens.json
#   bash scripts/gpu/eval_checks.sh loss        # eval loss vs score's loop, tokens/s
#   bash scripts/gpu/eval_checks.sh mmlu        # MMLU questions/s, ours
#   bash scripts/gpu/eval_checks.sh mmlu-hf     # MMLU questions/s, transformers, same requests
#
# Env: SHAPE (default tinyllama-1.1b; also llama2-7b), SEQ_LEN (loss rows, default 32768),
#      ROWS (default 8), REQUESTS (default bench-data/mmlu-requests.jsonl: made here by
#      bench/make_mmlu_requests.py when absent, or carried from a CPU machine where
#      `longctx eval mmlu --tokenizer Llama-2-7b-hf --data mmlu/data --dump-requests FILE`
#      wrote the real test set), LIMIT (questions, default all 14,042), BATCH (ours, default
#      8,16), HF_BATCH (default 16). Logs go under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
STEP=${1:-goldens}
SHAPE=${SHAPE:-tinyllama-1.1b}
REQUESTS=${REQUESTS:-bench-data/mmlu-requests.jsonl}
LIMIT=${LIMIT:-0}
need_requests() {
  [ -f "$REQUESTS" ] || { mkdir -p "$(dirname "$REQUESTS")" && python3 bench/make_mmlu_requests.py "$REQUESTS"; }
}
case "$STEP" in
  goldens)
    python3 scripts/gpu/make_eval_goldens.py tests/model/fixtures "$OUT/goldens.json" 2>&1 |
      tee "$OUT/goldens.log"
    ;;
  loss)
    source scripts/gpu/build_gpu.sh
    gpu_build longctx_bench_eval > /dev/null || { tail -20 "$OUT/build.log"; exit 1; }
    build-gpu/bench/longctx_bench_eval loss --shape "$SHAPE" --seq-len "${SEQ_LEN:-32768}" \
      --rows "${ROWS:-8}" --batch "${LOSS_BATCH:-1,2,4,8}" 2>&1 | tee "$OUT/eval-loss-$SHAPE.txt"
    ;;
  mmlu)
    need_requests
    source scripts/gpu/build_gpu.sh
    gpu_build longctx_bench_eval > /dev/null || { tail -20 "$OUT/build.log"; exit 1; }
    build-gpu/bench/longctx_bench_eval mmlu --requests "$REQUESTS" --shape "$SHAPE" \
      --batch "${BATCH:-8,16}" --limit "$LIMIT" 2>&1 | tee "$OUT/eval-mmlu-$SHAPE.txt"
    ;;
  mmlu-hf)
    need_requests
    python3 bench/mmlu_hf.py --requests "$REQUESTS" --shape "$SHAPE" --batch "${HF_BATCH:-16}" \
      --limit "$LIMIT" 2>&1 | tee "$OUT/eval-mmlu-hf-$SHAPE.txt"
    ;;
  *)
    echo "usage: $0 goldens|loss|mmlu|mmlu-hf" >&2
    exit 2
    ;;
esac
