#!/usr/bin/env bash
# One call on the GPU machine (issue 7's benchmark): the needle grid's prompts, tokenized
# beforehand on a CPU machine (the GPU machine builds no tokenizers), run on a random-weight
# model of SHAPE with and without prefix reuse.
#
#   here:  longctx needle --tokenizer Llama-2-7b-hf --dump-prompts bench-data/needle-prompts.jsonl
#          (the paper's 400 cells to 128K; carry bench-data/ to the GPU machine)
#   there: bash scripts/gpu/needle_checks.sh      (writes logs under $OUT)
# Env: PROMPTS (default bench-data/needle-prompts.jsonl), SHAPE (default tinyllama-1.1b).
set -uo pipefail
OUT=${OUT:-/tmp/longctx-gpu}
mkdir -p "$OUT"
PROMPTS=${PROMPTS:-bench-data/needle-prompts.jsonl}
SHAPE=${SHAPE:-tinyllama-1.1b}
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLONGCTX_MODEL_ONLY=ON \
  -DLONGCTX_WERROR=OFF -DCMAKE_PREFIX_PATH="$torch_prefix" > "$OUT/build.log" 2>&1 &&
  cmake --build build-gpu -j 16 --target longctx_bench_needle >> "$OUT/build.log" 2>&1 ||
  { tail -20 "$OUT/build.log"; exit 1; }
build-gpu/bench/longctx_bench_needle --prompts "$PROMPTS" --shape "$SHAPE" 2>&1 | tee "$OUT/needle.txt"
