#!/usr/bin/env python3
"""A small SlimPajama-layout corpus, identical on every run, for output checks.

    python3 scripts/make_check_corpus.py DIR

Writes DIR/chunk1/part_0.jsonl.zst, part_1.jsonl.zst (zstd, by the zstd command) and
plain.jsonl: seven domains, mostly short documents and a few long ones (Book and ArXiv past
4K tokens), so every mix strategy has something to keep and something to filter. Standard
library only, plus the zstd command.
"""
import json
import pathlib
import random
import subprocess
import sys

DOMAINS = {
    "RedPajamaCommonCrawl": (60, 300, 2500),
    "RedPajamaC4": (80, 150, 600),
    "RedPajamaGithub": (25, 300, 3000),
    "RedPajamaBook": (6, 20000, 40000),
    "RedPajamaArXiv": (6, 6000, 25000),
    "RedPajamaWikipedia": (40, 200, 900),
    "RedPajamaStackExchange": (30, 150, 700),
}
WORDS = ("time year people way day man thing woman life child world school state family "
         "student group country problem hand part place case week company system program "
         "question work government number night point home water room mother area money story "
         "fact month lot right study book eye job word business issue side kind head house "
         "service friend father power hour game line end member law car city community name").split()


def document(rng: random.Random, words: int) -> str:
    out, line = [], []
    for i in range(words):
        line.append(rng.choice(WORDS))
        if rng.random() < 0.08:
            out.append(" ".join(line).capitalize() + ".")
            line = []
            if rng.random() < 0.2:
                out.append("\n")
    if line:
        out.append(" ".join(line).capitalize() + ".")
    return " ".join(out).replace(" \n ", "\n")


def main() -> None:
    root = pathlib.Path(sys.argv[1])
    (root / "chunk1").mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240214)
    records = []
    for domain, (count, low, high) in DOMAINS.items():
        for _ in range(count):
            records.append({"text": document(rng, rng.randint(low, high)),
                            "meta": {"redpajama_set_name": domain}})
    rng.shuffle(records)
    parts = [records[0::3], records[1::3], records[2::3]]
    for i, part in enumerate(parts[:2]):
        raw = "".join(json.dumps(r) + "\n" for r in part).encode()
        path = root / "chunk1" / f"part_{i}.jsonl.zst"
        path.write_bytes(subprocess.run(["zstd", "-q", "-3", "-c"], input=raw, check=True,
                                        stdout=subprocess.PIPE).stdout)
    (root / "chunk1" / "plain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in parts[2]))


if __name__ == "__main__":
    main()
