#!/usr/bin/env python3
"""MMLU-shaped log-likelihood requests as token ids, for bench/eval_throughput.cpp and
bench/mmlu_hf.py where the real data is not at hand (`longctx eval mmlu --dump-requests` writes
the same format from the real data).

57 groups (subjects); each a shared few-shot prefix of 400-2400 ids (BOS first) and questions
whose context is that prefix plus 40-400 ids of their own, 14,042 questions in all as in MMLU's
test split; the continuations are Llama-2's " A".." D" ([319], [350], [315], [360]). Ids are
drawn from --seed with Python's random module, below --vocab (32000; a smaller vocabulary, for
the debug model's smoke run, takes ids 3-6 as the continuations).

Usage: python3 bench/make_mmlu_requests.py OUT.jsonl [--questions 14042] [--seed 0] [--vocab V]
"""
import argparse
import json
import random


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--questions", type=int, default=14042)
    p.add_argument("--groups", type=int, default=57)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--prefix", default="400,2400", help="prefix lengths: low,high")
    p.add_argument("--own", default="40,400", help="question lengths: low,high")
    a = p.parse_args()
    prefix_low, prefix_high = map(int, a.prefix.split(","))
    own_low, own_high = map(int, a.own.split(","))
    letters = [[319], [350], [315], [360]] if a.vocab >= 32000 else [[3], [4], [5], [6]]
    rng = random.Random(a.seed)
    with open(a.out, "w") as f:
        for g in range(a.groups):
            n = a.questions // a.groups + (1 if g < a.questions % a.groups else 0)
            prefix = [1] + [rng.randrange(3, a.vocab)
                            for _ in range(rng.randrange(prefix_low, prefix_high))]
            for _ in range(n):
                own = [rng.randrange(3, a.vocab) for _ in range(rng.randrange(own_low, own_high))]
                f.write(json.dumps({"group": g, "context": prefix + own,
                                    "continuations": letters}) + "\n")


if __name__ == "__main__":
    main()
