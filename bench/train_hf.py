#!/usr/bin/env python3
"""The peer of bench/train_step.cpp: HF transformers + PyTorch training steps on one GPU, in
every configuration a transformers user would try, so that ours is compared with the peer at
its best and at its memory (bench/compare_peers.py).

Configurations: each attention implementation that imports here (sdpa always;
flash_attention_2 / flash_attention_3 where flash_attn / flash_attn_interface are installed,
else a "skipped" line says so), each with gradient checkpointing off and on. Every one:
LlamaForCausalLM with float32 weights under bf16 autocast (what the HF Trainer's bf16=True
does), fused torch.optim.AdamW, clipping at 1.0 like ours, the loss from
model(input_ids, labels=input_ids). One row of T tokens per step; the first step warms up and
the median of the others is reported. Out of memory is a result: the line says so and longer
rows of that configuration are skipped.

MFU: RECIPE.md section 5, 6*N + 6*L*T*d FLOPs per token, over the dense bf16 peak of the GPU by
its name (bench/device_peaks.py) or --peak-tflops; "unknown" (null) when neither is known.
Peak GiB: torch.cuda.max_memory_allocated over the row's steps.

Usage: python3 bench/train_hf.py --shape tinyllama-1.1b --lengths 8192,32768,65536 --json f
       python3 bench/train_hf.py --configs sdpa,sdpa+checkpointing ...   (a subset)
       python3 bench/train_hf.py --max      (64K, 128K, 256K until one fails, checkpointing)
"""
import argparse
import gc
import statistics
import time

import torch
import transformers

import peers
from hf_shapes import SHAPES  # bench/ is on sys.path: these run as scripts


def measure(model, opt, s, t, steps):
    ids = torch.randint(3, s["vocab_size"], (1, t), device="cuda")
    times = []
    torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
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


def build(s, attention, checkpointing):
    config = transformers.LlamaConfig(max_position_embeddings=1 << 21, **s)
    config._attn_implementation = attention
    with torch.device("cuda"):
        model = transformers.LlamaForCausalLM(config)  # float32 weights
    if checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = False
    model.train()
    return model, torch.optim.AdamW(model.parameters(), lr=2e-5, fused=True)


def label(attention, checkpointing):
    return attention + (", gradient checkpointing" if checkpointing else "")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="tinyllama-1.1b")
    p.add_argument("--lengths", default="8192,32768,65536")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--max", action="store_true")
    p.add_argument("--configs", default="",
                   help="comma-separated subset, e.g. sdpa,sdpa+checkpointing (default: all)")
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--json")
    a = p.parse_args()
    s = SHAPES[a.shape]
    facts = peers.run_facts(a.peak_tflops)
    out = open(a.json, "a") if a.json else None
    lengths = [65536 * 2**k for k in range(3)] if a.max else [int(x) for x in a.lengths.split(",")]
    attentions, notes = peers.attention_implementations()
    configs = [(impl, ckpt) for impl in attentions for ckpt in (False, True)]
    if a.max:
        configs = [("sdpa", True)]
    if a.configs:
        wanted = a.configs.split(",")
        configs = [(i, c) for i, c in configs if i + ("+checkpointing" if c else "") in wanted]
    print(f"GPU: {facts['gpu']}; torch {facts['versions']['torch']}, transformers "
          f"{facts['versions']['transformers']}; MFU: 6N + 6LTd per token over "
          f"{facts['peak_tflops'] or 'an unknown peak (give --peak-tflops)'} TFLOP/s")
    common = dict(bench="train", impl="transformers", shape=a.shape, steps=a.steps,
                  mfu_convention=peers.TRAIN_CONVENTION)
    for impl, why in notes:
        print(f"{impl}: {why}")
        for ckpt in (False, True):
            for t in lengths:
                peers.write_line(out, facts, **common, config=label(impl, ckpt), attention=impl,
                                 gradient_checkpointing=ckpt, tokens=t, status="skipped",
                                 error=why, tokens_per_s=None, peak_gib=None, mfu=None)
    print("| shape | tokens | configuration | tokens/s | MFU (6N+6LTd) | peak GiB |")
    print("|---|---:|---|---:|---:|---:|")
    for impl, ckpt in configs:
        try:
            model, opt = build(s, impl, ckpt)
        except (ImportError, ValueError) as e:  # an implementation that imports but refuses
            if impl == "sdpa":
                raise
            model, opt, why = None, None, f"skipped: {type(e).__name__}: {e}"
            print(f"| {a.shape} | | {label(impl, ckpt)} | {why} | | |", flush=True)
        failed_at = None
        for t in lengths:
            line = dict(common, config=label(impl, ckpt), attention=impl,
                        gradient_checkpointing=ckpt, tokens=t, tokens_per_s=None, peak_gib=None,
                        mfu=None)
            if model is None:
                peers.write_line(out, facts, **line, status="skipped", error=why)
                continue
            if failed_at is not None:
                peers.write_line(out, facts, **line, status="skipped",
                                 error=f"out of memory at {failed_at} tokens already")
                continue
            try:
                tps, peak = measure(model, opt, s, t, 1 if a.max else a.steps)
            except torch.OutOfMemoryError as e:
                failed_at = t
                print(f"| {a.shape} | {t} | {label(impl, ckpt)} | out of memory | | |", flush=True)
                opt.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                peers.write_line(out, facts, **line, status="out_of_memory",
                                 error=str(e).split("\n")[0][:200])
                continue
            m = peers.mfu(tps * peers.train_flops_per_token(s, t), facts["peak_tflops"])
            print(f"| {a.shape} | {t} | {label(impl, ckpt)} | {tps:.0f} | {peers.percent(m)} | "
                  f"{peak:.1f} |", flush=True)
            line.update(tokens_per_s=tps, peak_gib=peak, mfu=m)
            peers.write_line(out, facts, **line, status="ok")
        del model, opt
        gc.collect()
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
