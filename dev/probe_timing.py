"""Shared by the dev/ attention probes: mean seconds per call of fn after one untimed call."""
import time

import torch


def timed(fn, reps=3):
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps
