#!/usr/bin/env bash
# Issue 22's figures in one call on one GPU (an H200; about 5-7 minutes of GPU time): ours beside
# HF transformers at the peer's best and at the peer's memory, every figure with its MFU
# convention, the GPU and the date.
#
#   training, TinyLlama 1.1B shape, rows of 8K, 32K, 64K (one row a step, STEPS steps, the first
#   a warm-up): transformers in each configuration (sdpa with and without gradient
#   checkpointing; FlashAttention 2/3 where installed), then ours with --recompute auto (the
#   fastest that fits the card), then ours again at each peer configuration's peak memory
#   (--budget-gib: the recompute that fits it; with the optimizer offloaded when no recompute
#   mode fits);
#   prefill, the same shape, prompts of 8K, 32K, 128K: transformers (one pass and in chunks),
#   ours (one pass, and in chunks of PREFILL_CHUNK);
#   then bench/compare_peers.py's tables of both.
#
#   run (the tree already built, e.g. by scripts/gpu/build_gpu.sh into build-gpu/):
#     OUT=/tmp/figures bash scripts/gpu/figures.sh
#   or build the two benchmarks first, in the same call (a few minutes more; adds build.log):
#     BUILD_FIRST=1 bash scripts/gpu/figures.sh
#
# Writes under $OUT (5 files): gpu.txt (nvidia-smi, torch/transformers/CUDA versions, the
# commit), train.jsonl and prefill.jsonl (the JSON lines of both sides, bench/README.md),
# tables.md (the comparison tables) and summary.txt (everything printed).
# Env: BUILD (build-gpu), PEER_PY (python3: the Python with torch and transformers), SHAPE
# (tinyllama-1.1b), TRAIN_LENGTHS (8192,32768,65536), PREFILL_LENGTHS (8192,32768,131072),
# STEPS (3), REPEATS (3: timed prefills, median), PREFILL_CHUNK (8192; 0: no chunked runs),
# PEAK_TFLOPS (unset: the GPU's by its name), BUILD_FIRST=1 (gpu_build of build_gpu.sh into
# build-gpu/ before measuring).
# Stops at the first step that fails, with its exit status (scripts/gpu/steps.sh); a
# configuration that runs out of memory or does not fit is a result, recorded as such.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/longctx-figures}
BUILD=${BUILD:-build-gpu}
PEER_PY=${PEER_PY:-python3}
SHAPE=${SHAPE:-tinyllama-1.1b}
TRAIN_LENGTHS=${TRAIN_LENGTHS:-8192,32768,65536}
PREFILL_LENGTHS=${PREFILL_LENGTHS:-8192,32768,131072}
STEPS=${STEPS:-3}
REPEATS=${REPEATS:-3}
PREFILL_CHUNK=${PREFILL_CHUNK:-8192}
peak=()
if [ -n "${PEAK_TFLOPS:-}" ]; then peak=(--peak-tflops "$PEAK_TFLOPS"); fi
source scripts/gpu/steps.sh
mkdir -p "$OUT"
log=$OUT/summary.txt
train=$OUT/train.jsonl
prefill=$OUT/prefill.jsonl
: > "$log"
: > "$train"
: > "$prefill"
if [ "${BUILD_FIRST:-0}" = 1 ]; then
  source scripts/gpu/build_gpu.sh
  BUILD=build-gpu
  step "$log" gpu_build longctx_bench_train longctx_bench_prefill
fi
for binary in longctx_bench_train longctx_bench_prefill; do
  if [ ! -x "$BUILD/bench/$binary" ]; then
    echo "figures: no $BUILD/bench/$binary; build first (scripts/gpu/build_gpu.sh)" | tee -a "$log" >&2
    exit 2
  fi
done

echo "== the machine" | tee -a "$log"
step "$OUT/gpu.txt" nvidia-smi \
  --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
step "$OUT/gpu.txt" "$PEER_PY" -c 'import torch, transformers; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, transformers {transformers.__version__}, {torch.cuda.get_device_name()}")'
echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)" | tee -a "$OUT/gpu.txt"
cat "$OUT/gpu.txt" >> "$log"

echo "== training: transformers in every configuration" | tee -a "$log"
step "$log" "$PEER_PY" bench/train_hf.py --shape "$SHAPE" --lengths "$TRAIN_LENGTHS" \
  --steps "$STEPS" --json "$train" "${peak[@]}"
echo "== training: ours, --recompute auto" | tee -a "$log"
step "$log" "$BUILD/bench/longctx_bench_train" --shape "$SHAPE" --lengths "$TRAIN_LENGTHS" \
  --steps "$STEPS" --json "$train" "${peak[@]}"

# The peaks of the peer's configurations that completed, one "tokens GiB" line each (GiB
# rounded down to 0.01, so ours at that budget stays at or below the peer's peak).
peer_peaks() {
  python3 - "$train" <<'PY'
import json, math, sys
seen = set()
for text in open(sys.argv[1]):
    x = json.loads(text)
    if x["impl"] != "longctx" and x["status"] == "ok" and x.get("peak_gib"):
        key = (x["tokens"], math.floor(x["peak_gib"] * 100) / 100)
        if key not in seen:
            seen.add(key)
            print(f"{key[0]} {key[1]:.2f}")
PY
}
last_status() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["status"])' "$train"
}
echo "== training: ours at each peer configuration's peak memory" | tee -a "$log"
budgets=$(peer_peaks)
while read -r tokens gib; do
  [ -n "$tokens" ] || continue
  step "$log" "$BUILD/bench/longctx_bench_train" --shape "$SHAPE" --lengths "$tokens" \
    --steps "$STEPS" --budget-gib "$gib" --json "$train" "${peak[@]}"
  if [ "$(last_status)" = does_not_fit ]; then
    step "$log" "$BUILD/bench/longctx_bench_train" --shape "$SHAPE" --lengths "$tokens" \
      --steps "$STEPS" --budget-gib "$gib" --offload --json "$train" "${peak[@]}"
  fi
done <<< "$budgets"

echo "== prefill: transformers in every configuration" | tee -a "$log"
step "$log" "$PEER_PY" bench/model_prefill_hf.py --shape "$SHAPE" --lengths "$PREFILL_LENGTHS" \
  --repeats "$REPEATS" --decode 0 --chunk "$PREFILL_CHUNK" --json "$prefill" "${peak[@]}"
echo "== prefill: ours" | tee -a "$log"
step "$log" "$BUILD/bench/longctx_bench_prefill" --shape "$SHAPE" --lengths "$PREFILL_LENGTHS" \
  --repeats "$REPEATS" --decode 0 --json "$prefill" "${peak[@]}"
if [ "$PREFILL_CHUNK" != 0 ]; then
  step "$log" "$BUILD/bench/longctx_bench_prefill" --shape "$SHAPE" --lengths "$PREFILL_LENGTHS" \
    --repeats "$REPEATS" --decode 0 --chunk "$PREFILL_CHUNK" --json "$prefill" "${peak[@]}"
fi

echo "== the tables" | tee -a "$log"
step "$log" python3 bench/compare_peers.py "$train" "$prefill" --out "$OUT/tables.md"
echo "figures: done; tables in $OUT/tables.md" | tee -a "$log"
