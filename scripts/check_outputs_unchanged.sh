#!/usr/bin/env bash
# Runs the same commands with two longctx binaries and compares every file they write, byte for
# byte: the check that a refactoring changed no output (issue 21). Timings are the one thing
# that may differ, so the wall-clock keys of metrics.jsonl and of the needle results are dropped
# before comparing; nothing else is.
#
#   scripts/check_outputs_unchanged.sh BEFORE/longctx AFTER/longctx [WORKDIR]
#
# Build the "before" binary from the commit before the change, e.g.
#   git worktree add /tmp/before 56aff48 && cmake -S /tmp/before -B /tmp/before/build \
#     && cmake --build /tmp/before/build --target longctx
# Needs the Llama-2 tokenizer of scripts/fetch_tokenizers.sh (TOKENIZER=DIR to point elsewhere)
# and python3 (the corpus generator and the stand-in OpenAI-compatible endpoint).
# Exit status: 0 when every file is identical, 1 when any differs (each is named), 2 on a
# failed command.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n 2,14p "$0" >&2
  exit 2
fi
before=$(realpath "$1")
after=$(realpath "$2")
work=${3:-$(mktemp -d /tmp/longctx-outputs.XXXXXX)}
mkdir -p "$work"
tokenizer=${TOKENIZER:-${XDG_CACHE_HOME:-$HOME/.cache}/longctx/tokenizers/llama2}
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$tokenizer/tokenizer.json" ] || { echo "no tokenizer at $tokenizer" >&2; exit 2; }

# A small SlimPajama-layout corpus, the same every time: seven domains, short and long
# documents (Book and ArXiv past 4K tokens), two zstd files and a plain one.
python3 "$here/make_check_corpus.py" "$work/corpus"
# The haystack for the needle test: one essay file.
mkdir -p "$work/haystack"
python3 - "$work/haystack/essay.txt" <<'PY'
import random, sys
rng = random.Random(7)
words = "the of and a to in is was he that it his for as with on by at from".split()
sentences = []
for i in range(300):
    n = rng.randint(6, 18)
    sentences.append(" ".join(rng.choice(words) for _ in range(n)).capitalize() + ".")
open(sys.argv[1], "w").write(" ".join(sentences) + "\n")
PY

# The stand-in endpoint: answers with the needle when the prompt holds it in its last 2,500
# characters before "</book>", else a refusal; deterministic.
port_file="$work/endpoint.port"
python3 - "$port_file" <<'PY' &
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body.get("prompt", "")
        end, needle = prompt.find("</book>"), prompt.find("Dolores Park")
        near = end >= 0 and needle >= 0 and end - needle <= 2500
        text = " eat a sandwich and sit in Dolores Park on a sunny day." if near else " I do not know."
        reply = json.dumps({"id": "x", "object": "text_completion", "model": "stand-in",
                            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 9}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(cat "$port_file")"

# Every command, run in $dir with binary $bin. Outputs go under $dir/out.
run_all() {
  local bin=$1 dir=$2
  rm -rf "$dir" && mkdir -p "$dir/out" && cd "$dir/out"
  local c=$work/corpus t=$tokenizer
  "$bin" stats "$c" --json stats-estimate.json --svg stats-estimate.svg -q > stats-estimate.txt
  "$bin" stats "$c" --length tokens --tokenizer "$t" --json stats-tokens.json -q \
    > stats-tokens.txt
  "$bin" tokenize --tokenizer "$t" --input "$c/chunk1/plain.jsonl" --json > tokenize.jsonl
  "$bin" tokenize --tokenizer "$t" --input "$c/chunk1/plain.jsonl" --count > tokenize-count.txt
  for s in original per-source global cut fu2024-code; do
    "$bin" mix "$c" --tokenizer "$t" --strategy "$s" --budget 150K --seq-len 2048 \
      --out "mix-$s" --threads 2 -q > "mix-$s.txt"
  done
  "$bin" mix "$c" --tokenizer "$t" --strategy upsample --domain-weights RedPajamaBook=0.5 \
    --budget 150K --seq-len 2048 --out mix-upsample --threads 2 -q > mix-upsample.txt
  "$bin" mix "$c" --tokenizer "$t" --strategy per-source --length estimate --budget 100K \
    --seq-len 1024 --doc-boundaries --format jsonl --eos --out mix-extras --threads 1 -q \
    > mix-extras.txt
  "$bin" inspect mix-per-source --row 1 --tokenizer "$t" > inspect.txt
  "$bin" init --preset debug --tokenizer "$t" --out model --seed 3 > init.txt
  "$bin" train --model model --data mix-per-source --out run --steps 6 --batch-tokens 4K \
    --lr 1e-3 --device cpu --save-every 3 --eval-every 2 -q > train.txt 2>&1
  "$bin" train --model model --data mix-extras --out run-masked --steps 3 --batch-tokens 2K \
    --lr 1e-3 --device cpu --document-mask --recompute full --schedule cosine --warmup-steps 1 \
    --weight-decay 0.1 -q > train-masked.txt 2>&1
  "$bin" score --model run/model --text-file "$work/haystack/essay.txt" --json --device cpu \
    > score.json
  "$bin" needle --endpoint "$endpoint" --tokenizer "$t" --haystack "$work/haystack" \
    --lengths 500,1500,3000 --depths 0,50,100 --train-len 2000 --title stand-in --out needle \
    --retries 0 -q > needle.txt
  "$bin" needle --model run/model --device cpu --haystack "$work/haystack" --lengths 300,600 \
    --depths 0,100 --out needle-native -q > needle-native.txt
  # Wall-clock figures and the absolute paths of this run are not outputs of the computation.
  python3 - <<'PY'
import json, pathlib, re
# metrics_bytes: the size of metrics.jsonl, whose timing fields vary in length.
timing = {"step_time_s", "tokens_per_s", "mfu", "elapsed_s", "seconds", "latency_s",
          "wall_s", "prefill_s", "decode_s", "time_s", "metrics_bytes"}
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in timing}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
for p in pathlib.Path(".").rglob("*.jsonl"):
    lines = [json.dumps(strip(json.loads(l)), sort_keys=True) for l in p.read_text().splitlines() if l.strip()]
    if p.name == "results.jsonl":  # an endpoint's cells finish in any order
        lines.sort()
    p.write_text("\n".join(lines) + "\n")
for p in pathlib.Path(".").rglob("trainer_state.json"):
    p.write_text(json.dumps(strip(json.loads(p.read_text())), indent=1, sort_keys=True))
for p in list(pathlib.Path(".").glob("*.txt")) + list(pathlib.Path(".").rglob("settings.json")):
    t = p.read_text()
    t = re.sub(r"[0-9][0-9.,]* ?(tok/s|tokens/s|s elapsed|cells/s|MB/s|MiB/s)", r"# \1", t)
    t = re.sub(r"; [0-9.]+ s;", "; # s;", t)
    t = re.sub(r"ETA [0-9:]+", "ETA #", t)
    t = re.sub(r"in [0-9.]+ ?(s|ms|min)\b", r"in # \1", t)
    p.write_text(t)
PY
  cd - > /dev/null
}

echo "before: $before" >&2
run_all "$before" "$work/before" || { echo "a command failed with the before binary" >&2; exit 2; }
echo "after:  $after" >&2
run_all "$after" "$work/after" || { echo "a command failed with the after binary" >&2; exit 2; }

status=0
count=0
while IFS= read -r -d '' f; do
  rel=${f#"$work/before/out/"}
  count=$((count + 1))
  if [ ! -f "$work/after/out/$rel" ]; then
    echo "missing after the change: $rel"; status=1
  elif ! cmp -s "$f" "$work/after/out/$rel"; then
    echo "differs: $rel"; status=1
  fi
done < <(find "$work/before/out" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel=${f#"$work/after/out/"}
  [ -f "$work/before/out/$rel" ] || { echo "new after the change: $rel"; status=1; }
done < <(find "$work/after/out" -type f -print0 | sort -z)
if [ $status -eq 0 ]; then
  echo "identical: $count files (stats, tokenize, mix x7, inspect, init, train x2, score, needle x2) in $work"
fi
exit $status
