#!/usr/bin/env python3
"""Golden RoPE frequencies for src/longctx/model/rope_test.cpp, from the Python standard library.

An independent implementation of the RoPE initialisers of Hugging Face transformers
(modeling_rope_utils.py: _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
_compute_dynamic_ntk_parameters, _compute_yarn_parameters, _compute_llama3_parameters), written
from their formulas with `math` alone. transformers builds inv_freq as a float32 torch tensor;
`f32` below rounds a Python float to the nearest float32 at every step where torch holds a
float32 value, so `inv_freq_float32` is what those float32 kernels give when each operation is
correctly rounded. `inv_freq_float64` evaluates the same formulas in double precision.

    python3 scripts/make_rope_goldens.py > tests/model/rope_goldens.json

scripts/gpu/rope_reference.py runs the same cases through transformers itself (on the GPU
machine, where torch and transformers are installed) and compares.
"""

import json
import math
import struct
import sys


def f32(x):
    """Nearest float32 (round half to even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def ident(x):
    return x


def exponents(dim, r):
    # torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    return [r(r(float(i)) / r(float(dim))) for i in range(0, dim, 2)]


def default_inv_freq(base, dim, r):
    # 1.0 / (base ** exponents): the Python-float base becomes a float32 scalar in the pow.
    return [r(1.0 / r(math.pow(r(base), e))) for e in exponents(dim, r)]


def linear(case, r):
    factor = case["factor"]
    return [r(x / r(factor)) for x in default_inv_freq(case["rope_theta"], case["head_dim"], r)], 1.0, case["rope_theta"]


def dynamic(case, r):
    dim, max_pos, factor, theta = case["head_dim"], case["max_position_embeddings"], case["factor"], case["rope_theta"]
    seq_len = case.get("seq_len")
    if seq_len is None:
        seq_len = max_pos
    seq_len = max(seq_len, max_pos)
    if case.get("seq_len_kind", "int") == "tensor" and r is f32:
        # seq_len is a 0-d int64 tensor: `factor * seq_len` promotes to float32, and so does
        # everything after it; `** (dim / (dim - 2))` takes the exponent as float32.
        x = f32(f32(factor) * f32(float(seq_len)))
        x = f32(x / f32(float(max_pos)))
        x = f32(x - f32(factor - 1))
        x = f32(math.pow(x, f32(dim / (dim - 2))))
        base = f32(f32(theta) * x)
    else:
        base = theta * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
    return default_inv_freq(base, dim, r), 1.0, base


def yarn(case, r):
    dim, base = case["head_dim"], case["rope_theta"]
    factor = case["factor"]
    original = case.get("original_max_position_embeddings") or case["max_position_embeddings"]
    mscale, mscale_all_dim = case.get("mscale"), case.get("mscale_all_dim")

    def get_mscale(scale, m=1):
        if scale <= 1:
            return 1.0
        return 0.1 * m * math.log(scale) + 1.0

    attention_factor = case.get("attention_factor")
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)
    beta_fast = case.get("beta_fast") or 32
    beta_slow = case.get("beta_slow") or 1

    def correction_dim(rotations):
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if case.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001

    out = []
    for i, e in zip(range(dim // 2), exponents(dim, r)):
        pos = r(math.pow(r(base), e))
        extrapolation = r(1.0 / pos)
        interpolation = r(1.0 / r(r(factor) * pos))
        ramp = min(max(r(r(float(i) - r(low)) / r(high - low)), 0.0), 1.0)
        weight = r(1.0 - ramp)
        out.append(r(r(interpolation * r(1.0 - weight)) + r(extrapolation * weight)))
    return out, attention_factor, base


def llama3(case, r):
    inv = default_inv_freq(case["rope_theta"], case["head_dim"], r)
    factor, low_ff, high_ff = case["factor"], case["low_freq_factor"], case["high_freq_factor"]
    old = case["original_max_position_embeddings"]
    low_wl, high_wl = old / low_ff, old / high_ff
    out = []
    for f in inv:
        # `2 * math.pi / inv_freq` and `old / wavelen` are Tensor.__rtruediv__: reciprocal, then
        # a multiplication by the scalar.
        wavelen = f32(f32(1.0 / f) * f32(2 * math.pi)) if r is f32 else 2 * math.pi / f
        scaled = r(f / r(factor)) if wavelen > r(low_wl) else f
        recip = f32(f32(1.0 / wavelen) * f32(float(old))) if r is f32 else old / wavelen
        smooth = r(r(recip - r(low_ff)) / r(high_ff - low_ff))
        smoothed = r(r(r(r(1.0 - smooth) * scaled) / r(factor)) + r(smooth * scaled))
        medium = not (wavelen < r(high_wl)) and not (wavelen > r(low_wl))
        out.append(smoothed if medium else scaled)
    return out, 1.0, case["rope_theta"]


def default(case, r):
    return default_inv_freq(case["rope_theta"], case["head_dim"], r), 1.0, case["rope_theta"]


FUNCTIONS = {"default": default, "linear": linear, "dynamic": dynamic, "yarn": yarn, "llama3": llama3}

# name, then the fields of transformers 5's rope_parameters plus head_dim,
# max_position_embeddings and, for dynamic, the sequence length and how transformers holds it.
CASES = [
    ("llama2_default", {"rope_type": "default", "rope_theta": 10000.0, "head_dim": 128, "max_position_embeddings": 4096}),
    ("base_500k", {"rope_type": "default", "rope_theta": 500000.0, "head_dim": 128, "max_position_embeddings": 4096}),
    ("default_dim96", {"rope_type": "default", "rope_theta": 10000.0, "head_dim": 96, "max_position_embeddings": 2048}),
    ("linear_4", {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0, "head_dim": 128, "max_position_embeddings": 4096}),
    ("linear_3_dim64", {"rope_type": "linear", "rope_theta": 10000.0, "factor": 3.0, "head_dim": 64, "max_position_embeddings": 2048}),
    ("dynamic_init", {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 10.0, "head_dim": 128, "max_position_embeddings": 4096}),
    ("dynamic_frozen_81920", {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 10.0, "head_dim": 128, "max_position_embeddings": 4096, "seq_len": 81920, "seq_len_kind": "int"}),
    ("dynamic_tensor_81920", {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 10.0, "head_dim": 128, "max_position_embeddings": 4096, "seq_len": 81920, "seq_len_kind": "tensor"}),
    ("dynamic_tensor_10000", {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0, "head_dim": 64, "max_position_embeddings": 2048, "seq_len": 10000, "seq_len_kind": "tensor"}),
    ("dynamic_short", {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0, "head_dim": 64, "max_position_embeddings": 2048, "seq_len": 1000, "seq_len_kind": "int"}),
    ("yarn_mistral_128k", {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 16.0, "original_max_position_embeddings": 8192, "head_dim": 128, "max_position_embeddings": 131072}),
    ("yarn_mscale", {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707, "head_dim": 64, "max_position_embeddings": 163840}),
    ("yarn_no_truncate", {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0, "original_max_position_embeddings": 32768, "truncate": False, "head_dim": 128, "max_position_embeddings": 131072}),
    ("yarn_attention_factor", {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 2.0, "attention_factor": 1.25, "beta_fast": 16.0, "beta_slow": 2.0, "head_dim": 64, "max_position_embeddings": 4096}),
    ("llama3_8b", {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "head_dim": 128, "max_position_embeddings": 131072}),
    ("llama3_1b", {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "head_dim": 64, "max_position_embeddings": 131072}),
]


def main():
    cases = []
    for name, case in CASES:
        fn = FUNCTIONS[case["rope_type"]]
        inv32, attention, base32 = fn(case, f32)
        inv64, attention64, base64 = fn(case, ident)
        assert attention == attention64
        cases.append({
            "name": name,
            "params": case,
            "inv_freq_float32": inv32,
            "inv_freq_float64": inv64,
            "attention_factor": attention,
            "base_float32": base32,
            "base_float64": base64,
        })
    doc = {
        "generator": "scripts/make_rope_goldens.py (Python standard library; transformers' formulas)",
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
