#!/usr/bin/env python3
"""Experiment: causal sdpa forward+backward time at TinyLlama's attention shape (32 heads,
4 KV heads, head dim 64), by layout and GQA handling, and which backend each picks.
Usage: python3 dev/attention_probe.py [T]"""
import sys

import torch
import torch.nn.functional as F

from probe_timing import timed  # dev/ is on sys.path: these run as scripts

T = int(sys.argv[1]) if len(sys.argv) > 1 else 32768
H, K, D = 32, 4, 64


def run(name, make):
    q, k, v, kw = make()
    def step():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
        out.backward(torch.ones_like(out))
    try:
        s = timed(step, reps=5)
    except Exception as e:  # a backend refusing the layout
        print(f"{name:40s} failed: {str(e)[:100]}")
        return
    flops = 4 * T * T * H * D / 2 * 3.5  # fwd 2 matmuls (causal half) + bwd 2.5x
    print(f"{name:40s} {s * 1e3:8.2f} ms  {flops / s / 1e12:6.0f} TFLOP/s (fwd+bwd, causal)")


def bhtd():
    q = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    return q, k, v, {}


def bthd():
    q = torch.randn(1, T, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_()
    k = torch.randn(1, T, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_()
    v = torch.randn(1, T, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_()
    return q, k, v, {}


def gqa():
    q = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(1, K, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(1, K, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    return q, k, v, {"enable_gqa": True}


from torch.nn.attention import SDPBackend, sdpa_kernel
for backend in [None, SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION,
                SDPBackend.EFFICIENT_ATTENTION]:
    label = "default" if backend is None else backend.name
    for name, make in [("[B,H,T,D] contiguous", bhtd), ("[B,T,H,D] transposed", bthd),
                       ("GQA enable_gqa", gqa)]:
        if backend is None:
            run(f"{label} {name}", make)
        else:
            with sdpa_kernel(backend):
                run(f"{label} {name}", make)
