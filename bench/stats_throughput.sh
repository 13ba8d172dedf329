#!/usr/bin/env bash
# Benchmark: `longctx stats --length estimate` throughput beside the raw decompression rate of
# the same files (`zstd -dc > /dev/null`, one process), measured in the same run, on a
# generated SlimPajama-style corpus of at least 1 GiB of .jsonl.zst (cached in bench-data/).
# Target (issue 2): stats with 2 threads at >= 70% of the raw zstd rate.
#
#   bench/stats_throughput.sh [SIZE_BYTES] [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SIZE=${1:-1073741824}
FILES=${2:-32}
DATA=bench-data/stats-corpus-$SIZE-$FILES
REPEATS=${REPEATS:-3}

if [ ! -d "$DATA" ]; then
  echo "generating $DATA ..." >&2
  "$BUILD/bench/longctx_make_synthetic_corpus" "$DATA.tmp" "$SIZE" "$FILES"
  mv "$DATA.tmp" "$DATA"
fi
files=$(find "$DATA" -name '*.jsonl.zst' | sort)
compressed=$(cat $files | wc -c)
raw=$(zstd -dc $files | wc -c)
cat $files > /dev/null  # warm the page cache so every run reads from memory

best() {  # best wall time of REPEATS runs of "$@", in seconds
  local best_s=""
  for _ in $(seq "$REPEATS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
    best_s=$(echo "$t0 $t1 ${best_s:-1e9}" | awk '{d=$2-$1; print (d<$3)?d:$3}')
  done
  echo "$best_s"
}

zstd_s=$(best sh -c "zstd -dc $(echo $files) > /dev/null")
stats1_s=$(best "$BUILD/longctx" stats "$DATA" -q --threads 1)
stats2_s=$(best "$BUILD/longctx" stats "$DATA" -q --threads 2)

awk -v c="$compressed" -v r="$raw" -v z="$zstd_s" -v s1="$stats1_s" -v s2="$stats2_s" \
    -v cores="$(nproc)" 'BEGIN {
  printf "corpus: %d files, %.2f GiB .jsonl.zst, %.2f GiB JSON lines; %d cores\n\n", '"$FILES"', c/2^30, r/2^30, cores
  printf "%-34s %8s %12s %12s %9s\n", "run", "seconds", "MB/s (zst)", "MB/s (json)", "vs zstd"
  printf "%-34s %8.2f %12.0f %12.0f %9s\n", "zstd -dc > /dev/null (1 thread)", z, c/z/1e6, r/z/1e6, "1.00x"
  printf "%-34s %8.2f %12.0f %12.0f %8.2fx\n", "longctx stats --threads 1", s1, c/s1/1e6, r/s1/1e6, z/s1
  printf "%-34s %8.2f %12.0f %12.0f %8.2fx\n", "longctx stats --threads 2", s2, c/s2/1e6, r/s2/1e6, z/s2
  printf "\ntarget: stats with 2 threads >= 0.70x the raw zstd rate: %s\n", (z/s2 >= 0.70) ? "met" : "NOT met"
}'
