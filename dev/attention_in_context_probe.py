#!/usr/bin/env python3
"""Experiment: is TinyLlama's causal attention slower inside a prefill than alone? The 32K
prefill trace shows cuDNN's forward at ~436 TFLOP/s where dev/prefill_attention_probe.py timed
457-488 in other calls. This times, in one process, the same sdpa call (q [B, T, H, D] storage,
k/v [B, K, T, D], enable_gqa, as the model passes them) back to back, and between the matmuls of
a layer (the model's order: q/k/v, attention, o_proj, gate/up, down), with CUDA events around
the attention alone. Usage: python3 dev/attention_in_context_probe.py [T]"""
import sys

import torch
import torch.nn.functional as F

H, K, D, d, FF = 32, 4, 64, 2048, 5632


def main():
    T = int(sys.argv[1]) if len(sys.argv) > 1 else 32768
    flops = 2 * T * T * H * D
    bf = dict(device="cuda", dtype=torch.bfloat16)
    q = torch.randn(1, T, H, D, **bf).transpose(1, 2)
    k, v = torch.randn(1, K, T, D, **bf), torch.randn(1, K, T, D, **bf)
    x = torch.randn(T, d, **bf)
    w_qkv, w_o = torch.randn((H + 2 * K) * D, d, **bf) * 0.02, torch.randn(d, d, **bf) * 0.02
    w_gu, w_down = torch.randn(2 * FF, d, **bf) * 0.02, torch.randn(d, FF, **bf) * 0.02

    def attention():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    def measure(in_layer, reps=22):
        times = []
        with torch.no_grad():
            for _ in range(reps):
                if in_layer:
                    F.linear(x, w_qkv)
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                attention()
                b.record()
                if in_layer:
                    F.linear(x, w_o)
                    h = F.linear(x, w_gu)
                    F.linear(h[:, :FF], w_down)
                times.append((a, b))
            torch.cuda.synchronize()
        ms = sorted(a.elapsed_time(b) for a, b in times)
        return ms[len(ms) // 2]

    measure(False, 3)
    measure(True, 3)
    for rnd in range(3):
        for in_layer in (False, True):
            ms = measure(in_layer)
            print(f"T={T} round {rnd} {'between a layer''s matmuls' if in_layer else 'back to back':28s}"
                  f" {ms:7.2f} ms {flops / ms / 1e9:6.0f} TFLOP/s", flush=True)


if __name__ == "__main__":
    main()
