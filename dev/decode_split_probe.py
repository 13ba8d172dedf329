#!/usr/bin/env python3
"""Experiment: decoding attention split over the keys (flash-decoding) against the one Flash
call decode_attention makes. One token's attention over W cached positions for every layer of
a model shape, captured in a CUDA graph (each layer its own cache, as in decoding), timed by
replays. Variants, all through aten._flash_attention_forward's packed (varlen) form:
  one:      1 query of H heads over the used keys (what decode_attention does);
  split n:  the query repeated n times, sequence i the i-th of n equal key segments
            (seqused_k per segment), merged by their log-sum-exp;
  rows n:   as split n, but each segment's query is G rows of K heads (the G query heads of a
            key/value head as rows), so each segment is read by K thread blocks, not H.
Usage: python3 dev/decode_split_probe.py"""
import torch

SHAPES = [("tinyllama-1.1b", 4, 8, 64, 22), ("llama3-8b", 8, 4, 128, 32)]
bf = torch.bfloat16
flash = torch.ops.aten._flash_attention_forward


def i32(values):
    return torch.tensor(values, dtype=torch.int32, device="cuda")


def merge(out, lse):  # out [n, H, D], lse [H, n] -> [H, D]
    weights = torch.softmax(lse.float(), dim=1)  # [H, n]: exp(lse_i - logsumexp over i)
    return torch.einsum("hn,nhd->hd", weights, out.float()).to(bf)


def variant(kind, n, q, kc, vc, w, used_t, K, G, D):
    H = K * G
    k, v = kc[0, :, :w].transpose(0, 1), vc[0, :, :w].transpose(0, 1)  # [W, K, D] views
    if kind == "one":
        cu_q, cu_k = i32([0, 1]), i32([0, w])
        def run():
            return flash(q.view(1, H, D), k, v, cu_q, cu_k, 1, w, 0.0, False, False,
                         seqused_k=used_t)[0].view(H, D)
        return run
    seg = w // n
    cu_k = i32([i * seg for i in range(n + 1)])
    starts = torch.arange(n, device="cuda", dtype=torch.int32) * seg
    if kind == "split":
        cu_q = i32(list(range(n + 1)))
        def run():
            used = (used_t - starts).clamp(0, seg).to(torch.int32)
            out, lse = flash(q.view(1, H, D).expand(n, H, D).contiguous(), k, v, cu_q, cu_k, 1, seg, 0.0,
                             False, False, seqused_k=used)[:2]
            return merge(out, lse)
        return run
    cu_q = i32([i * G for i in range(n + 1)])
    def run():  # rows: segment i's query is [G, K, D]
        used = (used_t - starts).clamp(0, seg).to(torch.int32)
        rows = q.view(K, G, D).transpose(0, 1).unsqueeze(0).expand(n, G, K, D).reshape(n * G, K, D)
        out, lse = flash(rows, k, v, cu_q, cu_k, G, seg, 0.0, False, False, seqused_k=used)[:2]
        # out [n*G, K, D] -> [n, H, D] with h = kh*G + g; lse [K, n*G] -> [H, n]
        out = out.view(n, G, K, D).transpose(1, 2).reshape(n, H, D)
        lse = lse.view(K, n, G).transpose(1, 2).reshape(H, n)
        return merge(out, lse)
    return run


def reference(q, kc, vc, used, K, G, D):
    k, v = kc[0, :, :used].double(), vc[0, :, :used].double()  # [K, U, D]
    qq = q.view(K, G, D).double()
    p = torch.softmax(qq @ k.transpose(1, 2) / D ** 0.5, -1)
    return (p @ v).reshape(K * G, D)


def main():
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    for name, K, G, D, L in SHAPES:
        H = K * G
        for w in [32768, 131072]:
            caches = [(torch.randn(1, K, w, D, device="cuda", dtype=bf),
                       torch.randn(1, K, w, D, device="cuda", dtype=bf)) for _ in range(L)]
            q = torch.randn(H, D, device="cuda", dtype=bf)
            used_t = i32([w - 100])
            truth = reference(q, *caches[0], w - 100, K, G, D)
            base = None
            for kind, n in [("one", 1), ("split", 2), ("split", 4), ("split", 8), ("split", 16),
                            ("rows", 4), ("rows", 8), ("rows", 16), ("rows", 32), ("one", 1)]:
                runs = [variant(kind, n, q, kc, vc, w, used_t, K, G, D) for kc, vc in caches]
                err = ((runs[0]().double() - truth).norm() / truth.norm()).item()
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for r in runs:
                        r()
                torch.cuda.current_stream().wait_stream(s)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for r in runs:
                        r()
                for _ in range(3):
                    graph.replay()
                times = []
                for _ in range(15):
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    a.record()
                    graph.replay()
                    b.record()
                    b.synchronize()
                    times.append(a.elapsed_time(b))
                ms = sorted(times)[len(times) // 2]
                base = base or ms
                gbps = L * 2 * K * (w - 100) * D * 2 / ms / 1e6
                print(f"{name} W={w} {kind} {n:2d}: {ms:6.3f} ms per token ({L} layers), "
                      f"{gbps:5.0f} GB/s of keys/values, {base / ms:4.2f}x, err {err:.1e}",
                      flush=True)
                del graph
            del caches
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
