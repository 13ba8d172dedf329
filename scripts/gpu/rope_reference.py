#!/usr/bin/env python3
"""The RoPE goldens of tests/model/rope_goldens.json, recomputed by transformers itself.

Runs on the GPU machine (torch + transformers installed; no network). For every case of the
goldens it builds a LlamaConfig with the case's RoPE and calls transformers' own initialiser,
ROPE_INIT_FUNCTIONS[rope_type] (for "default", LlamaRotaryEmbedding's default initialiser when
transformers 5 keeps it there), with the case's sequence length: a Python int, or a 0-d int64
tensor where the case says "tensor" (what dynamic NTK receives when the model grows its cache).
It writes transformers' inv_freq and attention factor to OUT (JSON) and compares them with the
goldens made by scripts/make_rope_goldens.py (Python's math module, float32 steps emulated):

  max ulp / max relative difference of inv_freq (float32) per case, and the attention factor.

Exit status 1 when a case differs by more than --max-ulp float32 ulps (default 4) or the
attention factor by more than 1e-12 relative. torch's float32 pow is not always correctly
rounded and CUDA divides by a scalar through its reciprocal, so a few ulps are expected, more
on --device cuda than on cpu; larger differences mean a formula differs.

    python3 scripts/gpu/rope_reference.py --goldens tests/model/rope_goldens.json \\
        --out rope_transformers.json [--device cpu|cuda]
"""
import argparse
import json
import struct
import sys

import torch
import transformers
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS


def ulps(a, b):
    """Distance between two float32 values in units in the last place."""
    def ordered(x):
        i = struct.unpack("<i", struct.pack("<f", x))[0]
        return i if i >= 0 else -(i & 0x7FFFFFFF)
    return abs(ordered(a) - ordered(b))


def make_config(params):
    dim = params["head_dim"]
    heads = 4
    rope = {k: v for k, v in params.items()
            if k not in ("head_dim", "max_position_embeddings", "seq_len", "seq_len_kind")}
    fields = dict(hidden_size=dim * heads, num_attention_heads=heads, num_key_value_heads=heads,
                  head_dim=dim, max_position_embeddings=params["max_position_embeddings"],
                  intermediate_size=4 * dim, num_hidden_layers=1, vocab_size=64)
    major = int(transformers.__version__.split(".")[0])
    if major >= 5:
        return LlamaConfig(rope_parameters=rope, **fields)
    theta = rope.pop("rope_theta")
    scaling = None if rope["rope_type"] == "default" else rope
    return LlamaConfig(rope_theta=theta, rope_scaling=scaling, **fields)


def init_function(rope_type):
    fn = ROPE_INIT_FUNCTIONS.get(rope_type)
    if fn is None and rope_type == "default":
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
        fn = LlamaRotaryEmbedding.compute_default_rope_parameters
    if fn is None:
        raise SystemExit(f"transformers {transformers.__version__} has no RoPE initialiser '{rope_type}'")
    return fn


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goldens", default="tests/model/rope_goldens.json")
    parser.add_argument("--out", default="rope_transformers.json")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-ulp", type=int, default=4)
    args = parser.parse_args()

    goldens = json.load(open(args.goldens))
    device = torch.device(args.device)
    results, failures = [], []
    for case in goldens["cases"]:
        params = case["params"]
        config = make_config(params)
        seq_len = params.get("seq_len")
        if seq_len is not None and params.get("seq_len_kind", "int") == "tensor":
            seq_len = torch.tensor(seq_len, dtype=torch.int64, device=device)
        inv_freq, attention = init_function(params["rope_type"])(config, device, seq_len=seq_len)
        inv = [float(x) for x in inv_freq.to("cpu", torch.float32).tolist()]
        want = case["inv_freq_float32"]
        worst_ulp = max(ulps(a, b) for a, b in zip(inv, want))
        worst_rel = max(abs(a - b) / abs(b) for a, b in zip(inv, want))
        att_rel = abs(float(attention) - case["attention_factor"]) / case["attention_factor"]
        ok = len(inv) == len(want) and worst_ulp <= args.max_ulp and att_rel <= 1e-12
        print(f"{case['name']:24s} max {worst_ulp:3d} ulp  rel {worst_rel:.2e}  attention "
              f"{float(attention):.12g} (rel {att_rel:.1e})  {'ok' if ok else 'DIFFERS'}")
        if not ok:
            failures.append(case["name"])
        results.append({"name": case["name"], "inv_freq_float32": inv, "attention_factor": float(attention),
                        "max_ulp": worst_ulp, "max_relative": worst_rel})

    with open(args.out, "w") as f:
        json.dump({"transformers_version": transformers.__version__, "torch_version": torch.__version__,
                   "device": str(device), "cases": results}, f, indent=1)
        f.write("\n")
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {device}: "
          f"{len(results) - len(failures)}/{len(results)} cases within {args.max_ulp} ulp")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
