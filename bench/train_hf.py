#!/usr/bin/env python3
"""The peer of bench/train_step.cpp: HF transformers + PyTorch training steps on one GPU.

The setup issue 6 names: LlamaForCausalLM with sdpa attention, gradient checkpointing, fused
AdamW, bf16 autocast over float32 weights (what the HF Trainer's bf16=True does), the loss from
model(input_ids, labels=input_ids). One row of T tokens per step; the first step warms up and
the median of the others is reported. MFU: RECIPE.md section 5, 6*N + 6*L*T*d FLOPs per token,
989 TFLOP/s dense bf16.

Usage: python3 bench/train_hf.py --shape tinyllama-1.1b --lengths 8192,32768,65536 --json f
       python3 bench/train_hf.py --max      (64K, 128K, 256K until one fails)
"""
import argparse
import json
import statistics
import time

import torch
import transformers

from hf_shapes import SHAPES  # bench/ is on sys.path: these run as scripts


def measure(model, opt, s, t, steps):
    ids = torch.randint(3, s["vocab_size"], (1, t), device="cuda")
    times = []
    torch.cuda.reset_peak_memory_stats()
    for i in range(steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if steps > 1:
        times = times[1:]
    return t / statistics.median(times), torch.cuda.max_memory_allocated() / 2**30


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="tinyllama-1.1b")
    p.add_argument("--lengths", default="8192,32768,65536")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--max", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    s = SHAPES[a.shape]
    config = transformers.LlamaConfig(max_position_embeddings=1 << 21, **s)
    config._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = transformers.LlamaForCausalLM(config)  # float32 weights
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, fused=True)
    d, L, V, F = s["hidden_size"], s["num_hidden_layers"], s["vocab_size"], s["intermediate_size"]
    hd = d // s["num_attention_heads"]
    n = L * (d * hd * (2 * s["num_attention_heads"] + 2 * s["num_key_value_heads"]) + 3 * d * F) + d * V
    out = open(a.json, "a") if a.json else None
    lengths = [65536 * 2**k for k in range(3)] if a.max else [int(x) for x in a.lengths.split(",")]
    print("| shape | tokens | impl | tokens/s | MFU | peak GiB |")
    print("|---|---:|---|---:|---:|---:|")
    for t in lengths:
        try:
            tps, peak = measure(model, opt, s, t, 1 if a.max else a.steps)
        except torch.OutOfMemoryError as e:
            print(f"| {a.shape} | {t} | transformers | out of memory | | |", flush=True)
            opt.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            if a.max:
                break
            continue
        mfu = tps * (6 * n + 6 * L * t * d) / 989e12
        print(f"| {a.shape} | {t} | transformers | {tps:.0f} | {100 * mfu:.1f}% | {peak:.1f} |",
              flush=True)
        if out:
            out.write(json.dumps(dict(impl="transformers", shape=a.shape, tokens=t,
                                      tokens_per_s=tps, mfu=mfu, peak_gib=peak)) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
