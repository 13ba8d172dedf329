#!/usr/bin/env python3
"""Ours beside a peer, from the benchmarks' JSON lines (bench/README.md, "JSON lines"):
markdown tables per benchmark, shape and GPU, one row per row length.

  1. Best vs best (the headline): our fastest run that completed beside the peer's fastest
     configuration that completed (one that ran out of memory does not fit).
  2. At the peer's memory: for each configuration of the peer that completed, our fastest run
     whose peak memory was no higher than that configuration's peak (ours run with
     --budget-gib at the peer's peak, so the plan picks the recompute that fits it).

Ratios are ours over the peer in tokens/s. MFU is printed with the convention the lines name
("6N+6LTd": RECIPE.md section 5, per trained token; "executed-forward": the forward FLOPs that
ran), "unknown" where the peak of the GPU was not known. Standard library only.

Usage: python3 bench/compare_peers.py ours.jsonl peer.jsonl [more.jsonl ...] [--out FILE]
"""
import argparse
import json
import sys
from collections import defaultdict

OURS = "longctx"


def read_lines(paths):
    lines = []
    for path in paths:
        with open(path) as f:
            for number, text in enumerate(f, 1):
                text = text.strip()
                if not text:
                    continue
                try:
                    line = json.loads(text)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"compare_peers: {path}:{number}: not JSON ({e})")
                for key in ("bench", "impl", "shape", "tokens", "status"):
                    if key not in line:
                        raise SystemExit(f"compare_peers: {path}:{number}: no \"{key}\" key")
                lines.append(line)
    return lines


def completed(lines):
    return [x for x in lines if x["status"] == "ok" and x.get("tokens_per_s")]


def fastest(lines):
    done = completed(lines)
    return max(done, key=lambda x: x["tokens_per_s"]) if done else None


def mfu_text(line):
    if line.get("mfu") is None:
        return "unknown"
    return f"{100 * line['mfu']:.1f}%"


def run_text(line):
    """tokens/s, peak GiB, MFU of one line."""
    return (f"{line['tokens_per_s']:,.0f}", f"{line['peak_gib']:.1f}", mfu_text(line))


def ours_config(line):
    """Our run's label, with the recompute the plan chose where it chose one."""
    text = line.get("config", "")
    chosen = line.get("recompute")
    if chosen and chosen != line.get("recompute_requested"):
        text += f" (chose {chosen})"
    return text


def ratio(ours, peer):
    return f"**{ours['tokens_per_s'] / peer['tokens_per_s']:.2f}x**"


def not_run(lines):
    """The configurations that did not complete at this length, and why."""
    notes = []
    for x in lines:
        if x["status"] != "ok":
            notes.append(f"{x.get('config', '?')}: {x['status'].replace('_', ' ')}")
    return "; ".join(notes)


def conventions(lines):
    found = sorted({x.get("mfu_convention") or "unstated" for x in lines})
    return ", ".join(found)


def group_key(line):
    return line["bench"], line["shape"], line.get("gpu", "unknown GPU")


def table_head(title, first, second):
    """A table's title and header: tokens, then two sides of configuration, tokens/s, peak
    GiB and MFU each, then the ratio."""
    cells = " | ".join(f"{side} | tokens/s | peak GiB | MFU" for side in (first, second))
    return [title, "", f"| tokens | {cells} | ours/peer |",
            "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|"]


def best_table(peer, by_length):
    """Best vs best, and the headline sentence."""
    out = table_head("Best vs best (each side's fastest run that completed):",
                     "ours: configuration", f"{peer}: fastest configuration")
    headline = []
    for t in sorted(by_length):
        ours, theirs = by_length[t]
        a, b = fastest(ours), fastest(theirs)
        left = (ours_config(a), *run_text(a)) if a else ("no run completed", "", "", "")
        right = (b["config"], *run_text(b)) if b else ("none fits", "", "", "")
        r = ratio(a, b) if a and b else ""
        if r:
            headline.append(f"{t}: {r.strip('*')}")
        out.append(f"| {t:,} | " + " | ".join(left) + " | " + " | ".join(right) + f" | {r} |")
    out.append("")
    if headline:
        out += ["Headline, best vs best: " + ", ".join(headline) + ".", ""]
    return out


def memory_table(peer, by_length):
    """Each peer configuration beside our fastest run within its peak, then what did not run."""
    out = table_head(f"At the peer's memory (our fastest run whose peak is no higher than the "
                     f"{peer} configuration's):", f"{peer}: configuration", "ours: configuration")
    notes = []
    for t in sorted(by_length):
        ours, theirs = by_length[t]
        for b in sorted(completed(theirs), key=lambda x: -x["tokens_per_s"]):
            a = fastest([x for x in completed(ours) if x["peak_gib"] <= b["peak_gib"]])
            if a:
                right, r = (ours_config(a), *run_text(a)), ratio(a, b)
            else:
                refused = [x for x in ours if x["status"] == "does_not_fit" and
                           x.get("budget_gib") is not None and
                           abs(x["budget_gib"] - b["peak_gib"]) < 0.05]
                what = "does not fit in " if refused else "no run of ours within "
                right, r = (f"{what}{b['peak_gib']:.1f} GiB", "", "", ""), ""
            out.append(f"| {t:,} | {b['config']} | " + " | ".join(run_text(b)) + " | " +
                       " | ".join(right) + f" | {r} |")
        for side, lines in ((peer, theirs), ("ours", ours)):
            missing = not_run(lines)
            if missing:
                notes.append(f"- {t:,} tokens, {side} not completed: {missing}")
    out.append("")
    return out + notes + ([""] if notes else [])


def tables(lines):
    """The markdown text for every (benchmark, shape, GPU) in the lines."""
    groups = defaultdict(list)
    for line in lines:
        groups[group_key(line)].append(line)
    out = []
    for (bench, shape, gpu), group in sorted(groups.items()):
        peers = sorted({x["impl"] for x in group if x["impl"] != OURS})
        dates = ", ".join(sorted({x.get("date", "?") for x in group}))
        versions = sorted({json.dumps(x["versions"], sort_keys=True) for x in group
                           if x.get("versions")}) or ["not recorded"]
        for peer in peers:
            by_length = defaultdict(lambda: ([], []))
            for x in group:
                if x["impl"] in (OURS, peer):
                    by_length[x["tokens"]][0 if x["impl"] == OURS else 1].append(x)
            out += [f"### {bench}: {shape} on {gpu}, longctx vs {peer}", "",
                    f"Measured {dates}; versions: {'; '.join(versions)}. "
                    f"MFU convention: {conventions(group)}.", ""]
            out += best_table(peer, by_length)
            out += memory_table(peer, by_length)
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--out", help="also write the tables to this file")
    a = p.parse_args(argv)
    text = tables(read_lines(a.files))
    if not text:
        print("compare_peers: no lines of ours and a peer to compare", file=sys.stderr)
        return 1
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
