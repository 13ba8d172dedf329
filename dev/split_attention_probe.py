#!/usr/bin/env python3
"""Experiment: is causal attention at long T faster as blocks of C queries, each one causal
C x C call on the diagonal plus one full (unmasked) call over the keys before it, the partial
results merged by their log-sum-exp? cuDNN runs 32K causal forward near 660 TFLOP/s at head
dim 128 but 128K near 555, and the full calls skip the diagonal's masking work.
Prefill: forward only. Train: forward + backward, where each block's backward is cuDNN's own
backward given the merged output and log-sum-exp (the flash backward only needs those).
Prints ms, TFLOP/s (causal: fwd 2 T^2 H D, bwd 2.5x that) and the error against one call.
Usage: python3 dev/split_attention_probe.py [prefill|train|all]"""
import sys

import torch
import torch.nn.functional as F

from probe_timing import timed  # dev/ is on sys.path: these run as scripts

cudnn = torch.ops.aten._scaled_dot_product_cudnn_attention
cudnn_bwd = torch.ops.aten._scaled_dot_product_cudnn_attention_backward


def qkv(H, K, T, D, grad=False):
    def make(heads):  # [B, T, heads, D] storage viewed as [B, heads, T, D], as the model has
        x = torch.randn(1, T, heads, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
        return x.requires_grad_(grad) if grad else x
    return make(H), make(K), make(K)


def call(q, k, v, causal):
    """(out [B, H, Tq, D], lse [B, H, Tq, 1] float32) of one cuDNN call."""
    r = cudnn(q, k, v, None, True, 0.0, causal, False)
    return r[0], r[1].reshape(q.size(0), q.size(1), q.size(2), 1)


def backward(dout, q, k, v, out, lse, causal):
    """(dq, dk, dv) of one cuDNN call given the output and log-sum-exp of the whole row.
    None, not empty tensors, for the unused ones: a defined cum_seq_q means packed sequences."""
    return cudnn_bwd(dout, q, k, v, out, lse, None, None, None, None, None, q.size(2), k.size(2),
                     0.0, causal)


def split_forward(q, k, v, C, merge=True):
    T = q.size(2)
    outs, lses = [], []
    for i in range(T // C):
        s = slice(i * C, (i + 1) * C)
        o, l = call(q[:, :, s], k[:, :, s], v[:, :, s], True)
        if i > 0:
            o2, l2 = call(q[:, :, s], k[:, :, :i * C], v[:, :, :i * C], False)
            if merge:
                lse = torch.logaddexp(l, l2)
                o = (o.float() * torch.exp(l - lse) + o2.float() * torch.exp(l2 - lse)).to(o.dtype)
                l = lse
        outs.append(o)
        lses.append(l)
    return torch.cat(outs, 2), torch.cat(lses, 2)


def split_backward(dout, q, k, v, out, lse, C):
    T = q.size(2)
    dq = torch.empty_like(q)
    dk = torch.zeros(k.shape, device=k.device, dtype=torch.float32)
    dv = torch.zeros(v.shape, device=v.device, dtype=torch.float32)
    def bwd(s, keys, causal):
        qs, ks, vs = q[:, :, s], k[:, :, keys], v[:, :, keys]
        return backward(dout[:, :, s], qs, ks, vs, out[:, :, s], lse[:, :, s].contiguous(), causal)
    for i in range(T // C):
        s = slice(i * C, (i + 1) * C)
        gq, gk, gv = bwd(s, s, True)
        dk[:, :, s] += gk
        dv[:, :, s] += gv
        if i > 0:
            gq2, gk2, gv2 = bwd(s, slice(0, i * C), False)
            gq = (gq.float() + gq2.float()).to(q.dtype)
            dk[:, :, :i * C] += gk2
            dv[:, :, :i * C] += gv2
        dq[:, :, s] = gq
    return dq, dk.to(k.dtype), dv.to(v.dtype)


def rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def prefill(name, H, K, D, T, chunks):
    flops = 2 * T * T * H * D
    q, k, v = qkv(H, K, T, D)
    with torch.no_grad():
        ref, ref_lse = call(q, k, v, True)
        s = timed(lambda: call(q, k, v, True))
        print(f"prefill {name} T={T} one call:            {s * 1e3:8.2f} ms "
              f"{flops / s / 1e12:5.0f} TFLOP/s", flush=True)
        C = chunks[0]
        s_diag = timed(lambda: call(q[:, :, -C:], k[:, :, -C:], v[:, :, -C:], True))
        s_off = timed(lambda: call(q[:, :, -C:], k[:, :, :T - C], v[:, :, :T - C], False))
        print(f"prefill {name} T={T} last {C} queries: causal diagonal {s_diag * 1e3:.2f} ms "
              f"({2 * C * C * H * D / s_diag / 1e12:.0f} TFLOP/s), full over the {T - C} keys "
              f"before {s_off * 1e3:.2f} ms "
              f"({4 * C * (T - C) * H * D / s_off / 1e12:.0f} TFLOP/s)", flush=True)
        for C in chunks:
            o, l = split_forward(q, k, v, C)
            err = rel(o, ref)
            s_calls = timed(lambda: split_forward(q, k, v, C, merge=False))
            s = timed(lambda: split_forward(q, k, v, C))
            print(f"prefill {name} T={T} C={C:6d} calls only: {s_calls * 1e3:8.2f} ms "
                  f"{flops / s_calls / 1e12:5.0f} TFLOP/s; merged {s * 1e3:8.2f} ms "
                  f"{flops / s / 1e12:5.0f}; rel err {err:.1e} lse err "
                  f"{(l - ref_lse).abs().max().item():.1e}", flush=True)
    del q, k, v
    torch.cuda.empty_cache()


def train(name, H, K, D, T, chunks):
    flops = 2 * T * T * H * D * 3.5
    q, k, v = qkv(H, K, T, D, grad=True)
    dout = torch.randn_like(q.detach())
    def one():
        q.grad = k.grad = v.grad = None
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        o.backward(dout)
    one()
    refs = [x.grad.clone() for x in (q, k, v)]
    s = timed(one)
    print(f"train {name} T={T} one call (sdpa):      {s * 1e3:8.2f} ms "
          f"{flops / s / 1e12:5.0f} TFLOP/s", flush=True)
    qd, kd, vd = q.detach(), k.detach(), v.detach()
    def direct(C):  # C = T: one call; else blocks of C queries
        o, l = split_forward(qd, kd, vd, C) if C < T else call(qd, kd, vd, True)
        return split_backward(dout, qd, kd, vd, o, l, C) if C < T else \
            backward(dout, qd, kd, vd, o, l, True)
    for C in [T] + chunks:
        label = "one call (direct)" if C == T else f"C={C:6d}"
        try:
            g = direct(C)
            s = timed(lambda: direct(C))
            print(f"train {name} T={T} {label:20s} {s * 1e3:8.2f} ms "
                  f"{flops / s / 1e12:5.0f} TFLOP/s; rel err dq {rel(g[0], refs[0]):.1e} "
                  f"dk {rel(g[1], refs[1]):.1e} dv {rel(g[2], refs[2]):.1e}", flush=True)
        except Exception as e:
            print(f"train {name} {label} failed: {str(e)[:300]}", flush=True)
    del q, k, v, dout, refs
    torch.cuda.empty_cache()


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    print(torch.__version__, torch.backends.cudnn.version(), torch.cuda.get_device_name())
    if what in ("train", "all"):
        train("tinyllama", 32, 4, 64, 32768, [16384, 8192, 4096])
        train("tinyllama", 32, 4, 64, 65536, [32768, 16384, 8192])
    if what in ("prefill", "all"):
        prefill("llama3-8b", 32, 8, 128, 131072, [65536, 32768, 16384])
        prefill("tinyllama", 32, 4, 64, 131072, [65536, 32768, 16384])
        prefill("tinyllama", 32, 4, 64, 32768, [16384, 8192])
        prefill("llama3-8b", 32, 8, 128, 32768, [16384, 8192])


if __name__ == "__main__":
    main()
