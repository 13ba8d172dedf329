#!/usr/bin/env python3
"""Goldens for `longctx eval` (issue 24), made by transformers from the committed fixture models.

For every model under tests/model/fixtures/ (made by scripts/gpu/make_model_fixtures.py), in
float32 on the CPU (the default; --device cuda runs float32 on the GPU instead):

  token_losses   per-token next-token losses of fixed token rows, from one forward of each
                 whole row: losses[r][p] = -log_softmax(logits[r, p])[rows[r][p + 1]]
  mmlu           continuation log-likelihoods of literal MMLU-style prompts, scored as
                 lm-evaluation-harness's HFLM scores them: the input is
                 (context + continuation)[:-1] and the log-likelihood the sum of
                 log_softmax(logits)[len(context) - 1 + k][continuation[k]] over the
                 continuation's tokens k.

The rows are drawn from --seed with Python's own random module and written into the golden, as
are the prompts' ids (bytes of a literal text + 3, BOS 1, so no tokenizer is needed and every
id is below the fixtures' vocabulary of 256), so the C++ tests read the inputs from the file.

Usage (PyTorch 2.x, transformers 5; no network; a minute on a CPU):
  python3 scripts/gpu/make_eval_goldens.py tests/model/fixtures tests/eval/goldens.json
The C++ test is EvalGoldens.* in longctx_eval_native_tests (src/longctx/eval/eval_goldens_test.cpp).
"""
import argparse
import json
import os
import random
import sys

import torch
import transformers

ROWS, ROW_TOKENS = 3, 80


def byte_ids(text):
    """BOS 1, then each byte of the text + 3 (ASCII only: every id below 131)."""
    data = text.encode("ascii")
    return [1] + [b + 3 for b in data]


def text_ids(text):
    """The bytes of a text + 3, without BOS (for continuations)."""
    return [b + 3 for b in text.encode("ascii")]


PREFIX = ("The following are multiple choice questions (with answers) about anatomy.\n\n"
          "Which bone is the longest?\nA. Femur\nB. Tibia\nC. Ulna\nD. Rib\nAnswer: A\n\n")

# (context text, continuation texts): single-token continuations ("A" as one byte after the
# context), then " A".." D" as two bytes each (the multi-token case), then lengths 1 to 3.
PROMPTS = [
    (PREFIX + "Where is the patella?\nA. Arm\nB. Knee\nC. Skull\nD. Foot\nAnswer: ",
     ["A", "B", "C", "D"]),
    (PREFIX + "How many chambers has the heart?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer:",
     [" A", " B", " C", " D"]),
    ("Q: 2+2?\nAnswer:", [" 4", " four", "4", " D"]),
]


def mmlu_requests():
    out = []
    for context, continuations in PROMPTS:
        out.append({"context": byte_ids(context),
                    "continuations": [text_ids(c) for c in continuations]})
    return out


def loglikelihood(model, context, continuation, device):
    ids = torch.tensor([(context + continuation)[:-1]], device=device)
    with torch.no_grad():
        lp = torch.log_softmax(model(ids).logits.float(), dim=-1)[0]
    return sum(float(lp[len(context) - 1 + k, t]) for k, t in enumerate(continuation))


def token_losses(model, rows, device):
    ids = torch.tensor(rows, device=device)
    with torch.no_grad():
        lp = torch.log_softmax(model(ids).logits.float(), dim=-1)  # [R, T, V]
    picked = lp[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (-picked).cpu().tolist()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("fixtures", help="tests/model/fixtures")
    p.add_argument("out", help="tests/eval/goldens.json")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()

    rng = random.Random(a.seed)
    rows = [[rng.randrange(3, 256) for _ in range(ROW_TOKENS)] for _ in range(ROWS)]
    requests = mmlu_requests()
    golden = {"format": "longctx.eval-goldens.v1",
              "transformers": transformers.__version__,
              "torch": torch.__version__,
              "device": a.device,
              "seed": a.seed,
              "rows": rows,
              "mmlu_requests": requests,
              "models": {}}
    names = sorted(n for n in os.listdir(a.fixtures)
                   if os.path.isfile(os.path.join(a.fixtures, n, "config.json")))
    if not names:
        sys.exit(f"no fixture models under {a.fixtures}")
    for name in names:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            os.path.join(a.fixtures, name), dtype=torch.float32).to(a.device).eval()
        golden["models"][name] = {
            "token_losses": token_losses(model, rows, a.device),
            "mmlu_loglikelihoods": [[loglikelihood(model, r["context"], c, a.device)
                                     for c in r["continuations"]] for r in requests],
        }
        print(name, "mean loss", sum(map(sum, golden["models"][name]["token_losses"])) /
              (ROWS * (ROW_TOKENS - 1)), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
