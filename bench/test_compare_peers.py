#!/usr/bin/env python3
"""Tests of bench/compare_peers.py on hand-made JSON lines, and of the peers' pure helpers
(bench/device_peaks.py, the FLOP counts of bench/peers.py) against hand counts. Standard
library only; runs on the CPU in well under a second:

    python3 bench/test_compare_peers.py      (ctest: ComparePeers, label bench)
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_peers  # noqa: E402
import device_peaks  # noqa: E402
import peers  # noqa: E402


def line(impl, tokens, config, status="ok", tps=None, peak=None, mfu=None, gpu="NVIDIA H200",
         **extra):
    return dict(bench="train", impl=impl, shape="tinyllama-1.1b", tokens=tokens, config=config,
                status=status, tokens_per_s=tps, peak_gib=peak, mfu=mfu, gpu=gpu,
                date="2026-11-27", mfu_convention="6N+6LTd", **extra)


def rows_of(text, heading):
    """The table rows (as lists of cells) that follow the first line starting with heading."""
    lines = text.split("\n")
    start = next(i for i, x in enumerate(lines) if x.startswith(heading))
    rows = []
    for x in lines[start + 1:]:
        if x.startswith("|") and not x.startswith("|---"):
            rows.append([c.strip() for c in x.strip("|").split("|")])
        elif rows and not x.startswith("|"):
            break
    return rows[1:]  # without the header


# The 32K figures on one H200: ours 27.6K at 61.5 GiB (auto) and, at the peer's
# checkpointed memory, a run with --budget-gib 30.4; transformers 18.6K with checkpointing at
# 30.4 GiB, 23.7K without at 98.9 GiB. At 64K the peer without checkpointing runs out of memory.
LINES = [
    line("longctx", 32768, "recompute auto", tps=27600, peak=61.5, mfu=0.42,
         recompute="none", recompute_requested="auto"),
    line("longctx", 32768, "recompute auto, budget 30.4 GiB", tps=21000, peak=29.0, mfu=0.32,
         recompute="full-keep-attention", recompute_requested="auto", budget_gib=30.4),
    line("transformers", 32768, "sdpa", tps=23700, peak=98.9, mfu=0.36),
    line("transformers", 32768, "sdpa, gradient checkpointing", tps=18600, peak=30.4, mfu=0.28),
    line("longctx", 65536, "recompute auto", tps=16000, peak=75.7, mfu=0.39,
         recompute="mlp", recompute_requested="auto"),
    line("longctx", 65536, "recompute auto, budget 48.2 GiB", status="does_not_fit",
         budget_gib=48.2, error="no --recompute option fits 48.2 GiB"),
    line("transformers", 65536, "sdpa", status="out_of_memory", error="CUDA out of memory"),
    line("transformers", 65536, "sdpa, gradient checkpointing", tps=11400, peak=48.2, mfu=None),
]


class ComparePeersTest(unittest.TestCase):
    def test_best_vs_best_takes_each_sides_fastest_completed_run(self):
        text = compare_peers.tables(LINES)
        rows = rows_of(text, "Best vs best")
        self.assertEqual(rows[0][0], "32,768")
        self.assertEqual(rows[0][1], "recompute auto (chose none)")
        self.assertEqual(rows[0][5], "sdpa")  # 23.7K without checkpointing, not 18.6K
        self.assertEqual(rows[0][9], "**1.16x**")  # 27600 / 23700
        # At 64K the peer's fastest that fits is the checkpointed one.
        self.assertEqual(rows[1][5], "sdpa, gradient checkpointing")
        self.assertEqual(rows[1][9], "**1.40x**")  # 16000 / 11400
        self.assertIn("Headline, best vs best: 32768: 1.16x, 65536: 1.40x.", text)

    def test_at_the_peers_memory_takes_our_fastest_run_within_its_peak(self):
        rows = rows_of(compare_peers.tables(LINES), "At the peer's memory")
        by_config = {(r[0], r[1]): r for r in rows}
        # 98.9 GiB: every run of ours fits; the fastest is auto.
        self.assertEqual(by_config["32,768", "sdpa"][9], "**1.16x**")
        # 30.4 GiB: only the budgeted run (29.0 GiB) is within it: 21000 / 18600.
        row = by_config["32,768", "sdpa, gradient checkpointing"]
        self.assertEqual(row[5], "recompute auto, budget 30.4 GiB (chose full-keep-attention)")
        self.assertEqual(row[9], "**1.13x**")
        # 48.2 GiB at 64K: our budgeted run was refused by the plan.
        row = by_config["65,536", "sdpa, gradient checkpointing"]
        self.assertEqual(row[5], "does not fit in 48.2 GiB")
        self.assertEqual(row[9], "")

    def test_runs_that_did_not_complete_are_named(self):
        text = compare_peers.tables(LINES)
        self.assertIn("65,536 tokens, transformers not completed: sdpa: out of memory", text)
        self.assertIn("65,536 tokens, ours not completed: recompute auto, budget 48.2 GiB: "
                      "does not fit", text)

    def test_no_peer_run_fits(self):
        lines = [line("longctx", 131072, "recompute auto", tps=7000, peak=40.7, mfu=0.3,
                      recompute="full", recompute_requested="auto"),
                 line("transformers", 131072, "sdpa, gradient checkpointing",
                      status="out_of_memory")]
        rows = rows_of(compare_peers.tables(lines), "Best vs best")
        self.assertEqual(rows[0][5], "none fits")
        self.assertEqual(rows[0][9], "")

    def test_unknown_mfu_and_one_table_per_gpu(self):
        lines = [line("longctx", 8192, "recompute auto", tps=50000, peak=31.3, mfu=None,
                      gpu="NVIDIA H800"),
                 line("transformers", 8192, "sdpa", tps=37600, peak=35.4, mfu=None,
                      gpu="NVIDIA H800")] + LINES
        text = compare_peers.tables(lines)
        self.assertIn("### train: tinyllama-1.1b on NVIDIA H200, longctx vs transformers", text)
        self.assertIn("### train: tinyllama-1.1b on NVIDIA H800, longctx vs transformers", text)
        h800 = text[text.index("on NVIDIA H800"):]
        self.assertEqual(rows_of(h800, "Best vs best")[0][4], "unknown")
        self.assertIn("MFU convention: 6N+6LTd.", text)

    def test_files_in_and_bad_lines_named(self):
        with tempfile.TemporaryDirectory() as d:
            good, bad = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
            with open(good, "w") as f:
                f.write("\n".join(json.dumps(x) for x in LINES) + "\n\n")
            self.assertEqual(len(compare_peers.read_lines([good])), len(LINES))
            with open(bad, "w") as f:
                f.write(json.dumps(LINES[0]) + "\n{\"bench\": \"train\"}\n")
            with self.assertRaises(SystemExit) as e:
                compare_peers.read_lines([bad])
            self.assertIn("b.jsonl:2: no \"impl\" key", str(e.exception))
            out = os.path.join(d, "tables.md")
            with open(os.devnull, "w") as devnull:
                stdout, sys.stdout = sys.stdout, devnull
                try:
                    self.assertEqual(compare_peers.main([good, "--out", out]), 0)
                finally:
                    sys.stdout = stdout
            with open(out) as f:
                self.assertIn("**1.16x**", f.read())


class PeerHelpersTest(unittest.TestCase):
    def test_device_peaks_by_reported_name(self):
        # The names and figures of src/longctx/base/device_peaks_test.cpp.
        known = {"NVIDIA H100 80GB HBM3": 989, "NVIDIA H100 PCIe": 756, "NVIDIA H100 NVL": 835,
                 "NVIDIA H200": 989, "NVIDIA H200 NVL": 835, "NVIDIA A100-SXM4-80GB": 312,
                 "NVIDIA A100-PCIE-40GB": 312, "NVIDIA A100 80GB PCIe": 312, "NVIDIA L40S": 362,
                 "NVIDIA L4": 121, "NVIDIA A10": 125, "NVIDIA GeForce RTX 4090": 165}
        for name, tflops in known.items():
            self.assertEqual(device_peaks.dense_bf16_peak_tflops(name), tflops, name)
        for name in ("NVIDIA A10G", "NVIDIA L40", "NVIDIA H800", "NVIDIA H100 80GB HBM3 MIG 1g.10gb",
                     "NVIDIA GeForce RTX 4090 D", "Tesla V100-SXM2-16GB", ""):
            self.assertIsNone(device_peaks.dense_bf16_peak_tflops(name), name)

    def test_flop_counts_by_hand(self):
        # TinyLlama: per layer attention 2048*64*(64+8) = 9,437,184, MLP 3*2048*5632.
        tiny = dict(hidden_size=2048, num_hidden_layers=22, num_attention_heads=32,
                    num_key_value_heads=4, intermediate_size=5632, vocab_size=32000)
        n = 22 * (9437184 + 34603008) + 2048 * 32000
        self.assertEqual(peers.matmul_parameters(tiny), n)
        self.assertEqual(peers.train_flops_per_token(tiny, 32768), 6 * n + 6 * 22 * 32768 * 2048)
        # The hand count of Llama.ExecutedPrefillFlopsCountWhatRuns (llama_test.cpp).
        small = dict(hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                     num_key_value_heads=1, head_dim=4, intermediate_size=16, vocab_size=10)
        self.assertEqual(peers.executed_prefill_flops(small, 0, 5, 1, 1), 6240 + 1824 + 160)
        self.assertEqual(peers.executed_prefill_flops(small, 3, 5, 0, 0), 2592 + 256)
        self.assertEqual(peers.executed_prefill_flops(small, 0, 5, 5, 5), 2 * 6240 + 5 * 160)


if __name__ == "__main__":
    unittest.main()
