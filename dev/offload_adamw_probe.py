#!/usr/bin/env python3
"""Experiment: where the optimizer time of an offloaded step goes (MasterAdamW with
--offload-optimizer: float32 masters, gradient sums and moments in pinned CPU memory, bf16
compute copies on the GPU). At a fraction of Llama-2-7B's tensors (LAYERS of its 32 layers),
times per step:
  - the AdamW update on the CPU, as MasterAdamW's plain ops do it, and as torch's fused CPU
    kernel (torch._fused_adamw_, PyTorch 2.4+);
  - the gradients down (GPU bf16 -> CPU float32), copied as copy_ does it, or widened on the GPU
    first; a later micro-batch's, summed on the CPU through pinned float32 or bf16 staging;
  - the weights up (CPU float32 -> GPU bf16), as copy_ does it, or narrowed on the CPU first.
Usage: python3 dev/offload_adamw_probe.py [LAYERS]"""
import sys
import time

import torch

d, ff, vocab = 4096, 11008, 32000


def shapes(layers):
    out = [(vocab, d), (vocab, d), (d,)]
    for _ in range(layers):
        out += [(d, d)] * 4 + [(ff, d), (ff, d), (d, ff), (d,), (d,)]
    return out


def timed(label, fn, n, reps=2):
    fn()
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    s = min(times)
    print(f"{label:58s} {s:7.3f} s  ({s * 6.74e9 / n:6.1f} s at 6.74e9 parameters)", flush=True)


def main():
    layers = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    print(torch.__version__, torch.get_num_threads(), "threads", flush=True)
    sh = shapes(layers)
    n = sum(torch.Size(s).numel() for s in sh)
    print(f"{len(sh)} tensors, {n / 1e9:.2f}e9 parameters", flush=True)
    pin = dict(dtype=torch.float32, pin_memory=True)
    master = [torch.randn(s, **pin) for s in sh]
    grad = [torch.randn(s, **pin) * 1e-3 for s in sh]
    m = [torch.zeros(s, **pin) for s in sh]
    v = [torch.zeros(s, **pin) for s in sh]
    params = [x.to("cuda", torch.bfloat16) for x in master]
    grads_gpu = [x.to("cuda", torch.bfloat16) for x in grad]
    lr, b1, b2, eps, wd, step = 2e-5, 0.9, 0.95, 1e-8, 0.1, [1]

    def plain():
        step[0] += 1
        t = step[0]
        bias1, bias2_sqrt = 1 - b1 ** t, (1 - b2 ** t) ** 0.5
        for p, g, a, a2 in zip(master, grad, m, v):
            if p.dim() >= 2:
                p.mul_(1 - lr * wd)
            a.lerp_(g, 1 - b1)
            a2.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (a2.sqrt() / bias2_sqrt).add_(eps)
            p.addcdiv_(a, denom, value=-lr / bias1)

    def fused():
        step[0] += 1
        for decay in (True, False):
            idx = [i for i, p in enumerate(master) if (p.dim() >= 2) == decay]
            steps = [torch.tensor(float(step[0])) for _ in idx]
            torch._fused_adamw_([master[i] for i in idx], [grad[i] for i in idx],
                                [m[i] for i in idx], [v[i] for i in idx], [], steps, lr=lr,
                                beta1=b1, beta2=b2, weight_decay=wd if decay else 0.0, eps=eps,
                                amsgrad=False, maximize=False)

    def down_copy():
        for cpu, gpu in zip(grad, grads_gpu):
            cpu.copy_(gpu)

    def down_widened():
        for cpu, gpu in zip(grad, grads_gpu):
            cpu.copy_(gpu.float(), non_blocking=True)
        torch.cuda.synchronize()

    big = max(x.numel() for x in grad)
    stage32 = torch.empty(big, dtype=torch.float32, pin_memory=True)
    stage16 = torch.empty(big, dtype=torch.bfloat16, pin_memory=True)

    def add_through_float32():  # a later micro-batch, as MasterAdamW sums it now
        for cpu, gpu in zip(grad, grads_gpu):
            host = stage32[:gpu.numel()].view(gpu.shape)
            host.copy_(gpu.float())
            cpu.add_(host)

    def add_through_bfloat16():  # down in bf16 (half the bytes), widened by the CPU's add
        for cpu, gpu in zip(grad, grads_gpu):
            host = stage16[:gpu.numel()].view(gpu.shape)
            host.copy_(gpu)
            cpu.add_(host)

    def up_copy():
        for gpu, cpu in zip(params, master):
            gpu.copy_(cpu)

    def up_narrowed():
        for gpu, cpu in zip(params, master):
            gpu.copy_(cpu.to(torch.bfloat16), non_blocking=True)
        torch.cuda.synchronize()

    def up_gpu_narrowed():
        for gpu, cpu in zip(params, master):
            gpu.copy_(cpu.to("cuda", non_blocking=True))
        torch.cuda.synchronize()

    for label, fn in [("AdamW, plain ops (MasterAdamW today)", plain),
                      ("AdamW, torch._fused_adamw_ on the CPU", fused),
                      ("AdamW, plain ops again", plain),
                      ("grads down: cpu_f32.copy_(gpu_bf16)", down_copy),
                      ("grads down: widened on the GPU, then copied", down_widened),
                      ("later micro-batch: down in float32, summed on the CPU", add_through_float32),
                      ("later micro-batch: down in bf16, summed on the CPU", add_through_bfloat16),
                      ("weights up: gpu_bf16.copy_(cpu_f32)", up_copy),
                      ("weights up: narrowed on the CPU, then copied", up_narrowed),
                      ("weights up: copied as float32, narrowed on the GPU", up_gpu_narrowed)]:
        timed(label, fn, n)


if __name__ == "__main__":
    main()
