# shellcheck shell=bash
# Sourced by the scripts/gpu/*.sh scripts, which run under `set -euo pipefail`: the helpers
# that run a step with its output shown and logged, and return the step's own exit status,
# so that the script stops at the first step that fails (a `| tee` never hides a failure).
#
#   source scripts/gpu/steps.sh
#   step "$OUT/summary.txt" build-gpu/bench/longctx_bench_train --lengths 8192   # stops on failure
#   run_ctest "$OUT/summary.txt" "$OUT/tests.log" --test-dir build-gpu -j 4       # ctest's status

# Lines of PyTorch's and transformers' warnings are left out of the log; grep's "no line
# selected" is not a failure.
drop_warnings() {
  grep -v Warning || true
}

# step LOG CMD...: runs CMD, its stdout and stderr shown and appended to LOG (warnings dropped);
# returns CMD's exit status.
step() {
  local log=$1
  shift
  echo "== $*" >> "$log"
  "$@" 2>&1 | drop_warnings | tee -a "$log"
}

# run_ctest SUMMARY TESTLOG ARGS...: ctest with ARGS, its whole output in TESTLOG and its
# closing lines in SUMMARY; returns ctest's exit status.
run_ctest() {
  local summary=$1 log=$2 status=0
  shift 2
  ctest --output-on-failure "$@" > "$log" 2>&1 || status=$?
  grep -E "tests passed|tests failed|Failed|Skipped" "$log" | tee -a "$summary" || true
  if [ "$status" -ne 0 ]; then
    echo "ctest failed (exit $status): $log" | tee -a "$summary" >&2
  fi
  return "$status"
}
