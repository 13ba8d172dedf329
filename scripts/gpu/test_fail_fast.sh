#!/usr/bin/env bash
# The GPU scripts stop at the first failing step, with its exit status, whatever pipes its
# output (ctest: GpuScriptsFailFast; runs on the CPU in about a second). scripts/gpu/figures.sh
# runs here against stand-ins: bench binaries, the transformers peers and nvidia-smi that print
# a line, write plausible JSON lines and exit with what FAIL says. Then:
#   - nothing fails: exit 0, every step ran, the tables were written;
#   - our training step fails (after printing, its output piped through tee): the script exits
#     1 and no later step runs; likewise the peer's first step;
#   - the helpers alone: `step` returns a failing command's status through its pipe, and
#     `run_ctest` returns ctest's.
#
#   bash scripts/gpu/test_fail_fast.sh      (prints "N passed, N failed"; exit 1 on a failure)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/longctx-fail-fast.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {  # check NAME CONDITION...: one result line
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name" >&2
  fi
}

# Stand-ins. Each records its call in $CALLS and writes one JSON line per length of --lengths
# to --json; FAIL=<bench>_<side> makes that one exit 1 after printing.
mkdir -p "$work/build/bench" "$work/bin"
cat > "$work/stub_bench" <<'EOF'
#!/usr/bin/env bash
side=$1
shift
script=""
case "$side" in
  peer) script=$(basename "${1:-}"); shift ;;
esac
echo "$side $script $*" >> "$CALLS"
if [ "$script" = "-c" ]; then echo "torch stub"; exit 0; fi
lengths="" json="" budget=""
while [ $# -gt 0 ]; do
  case $1 in
    --lengths) lengths=$2; shift ;;
    --json) json=$2; shift ;;
    --budget-gib) budget=$2; shift ;;
  esac
  shift
done
bench=train
case "$script$0" in *prefill*) bench=prefill ;; esac
impl=longctx peak=${budget:-20}
if [ "$side" = peer ]; then impl=transformers peak=10.5; fi
for t in ${lengths//,/ }; do
  printf '{"bench":"%s","impl":"%s","config":"stand-in","shape":"s","tokens":%s,"status":"ok","tokens_per_s":1000,"peak_gib":%s,"mfu":null,"gpu":"stand-in GPU","date":"today"}\n' \
    "$bench" "$impl" "$t" "$peak" >> "$json"
done
echo "$side $bench ran"
[ "${FAIL:-}" != "${bench}_$side" ] || exit 1
EOF
chmod +x "$work/stub_bench"
for b in longctx_bench_train longctx_bench_prefill; do
  printf '#!/usr/bin/env bash\nexec -a "%s" "%s" ours "$@"\n' "$b" "$work/stub_bench" > "$work/build/bench/$b"
  chmod +x "$work/build/bench/$b"
done
printf '#!/usr/bin/env bash\nexec "%s" peer "$@"\n' "$work/stub_bench" > "$work/peer_python"
printf '#!/usr/bin/env bash\necho "name, memory.total"; echo "stand-in GPU, 1 MiB"\n' > "$work/bin/nvidia-smi"
chmod +x "$work/peer_python" "$work/bin/nvidia-smi"

figures() {  # figures CASE [FAIL]: runs figures.sh, returns its status
  local name=$1
  rm -rf "${work:?}/$name"
  mkdir -p "$work/$name"
  CALLS=$work/$name/calls FAIL=${2:-} OUT=$work/$name/out BUILD=$work/build \
    PEER_PY=$work/peer_python PATH="$work/bin:$PATH" TRAIN_LENGTHS=8192,32768 \
    PREFILL_LENGTHS=8192 bash "$repo/scripts/gpu/figures.sh" > "$work/$name/stdout" 2>&1
}
calls() { grep -c -e "$2" "$work/$1/calls" 2>/dev/null || true; }

figures ok
status=$?
check "nothing fails: exit 0" test "$status" -eq 0
check "nothing fails: the tables" grep -q "ours/peer" "$work/ok/out/tables.md"
check "nothing fails: ours at the peer's memory, once per length" \
  test "$(calls ok '--budget-gib 10.50')" -eq 2
check "nothing fails: both prefill runs of ours" test "$(calls ok 'ours.*--repeats')" -eq 2
check "nothing fails: at most 8 files" test "$(find "$work/ok/out" -type f | wc -l)" -le 8

figures ours_train train_ours
status=$?
check "our training fails: exit 1" test "$status" -eq 1
check "our training fails: its output was shown" grep -q "ours train ran" "$work/ours_train/stdout"
check "our training fails: no later step" test "$(calls ours_train '--budget-gib')" -eq 0
check "our training fails: no prefill" test "$(calls ours_train prefill)" -eq 0
check "our training fails: no tables" test ! -e "$work/ours_train/out/tables.md"

figures peer_train train_peer
status=$?
check "the peer fails: exit 1" test "$status" -eq 1
check "the peer fails: ours never ran" test "$(calls peer_train '^ours')" -eq 0

figures peer_prefill prefill_peer
status=$?
check "the prefill peer fails: exit 1" test "$status" -eq 1
check "the prefill peer fails: our prefill never ran" test "$(calls peer_prefill 'ours.*--repeats')" -eq 0

# The helpers alone, in a script under set -e as the GPU scripts run them.
helper() {
  bash -c "set -euo pipefail; source '$here/steps.sh'; $1; echo after" > "$work/helper.out" 2>&1
}
helper "step '$work/helper.log' bash -c 'echo some output; exit 3'"
status=$?
check "step returns the command's status through tee" test "$status" -eq 3
check "step stops the script" bash -c "! grep -q after '$work/helper.out'"
check "step logs the output" grep -q "some output" "$work/helper.log"
printf '#!/usr/bin/env bash\necho "50%% tests passed, 1 tests failed out of 2"; exit 8\n' > "$work/bin/ctest"
chmod +x "$work/bin/ctest"
PATH="$work/bin:$PATH" helper "run_ctest '$work/helper.log' '$work/tests.log' --test-dir x"
status=$?
check "run_ctest returns ctest's status" test "$status" -eq 8
check "run_ctest logs ctest's closing line" grep -q "1 tests failed" "$work/helper.log"
helper "step '$work/helper.log' bash -c 'echo Warning: only warnings'"
status=$?
check "a step whose output is all warnings succeeds" test "$status" -eq 0

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
