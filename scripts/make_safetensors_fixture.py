#!/usr/bin/env python3
"""Writes the safetensors fixtures of src/longctx/model/safetensors_test.cpp.

An independent writer that follows the published format (github.com/huggingface/safetensors,
README "Format") with the Python standard library only (struct + json), and deliberately lays
files out differently from longctx's writer, to test that the reader depends on the format
and not on one writer's habits:

  - header entries in reverse data order, "__metadata__" last, json.dumps' default separators
    (", " and ": ") and ASCII escapes (a non-ASCII tensor name appears as \\u escapes);
  - fixture.safetensors: no padding after the header, so tensors are not aligned;
  - sharded/: two shards (each padded to 8 bytes) and model.safetensors.index.json.

Values are their positions where that is possible, so the test can check them without this
script. fixture.json records what each tensor must read back as (dtype, shape, bytes in hex).

    python3 scripts/make_safetensors_fixture.py tests/model
"""

import json
import math
import os
import struct
import sys


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bf16_bytes(values):
    # bfloat16 is the upper half of a float32; these values are exact in bfloat16.
    out = b""
    for v in values:
        bits = f32_bits(v)
        assert bits & 0xFFFF == 0, v
        out += struct.pack("<H", bits >> 16)
    return out


def tensors():
    """(name, dtype, shape, bytes) in data order."""
    return [
        ("model.embed_tokens.weight", "F32", [2, 3], struct.pack("<6f", *[float(i) for i in range(6)])),
        ("model.norm.weight", "BF16", [4], bf16_bytes([1.0, -2.0, 0.5, 3.140625])),
        ("lm_head.weight", "F16", [2, 2], struct.pack("<4e", 0.5, -1.5, 65504.0, 2.0 ** -24)),
        ("counts", "I64", [3], struct.pack("<3q", -1, 0, 2 ** 40)),
        ("bytes", "U8", [5], bytes(range(5))),
        ("mask", "BOOL", [2], bytes([1, 0])),
        ("pi", "F64", [1], struct.pack("<d", math.pi)),
        ("scalar", "I32", [], struct.pack("<i", -7)),
        ("empty", "F32", [0, 3], b""),
        ("\u00fcnic\u00f6de.weight", "I16", [2], struct.pack("<2h", -2, 3)),
    ]


def write_safetensors(path, items, metadata, pad):
    header = {}
    offset = 0
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    # Reverse the entries and put the metadata last: JSON object order carries no meaning.
    ordered = dict(reversed(list(header.items())))
    if metadata is not None:
        ordered["__metadata__"] = metadata
    text = json.dumps(ordered).encode("utf-8")
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in items:
            f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/model"
    items = tensors()
    write_safetensors(os.path.join(out, "fixture.safetensors"), items, {"format": "pt", "source": "python"}, pad=False)

    sharded = os.path.join(out, "sharded")
    os.makedirs(sharded, exist_ok=True)
    shards = [("model-00001-of-00002.safetensors", items[:4]), ("model-00002-of-00002.safetensors", items[4:])]
    weight_map = {}
    for file_name, part in shards:
        write_safetensors(os.path.join(sharded, file_name), part, {"format": "pt"}, pad=True)
        for name, *_ in part:
            weight_map[name] = file_name
    index = {"metadata": {"total_size": sum(len(d) for *_, d in items)}, "weight_map": weight_map}
    with open(os.path.join(sharded, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")

    expected = {name: {"dtype": dtype, "shape": shape, "hex": data.hex()} for name, dtype, shape, data in items}
    with open(os.path.join(out, "fixture.json"), "w") as f:
        json.dump({"generator": "scripts/make_safetensors_fixture.py", "tensors": expected}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
