#!/usr/bin/env python3
"""Experiment: which attention implementations this PyTorch can reach besides sdpa's three
(FlashAttention-3/4 packages, sdpa's registered flash implementations, FlexAttention through
Triton), and how fast each runs causal attention at TinyLlama's head shape (32 heads, 4 KV
heads, head dim 64), forward alone and forward + backward, beside cuDNN.
Usage: python3 dev/attention_backends_probe.py [T ...]"""
import importlib
import sys

import torch
import torch.nn.functional as F

from probe_timing import timed  # dev/ is on sys.path: these run as scripts

H, K, D = 32, 4, 64
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
print("device", torch.cuda.get_device_name())
for mod in ["triton", "flash_attn", "flash_attn_interface", "flash_attn_3", "flash_attn.cute",
            "transformer_engine", "xformers"]:
    try:
        m = importlib.import_module(mod)
        print(f"module {mod}: {getattr(m, '__version__', 'present')}")
    except Exception as e:
        print(f"module {mod}: absent ({type(e).__name__})")
import torch.nn.attention as tna
print("torch.nn.attention:", [n for n in dir(tna) if not n.startswith("_")])
for fn in ["list_flash_attention_impls", "current_flash_attention_impl"]:
    if hasattr(tna, fn):
        try:
            print(fn, getattr(tna, fn)())
        except Exception as e:
            print(fn, "failed:", e)


def run(name, fwd, T, backward):
    q = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=backward)
    k = torch.randn(1, K, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=backward)
    v = torch.randn(1, K, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=backward)
    def step():
        out = fwd(q, k, v)
        if backward:
            out.backward(torch.ones_like(out))
    try:
        s = timed(step, reps=5)
    except Exception as e:
        print(f"T={T:6d} {name:28s} {'fwd+bwd' if backward else 'fwd':7s} failed: {str(e)[:300]}")
        return
    flops = 4 * T * T * H * D / 2 * (3.5 if backward else 1.0)
    print(f"T={T:6d} {name:28s} {'fwd+bwd' if backward else 'fwd':7s} {s * 1e3:8.2f} ms "
          f"{flops / s / 1e12:6.0f} TFLOP/s", flush=True)


from torch.nn.attention import SDPBackend, sdpa_kernel


def cudnn(q, k, v):
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


def flash2(q, k, v):
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


impls = []
try:
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    flex = torch.compile(flex_attention, dynamic=False)
    impls.append("flex")
except Exception as e:
    print("flex_attention unavailable:", e)

for T in [int(a) for a in sys.argv[1:]] or [32768, 131072]:
    for backward in [False, True]:
        run("cudnn", cudnn, T, backward)
        run("flash2", flash2, T, backward)
        if "flex" in impls:
            try:
                mask = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, T, T)
                run("flex (triton)", lambda q, k, v: flex(q, k, v, block_mask=mask, enable_gqa=True),
                    T, backward)
            except Exception as e:
                print("flex failed:", str(e)[:300])
        if hasattr(tna, "activate_flash_attention_impl") and hasattr(tna, "list_flash_attention_impls"):
            for impl in tna.list_flash_attention_impls():
                try:
                    tna.activate_flash_attention_impl(impl)
                    run(f"flash impl {impl}", flash2, T, backward)
                except Exception as e:
                    print(f"impl {impl} failed: {str(e)[:200]}")
            if hasattr(tna, "restore_flash_attention_impl"):
                tna.restore_flash_attention_impl()
