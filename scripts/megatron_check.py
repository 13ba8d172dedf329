#!/usr/bin/env python3
"""Prints the header and the first tokens of a Megatron-LM indexed dataset, and checks it.

Usage: python3 scripts/megatron_check.py PREFIX [--tokens N]
  PREFIX    the dataset path without extension: reads PREFIX.idx and PREFIX.bin
  --tokens  how many tokens to print from the start of .bin (default 32)

For a human to cross-check a dataset against the layout that Megatron-LM publishes in
megatron/core/datasets/indexed_dataset.py, independently of longctx's own code (the C++
counterpart for tests is tests/support/megatron_reader.h). Python 3 standard library only
(struct, array). Exit status 0 when every check passes, 1 when any fails (each is printed
as "error: ..."), 2 when a file cannot be opened or is too short to read.

Layout. Every integer is little-endian; arrays are packed back to back.

  PREFIX.idx
    offset  bytes        field
    0       9            magic b"MMIDIDX\\x00\\x00"
    9       8   uint64   version, always 1
    17      1   uint8    dtype code of the tokens in .bin (table below)
    18      8   uint64   S, sequence count
    26      8   uint64   D, document-index count (documents + 1)
    34      4*S int32    sequence lengths (tokens per sequence)
    34+4S   8*S int64    sequence pointers (byte offset of each sequence in .bin)
    34+12S  8*D int64    document indices: 0, then the sequence index one past the end of
                         each document; the last is S
    (a multimodal dataset appends int8 modes[S]; this script reports them as trailing bytes)

  PREFIX.bin
    the tokens of sequences 0..S-1 back to back; pointers are the running sum of
    length * element size starting at 0, and the file is sum(lengths) * element size bytes.

  dtype code  1 uint8  2 int8  3 int16  4 int32  5 int64  6 float64  7 float32  8 uint16

Example output, for documents [[5, 6, 7], [8]] in uint16:
  magic       MMIDIDX\\x00\\x00 (ok)
  version     1
  dtype       8 = uint16 (2 bytes per token)
  sequences   2
  documents   2 (3 document indices)
  ...
  seq 0 (doc 0, 3 tokens): 5 6 7
  seq 1 (doc 1, 1 tokens): 8
"""
import argparse
import array
import os
import struct
import sys

MAGIC = b"MMIDIDX\x00\x00"
HEADER = struct.Struct("<9sQBQQ")  # magic, version, dtype code, S, D: 34 bytes
# code: (name, bytes, array typecode)
DTYPES = {
    1: ("uint8", 1, "B"),
    2: ("int8", 1, "b"),
    3: ("int16", 2, "h"),
    4: ("int32", 4, "i"),
    5: ("int64", 8, "q"),
    6: ("float64", 8, "d"),
    7: ("float32", 4, "f"),
    8: ("uint16", 2, "H"),
}
SHOWN_ENTRIES = 8  # entries of each index array to print


def read_array(stream, typecode, count, size):
    """count little-endian values of `size` bytes each, as an array."""
    values = array.array(typecode)
    assert values.itemsize == size, f"array '{typecode}' is {values.itemsize} bytes here"
    values.frombytes(stream.read(count * size))
    if sys.byteorder == "big":
        values.byteswap()
    return values


def head(values):
    shown = " ".join(str(v) for v in values[:SHOWN_ENTRIES])
    return shown + (" ..." if len(values) > SHOWN_ENTRIES else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="dataset path without .idx/.bin")
    parser.add_argument("--tokens", type=int, default=32, help="tokens to print (default 32)")
    args = parser.parse_args()
    idx_path, bin_path = args.prefix + ".idx", args.prefix + ".bin"
    errors = []

    try:
        idx_bytes = os.path.getsize(idx_path)
        bin_bytes = os.path.getsize(bin_path)
    except OSError as e:
        fatal(f"{e} (expected PREFIX.idx and PREFIX.bin)")
    if idx_bytes < HEADER.size:
        fatal(f"{idx_path} is {idx_bytes} bytes, shorter than the {HEADER.size}-byte header")

    with open(idx_path, "rb") as idx:
        magic, version, code, seq_count, doc_index_count = HEADER.unpack(idx.read(HEADER.size))
        print(f"idx         {idx_path} ({idx_bytes} bytes)")
        print(f"bin         {bin_path} ({bin_bytes} bytes)")
        print(f"magic       {magic!r} ({'ok' if magic == MAGIC else 'BAD'})")
        if magic != MAGIC:
            errors.append(f"bad magic {magic!r}, expected {MAGIC!r}")
        print(f"version     {version}")
        if version != 1:
            errors.append(f"version {version}, expected 1")
        if code not in DTYPES:
            print(f"dtype       {code} = unknown")
            errors.append(f"unknown dtype code {code}, expected 1..8")
        else:
            name, size, _ = DTYPES[code]
            print(f"dtype       {code} = {name} ({size} bytes per token)")
        print(f"sequences   {seq_count}")
        print(f"documents   {max(doc_index_count - 1, 0)} ({doc_index_count} document indices)")

        expected_idx = HEADER.size + 12 * seq_count + 8 * doc_index_count
        if idx_bytes != expected_idx:
            errors.append(f"{idx_path} is {idx_bytes} bytes, expected {expected_idx} for the "
                          "counts in the header")
        if errors:
            report(errors)
        lengths = read_array(idx, "i", seq_count, 4)
        pointers = read_array(idx, "q", seq_count, 8)
        documents = read_array(idx, "q", doc_index_count, 8)

    print(f"lengths     {head(lengths)}")
    print(f"pointers    {head(pointers)}")
    print(f"doc index   {head(documents)}")

    # Pointers: running sum of length * element size from 0; .bin holds exactly that many bytes.
    name, size, typecode = DTYPES[code]
    expected_pointer = 0
    for i, (length, pointer) in enumerate(zip(lengths, pointers)):
        if length < 0:
            errors.append(f"sequence {i} has negative length {length}")
            break
        if pointer != expected_pointer:
            errors.append(f"sequence {i} pointer is {pointer}, expected {expected_pointer}")
            break
        expected_pointer += length * size
    else:
        print(f"tokens      {expected_pointer // size} ({expected_pointer} bytes of {name})")
        if bin_bytes != expected_pointer:
            errors.append(f"{bin_path} is {bin_bytes} bytes, the index needs {expected_pointer}")

    # Document indices: start at 0, never decrease, end at S.
    if doc_index_count == 0 or documents[0] != 0:
        errors.append("document indices do not start at 0")
    elif any(documents[d] < documents[d - 1] for d in range(1, doc_index_count)):
        errors.append("document indices decrease")
    elif documents[-1] != seq_count:
        errors.append(f"last document index is {documents[-1]}, expected {seq_count}")

    # The first tokens, sequence by sequence.
    with open(bin_path, "rb") as data:
        tokens = read_array(data, typecode, min(args.tokens, bin_bytes // size), size)
    print(f"first {len(tokens)} tokens:")
    start, doc = 0, 0
    for i, length in enumerate(lengths):
        if start >= len(tokens):
            break
        while doc + 1 < doc_index_count and documents[doc + 1] <= i:
            doc += 1
        shown = tokens[start:start + length]
        more = " ..." if len(shown) < length else ""
        print(f"  seq {i} (doc {doc}, {length} tokens): {' '.join(str(t) for t in shown)}{more}")
        start += length

    report(errors)


def fatal(message):
    print(f"megatron_check: error: {message}", file=sys.stderr)
    sys.exit(2)


def report(errors):
    for error in errors:
        print(f"error: {error}")
    print("ok" if not errors else f"{len(errors)} error(s)")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
