#!/usr/bin/env python3
"""The native tiktoken peer for bench/tokenizer_throughput.sh: OpenAI's tiktoken (its Rust core,
through the Python package) loaded with a byte-level tokenizer.json's vocabulary and
pre-tokenizer regex (Llama-3, Qwen3), as bench/tokenizer_peers.js loads the WASM build, on the
same ~4 KB documents, with the same protocol as ours: one untimed warm-up pass over the first
tenth of the documents, then the best of REPEATS timed passes. One thread (encode_ordinary per
document) and all threads (encode_ordinary_batch). Prints the same tab-separated lines.
Exits 3, printing nothing, when the tokenizer.json is not byte-level BPE with a Split regex.

Usage: python3 bench/tokenizer_peers_tiktoken.py TOKENIZER_JSON TEXT_FILE [REPEATS]
"""
import json
import os
import sys
import time

import tiktoken


def documents(text):
    """~4 KB documents cut at a space, as longctx_bench_tokenizer cuts them."""
    docs, start = [], 0
    while start < len(text):
        end = min(len(text), start + 4096)
        space = text.rfind(" ", 0, end) if end < len(text) else -1
        if space > start:
            end = space
        docs.append(text[start:end])
        start = end
    return docs


def byte_decoder():
    """GPT-2's byte-to-character table, inverted: the character of a vocabulary entry -> byte."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, shifted = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + shifted)] = b
            shifted += 1
    return table


def best_of(repeats, warm_up, run):
    warm_up()
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        tokens = run()
        seconds = time.perf_counter() - t0
        if best is None or seconds < best[0]:
            best = (seconds, tokens)
    return best


def main():
    json_path, text_path = sys.argv[1], sys.argv[2]
    repeats = max(1, int(sys.argv[3])) if len(sys.argv) > 3 else 3
    config = json.load(open(json_path, encoding="utf-8"))
    pre = config.get("pre_tokenizer") or {}
    if pre.get("type") != "Sequence" or pre["pretokenizers"][0].get("type") != "Split":
        sys.exit(3)
    decode = byte_decoder()
    ranks = {bytes(decode[c] for c in token): rank for token, rank in config["model"]["vocab"].items()}
    special = {t["content"]: t["id"] for t in config["added_tokens"]}
    encoding = tiktoken.Encoding(name=os.path.basename(os.path.dirname(json_path)),
                                 pat_str=pre["pretokenizers"][0]["pattern"]["Regex"],
                                 mergeable_ranks=ranks, special_tokens=special)
    text = open(text_path, encoding="utf-8").read()
    size = len(text.encode("utf-8"))
    docs = documents(text)
    warm = docs[:len(docs) // 10]
    name = os.path.basename(os.path.dirname(json_path))

    def report(run, threads, seconds, tokens):
        print("\t".join([f"{name}:tiktoken-native", run, str(threads), f"{size / 1e6:.1f}",
                         f"{seconds:.3f}", f"{size / 1e6 / seconds:.1f}", str(tokens)]))

    def one(batch):
        return sum(len(encoding.encode_ordinary(d)) for d in batch)

    seconds, tokens = best_of(repeats, lambda: one(warm), lambda: one(docs))
    report("documents", 1, seconds, tokens)
    threads = os.cpu_count() or 1

    def many(batch):
        return sum(len(ids) for ids in encoding.encode_ordinary_batch(batch, num_threads=threads))

    seconds, tokens = best_of(repeats, lambda: many(warm), lambda: many(docs))
    report("documents", threads, seconds, tokens)


if __name__ == "__main__":
    main()
