#!/usr/bin/env python3
"""Do models saved by longctx load in transformers with the same logits? (issue 5)

The GPU test Checkpoint.ExportSavedModelsForTransformers writes, under EXPORT_DIR, model
directories saved by our save_model (float32 and bfloat16, sharded) with ours.safetensors: the
ids and our float32 CPU logits. This loads each directory with transformers' from_pretrained
(AutoModelForCausalLM, float32, CPU), runs the ids, and compares:

  float32 files: relative error of the logits < 1e-5 (the same weights, bit for bit)
  bfloat16 files: < 2e-2 (the weights were rounded to bf16 when saved)

Every directory the test writes must be there: a missing one is a failure, so an export that
wrote nothing cannot pass.

Usage: python3 scripts/gpu/check_saved_models.py EXPORT_DIR   (exit 1 on any failure)
"""
import os
import sys

import torch
import transformers
from safetensors.torch import load_file


# What Checkpoint.ExportSavedModelsForTransformers writes (llama_gpu_test.cpp).
EXPECTED = [f"{variant}_{dtype}" for variant in ("gqa_theta500k", "llama3", "mqa_tied", "yarn")
            for dtype in ("float32", "bfloat16")]


def main():
    root = sys.argv[1]
    failures = 0
    present = set(os.listdir(root)) if os.path.isdir(root) else set()
    for name in EXPECTED:
        if name not in present:
            failures += 1
            print(f"{name:28s} MISSING (the export test did not write it)")
    for name in sorted(os.listdir(root) if os.path.isdir(root) else []):
        path = os.path.join(root, name)
        if not os.path.isdir(path):
            continue
        ours = load_file(os.path.join(path, "ours.safetensors"))
        model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(ours["ids"]).logits.float()
        rel = ((logits.double() - ours["logits"].double()).norm() / ours["logits"].double().norm()).item()
        limit = 1e-5 if name.endswith("float32") else 2e-2
        ok = rel < limit
        failures += not ok
        print(f"{name:28s} relative error {rel:.2e} (limit {limit:.0e}) {'ok' if ok else 'DIFFERS'}")
    print(f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
