#!/usr/bin/python3
"""Golden row orders for DataOrder (src/longctx/train/training_data.h).

An independent Python version of the order, written from its description rather than from the
C++: epoch e of seed s is a Fisher-Yates shuffle of 0..rows-1 (i from rows-1 down to 1, swap
with j uniform in [0, i]) drawing from xoshiro256** whose state is four splitmix64 outputs
seeded with (the first splitmix64(s) output + e); j is a 64-bit draw r mod (i + 1), after
drawing again while r < 2^64 mod (i + 1). Prints the orders pasted into training_data_test.cpp.
Python 3 standard library only.
"""
M = (1 << 64) - 1


def splitmix64(x):
    while True:
        x = (x + 0x9E3779B97F4A7C15) & M
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        yield z ^ (z >> 31)


def xoshiro256starstar(s):
    def rotl(v, k):
        return ((v << k) | (v >> (64 - k))) & M

    while True:
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        yield result


def order(rows, seed, epoch):
    key = next(splitmix64(seed))
    state = splitmix64((key + epoch) & M)
    draws = xoshiro256starstar([next(state) for _ in range(4)])
    p = list(range(rows))
    for i in range(rows - 1, 0, -1):
        n = i + 1
        r = next(draws)
        while r < (1 << 64) % n:
            r = next(draws)
        j = r % n
        p[i], p[j] = p[j], p[i]
    return p


for rows, seed, epoch in ((10, 0, 0), (10, 0, 1), (10, 1, 0)):
    print(f"rows {rows} seed {seed} epoch {epoch}: {{{', '.join(map(str, order(rows, seed, epoch)))}}}")
