#!/usr/bin/env python3
"""The peer of `longctx_bench_eval mmlu`: MMLU continuation scoring with HF transformers, as
lm-evaluation-harness's HFLM does it, on the same requests (token ids, JSON lines from
`longctx eval mmlu --dump-requests` or bench/make_mmlu_requests.py).

Per question, a row (context + continuation)[:-1]; when every continuation is one token (" A"..
" D" in LLaMA's vocabularies) the four share one row, the context, as the harness's one-token
grouping does. Rows go longest first in batches of --batch, right-padded, through one forward
each (sdpa, no cache reuse across questions); each continuation's log-likelihood is the sum of
the float32 log-softmax at its positions. Random bf16 weights of --shape (hf_shapes.py) or
--model DIR; one untimed batch first. Prints questions/s; --out writes the log-likelihoods
and --compare checks them against `longctx_bench_eval mmlu --out` (same model only).

Usage: python3 bench/mmlu_hf.py --requests reqs.jsonl --shape tinyllama-1.1b --batch 16
"""
import argparse
import json
import time

import torch
import transformers

from hf_shapes import SHAPES  # bench/ is on sys.path: these run as scripts


def rows_of(requests):
    """(question, ids, [(position, token, continuation)]) per forward row."""
    rows = []
    for q, r in enumerate(requests):
        ctx, conts = r["context"], r["continuations"]
        if all(len(c) == 1 for c in conts):
            rows.append((q, ctx, [(len(ctx) - 1, c[0], i) for i, c in enumerate(conts)]))
        else:
            for i, c in enumerate(conts):
                rows.append((q, (ctx + c)[:-1], [(len(ctx) - 1 + k, t, i) for k, t in enumerate(c)]))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", required=True)
    p.add_argument("--shape", default="tinyllama-1.1b")
    p.add_argument("--model")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out")
    p.add_argument("--compare")
    a = p.parse_args()
    requests, groups = [], []
    with open(a.requests) as f:
        for line in f:
            if a.limit and len(requests) >= a.limit:
                break
            j = json.loads(line)
            requests.append(j)
            groups.append(j.get("group", 0))
    if a.model:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            a.model, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
    else:
        longest = max(len(r["context"]) for r in requests) + 8
        config = transformers.LlamaConfig(max_position_embeddings=max(longest, 4096),
                                          **SHAPES[a.shape])
        config._attn_implementation = "sdpa"
        with torch.device("cuda"):
            model = transformers.LlamaForCausalLM(config).to(torch.bfloat16).eval()

    rows = sorted(rows_of(requests), key=lambda r: -len(r[1]))
    lls = [[0.0] * len(r["continuations"]) for r in requests]

    def run(batch_rows):
        width = max(len(r[1]) for r in batch_rows)
        ids = torch.zeros((len(batch_rows), width), dtype=torch.long)
        for b, (_, row, _) in enumerate(batch_rows):
            ids[b, :len(row)] = torch.tensor(row)
        with torch.no_grad():
            logits = model(ids.cuda()).logits
            for b, (q, _, targets) in enumerate(batch_rows):
                pos = torch.tensor([t[0] for t in targets], device="cuda")
                lp = torch.log_softmax(logits[b, pos].float(), dim=-1)
                for m, (_, token, c) in enumerate(targets):
                    lls[q][c] += float(lp[m, token])

    run(rows[:a.batch])  # warm-up (its sums are cleared below)
    lls = [[0.0] * len(r["continuations"]) for r in requests]
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(0, len(rows), a.batch):
        run(rows[i:i + a.batch])
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    print("| peer | batch | questions | seconds | questions/s |")
    print("|---|---:|---:|---:|---:|")
    print(f"| transformers {transformers.__version__} | {a.batch} | {len(requests)} | "
          f"{seconds:.1f} | {len(requests) / seconds:.1f} |")
    if a.out:
        with open(a.out, "w") as f:
            for q, ll in enumerate(lls):
                f.write(json.dumps({"group": groups[q], "loglikelihoods": ll}) + "\n")
    if a.compare:
        ours = [json.loads(line)["loglikelihoods"] for line in open(a.compare)]
        diff = max(abs(x - y) for o, h in zip(ours, lls) for x, y in zip(o, h))
        agree = sum(max(range(4), key=o.__getitem__) == max(range(4), key=h.__getitem__)
                    for o, h in zip(ours, lls))
        print(f"vs {a.compare}: largest difference {diff:.3g} nats; same prediction on "
              f"{agree} of {len(lls)} questions")


if __name__ == "__main__":
    main()
