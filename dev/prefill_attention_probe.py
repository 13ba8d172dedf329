#!/usr/bin/env python3
"""Experiment: causal sdpa forward (inference, no grad) by backend, memory layout and GQA
handling, at the model shapes of issue 5's prefill benchmark; with --split, whether calling it
once per group of key/value heads (so the keys in flight fit the 50 MB L2) is faster than one
call for all heads. Prints ms and TFLOP/s per call (causal forward: 2 T^2 H D FLOPs).
Usage: python3 dev/prefill_attention_probe.py [--split] [T ...]"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from probe_timing import timed  # dev/ is on sys.path: these run as scripts

SHAPES = {"llama3-8b": (32, 8, 128), "tinyllama-1.1b": (32, 4, 64)}


def tensor(heads, t, d, layout):
    if layout == "bshd":  # [B, T, heads, D] storage viewed as [B, heads, T, D]
        return torch.randn(1, t, heads, d, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    return torch.randn(1, heads, t, d, device="cuda", dtype=torch.bfloat16)


def by_kv_groups(lengths):
    for name, (H, K, D) in SHAPES.items():
        G = H // K
        for T in lengths:
            flops = 2 * T * T * H * D
            q = tensor(H, T, D, "bshd")
            k, v = tensor(K, T, D, "bhsd"), tensor(K, T, D, "bhsd")
            out = torch.empty_like(q)

            def split(groups_per_call):
                def run():
                    with torch.no_grad():
                        for g in range(0, K, groups_per_call):
                            n = min(groups_per_call, K - g)
                            o = F.scaled_dot_product_attention(
                                q[:, g * G:(g + n) * G], k[:, g:g + n], v[:, g:g + n],
                                is_causal=True, enable_gqa=True)
                            out[:, g * G:(g + n) * G].copy_(o)
                return run

            for per_call in sorted({K, K // 2, 2, 1}, reverse=True):
                s = timed(split(per_call))
                print(f"{name} T={T} {per_call} kv heads per call ({K // per_call} calls): "
                      f"{s * 1e3:8.2f} ms {flops / s / 1e12:6.0f} TFLOP/s", flush=True)
            del q, k, v, out
            torch.cuda.empty_cache()


def main():
    args = sys.argv[1:]
    lengths = [int(x) for x in args if x != "--split"] or [32768, 131072]
    if "--split" in args:
        by_kv_groups(lengths)
        return
    for name, (H, K, D) in SHAPES.items():
        for T in lengths:
            flops = 2 * T * T * H * D
            for q_layout, kv_layout in [("bshd", "bhsd"), ("bhsd", "bhsd"), ("bshd", "bshd")]:
                q = tensor(H, T, D, q_layout)
                k, v = tensor(K, T, D, kv_layout), tensor(K, T, D, kv_layout)
                variants = [("gqa", k, v, {"enable_gqa": True})]
                if q_layout == "bshd" and kv_layout == "bhsd":
                    rep = lambda x: x.repeat_interleave(H // K, dim=1)
                    variants.append(("repeated", rep(k), rep(v), {}))
                for gname, kk, vv, kw in variants:
                    for backend in [None, SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]:
                        label = f"{name} T={T} q {q_layout} kv {kv_layout} {gname} " \
                                f"{backend.name if backend else 'default'}"
                        def call():
                            with torch.no_grad():
                                if backend is None:
                                    F.scaled_dot_product_attention(q, kk, vv, is_causal=True, **kw)
                                else:
                                    with sdpa_kernel(backend):
                                        F.scaled_dot_product_attention(q, kk, vv, is_causal=True, **kw)
                        try:
                            s = timed(call)
                            print(f"{label:70s} {s * 1e3:8.2f} ms {flops / s / 1e12:6.0f} TFLOP/s",
                                  flush=True)
                        except Exception as e:
                            print(f"{label:70s} failed: {str(e)[:80]}", flush=True)
                del q, k, v, variants
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
