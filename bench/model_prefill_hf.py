#!/usr/bin/env python3
"""The peer of bench/model_prefill.cpp: HF transformers prefill (and decode) on one GPU, in the
configurations a transformers user would try, so that ours is compared with the peer at its
best and at its memory (bench/compare_peers.py).

Configurations: each attention implementation that imports here (sdpa always;
flash_attention_2 / flash_attention_3 where flash_attn / flash_attn_interface are installed,
else a "skipped" line says so), each as one forward over the whole prompt and in chunks of
--chunk tokens through the returned cache (what keeps a long prompt's activations small).
Every one: random bf16 weights, model(ids, use_cache=True, logits_to_keep=1) (the logits of
the last position only, what generate() asks for), one untimed prefill then the median of
--repeats timed ones; --decode N greedy steps through the cache after the one-pass prefill.
Out of memory is a result: the line says so.

MFU counts the forward FLOPs as executed (bench/peers.py, the formula of executed_prefill_flops
in src/longctx/model/llama.h): transformers runs every layer at every position and the head
at the last position of each forward; over the dense bf16 peak of the GPU by its name or
--peak-tflops, "unknown" (null) otherwise.

Usage: python3 bench/model_prefill_hf.py --shape tinyllama-1.1b --lengths 8192,32768 --json f
"""
import argparse
import gc
import time

import torch
import transformers

import peers
from hf_shapes import SHAPES  # bench/ is on sys.path: these run as scripts


def prefill(model, ids, chunk):
    """The prefill's last logits and cache: one forward, or forwards of `chunk` tokens."""
    t = ids.shape[1]
    step = chunk if chunk else t
    cache, result = None, None
    for start in range(0, t, step):
        result = model(ids[:, start:start + step], past_key_values=cache, use_cache=True,
                       logits_to_keep=1)
        cache = result.past_key_values
    return result.logits[:, -1:], cache


def executed_flops(s, t, chunk):
    step = chunk if chunk else t
    return sum(peers.executed_prefill_flops(s, start, min(t, start + step), min(t, start + step)
                                            - start, 1) for start in range(0, t, step))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="tinyllama-1.1b")
    p.add_argument("--lengths", default="8192,32768,131072")
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=8192,
                   help="tokens per forward of the chunked configuration (0: leave it out)")
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--json")
    a = p.parse_args()
    s = SHAPES[a.shape]
    facts = peers.run_facts(a.peak_tflops)
    out = open(a.json, "a") if a.json else None
    attentions, notes = peers.attention_implementations()
    chunks = [0] + ([a.chunk] if a.chunk else [])
    lengths = [int(x) for x in a.lengths.split(",")]

    def label(impl, chunk):
        return impl + (f", chunks of {chunk}" if chunk else ", one pass")

    print(f"GPU: {facts['gpu']}; torch {facts['versions']['torch']}, transformers "
          f"{facts['versions']['transformers']}; MFU: forward FLOPs as executed over "
          f"{facts['peak_tflops'] or 'an unknown peak (give --peak-tflops)'} TFLOP/s")
    common = dict(bench="prefill", impl="transformers", shape=a.shape,
                  mfu_convention=peers.PREFILL_CONVENTION)
    for impl, why in notes:
        print(f"{impl}: {why}")
        for chunk in chunks:
            for t in lengths:
                peers.write_line(out, facts, **common, config=label(impl, chunk), attention=impl,
                                 chunk_tokens=chunk or t, tokens=t, status="skipped", error=why,
                                 tokens_per_s=None, peak_gib=None, mfu=None)
    print("| shape | tokens | configuration | prefill tokens/s | MFU (executed fwd) | peak GiB | "
          "decode tokens/s |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for impl in attentions:
        config = transformers.LlamaConfig(max_position_embeddings=max(131072, *lengths), **s)
        config._attn_implementation = impl
        try:
            with torch.device("cuda"):
                model = transformers.LlamaForCausalLM(config).to(torch.bfloat16).eval()
        except (ImportError, ValueError) as e:  # an implementation that imports but refuses
            if impl == "sdpa":
                raise
            why = f"skipped: {type(e).__name__}: {e}"
            print(f"{impl}: {why}")
            for chunk in chunks:
                for t in lengths:
                    peers.write_line(out, facts, **common, config=label(impl, chunk),
                                     attention=impl, chunk_tokens=chunk or t, tokens=t,
                                     status="skipped", error=why, tokens_per_s=None,
                                     peak_gib=None, mfu=None)
            continue
        for chunk in chunks:
            for t in lengths:
                line = dict(common, config=label(impl, chunk), attention=impl,
                            chunk_tokens=chunk or t, tokens=t, tokens_per_s=None, peak_gib=None,
                            mfu=None)
                ids = torch.randint(3, s["vocab_size"], (1, t), device="cuda")
                try:
                    with torch.no_grad():
                        torch.cuda.empty_cache()
                        torch.cuda.reset_peak_memory_stats()
                        times = []
                        for run in range(max(1, a.repeats) + 1):  # run 0 warms up
                            logits = cache = None  # the last run's cache is freed first
                            torch.cuda.synchronize()
                            t0 = time.perf_counter()
                            logits, cache = prefill(model, ids, chunk)
                            nxt = logits.argmax(-1)
                            torch.cuda.synchronize()
                            if run > 0:
                                times.append(time.perf_counter() - t0)
                        seconds = sorted(times)[len(times) // 2]
                        peak = torch.cuda.max_memory_allocated() / 2**30
                        dtps = None
                        if a.decode and not chunk:
                            t1 = time.perf_counter()
                            for _ in range(a.decode):
                                r = model(nxt, past_key_values=cache, use_cache=True)
                                cache, nxt = r.past_key_values, r.logits[:, -1:].argmax(-1)
                            torch.cuda.synchronize()
                            dtps = a.decode / (time.perf_counter() - t1)
                        del logits, cache
                except torch.OutOfMemoryError as e:
                    logits = cache = None
                    gc.collect()
                    torch.cuda.empty_cache()
                    print(f"| {a.shape} | {t} | {label(impl, chunk)} | out of memory | | | |",
                          flush=True)
                    peers.write_line(out, facts, **line, status="out_of_memory",
                                     error=str(e).split("\n")[0][:200])
                    continue
                tps = t / seconds
                m = peers.mfu(executed_flops(s, t, chunk) / seconds, facts["peak_tflops"])
                decode_text = f"{dtps:.1f}" if dtps is not None else ""
                print(f"| {a.shape} | {t} | {label(impl, chunk)} | {tps:.0f} | {peers.percent(m)} "
                      f"| {peak:.1f} | {decode_text} |", flush=True)
                line.update(tokens_per_s=tps, peak_gib=peak, mfu=m, decode_tokens_per_s=dtps)
                peers.write_line(out, facts, **line, status="ok")
                torch.cuda.empty_cache()
        del model
        gc.collect()
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
