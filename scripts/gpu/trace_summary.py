#!/usr/bin/env python3
"""Where a training step's GPU time goes: CUDA kernel time from a kineto chrome trace (as
bench/train_step.cpp --profile writes it), summed by kernel name, largest first.

Usage: python3 scripts/gpu/trace_summary.py trace.json [--top 30]
"""
import argparse
import collections
import json


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--top", type=int, default=30)
    a = p.parse_args()
    events = json.load(open(a.trace))
    events = events["traceEvents"] if isinstance(events, dict) else events
    kernels = [e for e in events if e.get("cat") == "kernel" and "dur" in e]
    total = collections.Counter()
    count = collections.Counter()
    for e in kernels:
        total[e["name"][:90]] += e["dur"]
        count[e["name"][:90]] += 1
    busy = sum(total.values())
    start = min(e["ts"] for e in kernels)
    end = max(e["ts"] + e["dur"] for e in kernels)
    print(f"kernels {len(kernels)}, GPU busy {busy / 1e3:.1f} ms of {(end - start) / 1e3:.1f} ms "
          f"between the first and last kernel")
    for name, dur in total.most_common(a.top):
        print(f"{dur / 1e3:9.1f} ms {100 * dur / busy:5.1f}% {count[name]:6d}x  {name}")


if __name__ == "__main__":
    main()
