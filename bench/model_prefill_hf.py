#!/usr/bin/env python3
"""The peer of bench/model_prefill.cpp: HF transformers (sdpa) prefill and decode on one GPU.

Same shapes, lengths, random bf16 weights and FLOP convention (RECIPE.md section 5, forward
only: 2*N + 2*L*T*d per token, peak 989 TFLOP/s). Prefill is model(ids) with the cache on and
the logits of the last position only (logits_to_keep=1, what generate() asks for), one untimed
run then the median of --repeats timed ones; decode is greedy steps through the returned cache.

Usage: python3 bench/model_prefill_hf.py --shape tinyllama-1.1b --lengths 8192,32768 --json f
"""
import argparse
import json
import time

import torch
import transformers

from hf_shapes import SHAPES  # bench/ is on sys.path: these run as scripts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="tinyllama-1.1b")
    p.add_argument("--lengths", default="8192,32768,131072")
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    s = SHAPES[a.shape]
    config = transformers.LlamaConfig(max_position_embeddings=131072, **s)
    config._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = transformers.LlamaForCausalLM(config).to(torch.bfloat16).eval()
    d, L, V, F = s["hidden_size"], s["num_hidden_layers"], s["vocab_size"], s["intermediate_size"]
    hd = d // s["num_attention_heads"]
    n = L * (d * hd * (2 * s["num_attention_heads"] + 2 * s["num_key_value_heads"]) + 3 * d * F) + d * V
    out = open(a.json, "a") if a.json else None
    print("| shape | tokens | prefill tokens/s | fraction of peak | peak GiB | decode tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for t in [int(x) for x in a.lengths.split(",")]:
        ids = torch.randint(3, V, (1, t), device="cuda")
        with torch.no_grad():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            times = []
            for run in range(max(1, a.repeats) + 1):  # run 0 warms up
                result = None  # the last run's cache is freed before the next allocates
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                result = model(ids, use_cache=True, logits_to_keep=1)
                nxt = result.logits[:, -1:].argmax(-1)
                torch.cuda.synchronize()
                if run > 0:
                    times.append(time.perf_counter() - t0)
            prefill = sorted(times)[len(times) // 2]
            peak = torch.cuda.max_memory_allocated() / 2**30
            cache = result.past_key_values
            del result
            t1 = time.perf_counter()
            for _ in range(a.decode):
                r = model(nxt, past_key_values=cache, use_cache=True)
                cache = r.past_key_values
                nxt = r.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            decode = time.perf_counter() - t1
            del cache
        tps = t / prefill
        frac = tps * (2 * n + 2 * L * t * d) / 989e12
        dtps = a.decode / decode if a.decode else 0
        print(f"| {a.shape} | {t} | {tps:.0f} | {100 * frac:.1f}% | {peak:.1f} | {dtps:.1f} |",
              flush=True)
        if out:
            out.write(json.dumps(dict(impl="transformers", shape=a.shape, tokens=t,
                                      prefill_tokens_per_s=tps, fraction_of_peak=frac,
                                      peak_gib=peak, decode_tokens_per_s=dtps)) + "\n")
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
