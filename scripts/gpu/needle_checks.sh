#!/usr/bin/env bash
# One call on the GPU machine (issue 7's benchmark): the needle grid's prompts, tokenized
# beforehand on a CPU machine (the GPU machine builds no tokenizers), run on a random-weight
# model of SHAPE with prefix reuse and decoding through CUDA graphs, after the generation GPU
# tests (chunked prefill after cached keys, graph decoding against eager decoding).
#
#   here:  longctx needle --tokenizer Llama-2-7b-hf --dump-prompts bench-data/needle-prompts.jsonl
#          xz -9 bench-data/needle-prompts.jsonl   (the paper's 400 cells to 128K: 123 MB of
#          JSON, 0.14 MB compressed; carry bench-data/ to the GPU machine)
#   there: bash scripts/gpu/needle_checks.sh      (writes logs under $OUT)
# Env: PROMPTS (default bench-data/needle-prompts.jsonl.xz; .jsonl taken as is),
#      SHAPE (default tinyllama-1.1b), LIMIT_S (default 480: the grid's time limit),
#      NEEDLE_FLAGS (more flags for longctx_bench_needle, e.g. --no-reuse).
# Stops at the first step that fails, with that step's exit status (scripts/gpu/steps.sh).
set -euo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
PROMPTS=${PROMPTS:-bench-data/needle-prompts.jsonl.xz}
SHAPE=${SHAPE:-tinyllama-1.1b}
source scripts/gpu/build_gpu.sh
source scripts/gpu/steps.sh
log=$OUT/summary.txt
: > "$log"
step "$log" gpu_build longctx_bench_needle longctx_gpu_tests
step "$OUT/tests.log" build-gpu/tests/longctx_gpu_tests --gtest_filter='GenerationGpu.*'
if [[ "$PROMPTS" == *.xz ]]; then
  plain=/tmp/needle-prompts.jsonl
  xz -dc "$PROMPTS" > "$plain" 2>/dev/null ||
    python3 -c 'import lzma,shutil,sys;shutil.copyfileobj(lzma.open(sys.argv[1]),open(sys.argv[2],"wb"))' \
      "$PROMPTS" "$plain"
  PROMPTS=$plain
fi
# shellcheck disable=SC2086  # NEEDLE_FLAGS is a list of flags
step "$OUT/needle.txt" timeout "${LIMIT_S:-480}" build-gpu/bench/longctx_bench_needle \
  --prompts "$PROMPTS" --shape "$SHAPE" ${NEEDLE_FLAGS:-}
