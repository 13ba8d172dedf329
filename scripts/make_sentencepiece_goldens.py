#!/usr/bin/python3
"""Trains a tiny SentencePiece BPE model on the tokenizer text set and records golden ids.

Usage: /usr/bin/python3 scripts/make_sentencepiece_goldens.py [--texts DIR] [--out DIR]
  --texts  the text set (default tests/tokenizer/texts)
  --out    receives tiny_bpe.model and tiny_bpe.json (default tests/tokenizer/goldens)

Needs Debian's `sentencepiece` (spm_train) and `python3-sentencepiece` (hence /usr/bin/python3,
not a virtualenv's python), and node for scripts/make_big_document.js.

The model is trained with the spm_train CLI and flags in the style of Llama-2's tokenizer.model
(BPE, byte fallback, identity normalization, digits split, whitespace kept), small enough that
characters seen once or twice fall back to bytes. Training is single-threaded on unshuffled
input, so the same texts give the same model bytes.

tiny_bpe.json holds, per text (the same inputs as make_tokenizer_goldens.js: *.txt by name,
X.replaced.txt standing in for X.bin, then the big document): count, sha256 of the ids as
little-endian int32 bytes, the ids when count <= 5000, and for sp.decode(ids) its sha256 and
whether it gives back the input exactly.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import sentencepiece as spm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_INLINE_IDS = 5000
BIG_DOCUMENT_BYTES = 4000000
BIG_DOCUMENT_SEED = 20240315

SPM_TRAIN_FLAGS = [
    "--model_type=bpe",
    "--vocab_size=1600",
    "--character_coverage=0.98",
    "--byte_fallback=true",
    "--normalization_rule_name=identity",
    "--remove_extra_whitespaces=false",
    "--add_dummy_prefix=true",
    "--split_digits=true",
    "--allow_whitespace_only_pieces=true",
    "--max_sentencepiece_length=16",
    "--max_sentence_length=16384",
    "--input_sentence_size=0",
    "--shuffle_input_sentence=false",
    "--num_threads=1",
    "--random_seed=1",
    "--unk_id=0",
    "--bos_id=1",
    "--eos_id=2",
    "--pad_id=-1",
    "--minloglevel=2",
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ids_sha256(ids) -> str:
    return sha256(struct.pack("<%di" % len(ids), *ids))


def load_texts(texts_dir: str):
    """[(name, input, input_sha256, raw_sha256 or None, text)] in golden order."""
    texts = []
    for name in sorted(os.listdir(texts_dir)):
        if name.endswith(".replaced.txt"):
            continue
        if name.endswith(".txt"):
            raw = open(os.path.join(texts_dir, name), "rb").read()
            texts.append((name, name, sha256(raw), None, raw.decode("utf-8")))
        elif name.endswith(".bin"):
            raw = open(os.path.join(texts_dir, name), "rb").read()
            replaced_name = name[: -len(".bin")] + ".replaced.txt"
            replaced = open(os.path.join(texts_dir, replaced_name), "rb").read()
            if raw.decode("utf-8", "replace").encode("utf-8") != replaced:
                sys.exit(f"make_sentencepiece_goldens: error: {replaced_name} is not "
                         f"{name}.decode('utf-8', 'replace'); regenerate it (texts/README.md)")
            texts.append((name, replaced_name, sha256(replaced), sha256(raw), replaced.decode("utf-8")))
    with tempfile.TemporaryDirectory() as tmp:
        big_path = os.path.join(tmp, "big_document.txt")
        subprocess.run(["node", os.path.join(REPO, "scripts", "make_big_document.js"), big_path,
                        "--texts", texts_dir, "--bytes", str(BIG_DOCUMENT_BYTES),
                        "--seed", str(BIG_DOCUMENT_SEED)], check=True)
        big = open(big_path, "rb").read()
    texts.append(("big_document",
                  f"scripts/make_big_document.js OUT --bytes {BIG_DOCUMENT_BYTES} --seed {BIG_DOCUMENT_SEED}",
                  sha256(big), None, big.decode("utf-8")))
    return texts


def train(texts_dir: str, model_path: str):
    inputs = [os.path.join(texts_dir, n) for n in sorted(os.listdir(texts_dir))
              if n.endswith(".txt") and not n.endswith(".replaced.txt")]
    names = [os.path.basename(p) for p in inputs]
    # The model stores its trainer flags, input and model_prefix included: train in a scratch
    # folder on copies, with relative names, so that no absolute path ends up in the model bytes.
    with tempfile.TemporaryDirectory() as tmp:
        for path in inputs:
            shutil.copyfile(path, os.path.join(tmp, os.path.basename(path)))
        cmd = ["spm_train", "--input=" + ",".join(names), "--model_prefix=tiny_bpe"] + SPM_TRAIN_FLAGS
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
        shutil.copyfile(os.path.join(tmp, "tiny_bpe.model"), model_path)
    return names


def golden_text(golden) -> str:
    """JSON with each ids array on one line."""
    text = json.dumps(golden, indent=2, ensure_ascii=False)
    return re.sub(r'"ids": \[[^\]]*\]',
                  lambda m: '"ids": [' + ",".join(re.findall(r"-?\d+", m.group(0)[7:])) + "]", text) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", default=os.path.join(REPO, "tests", "tokenizer", "texts"))
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "tokenizer", "goldens"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    model_path = os.path.join(args.out, "tiny_bpe.model")
    trained_on = train(args.texts, model_path)
    model_bytes = open(model_path, "rb").read()
    sp = spm.SentencePieceProcessor(model_file=model_path)
    spm_version = subprocess.run(["spm_train", "--version"], capture_output=True, text=True).stdout.strip()

    golden = {
        "format": "longctx-tokenizer-golden",
        "version": 1,
        "tokenizer": "tiny_bpe",
        "model_file": "tiny_bpe.model",
        "model_sha256": sha256(model_bytes),
        "vocab_size": sp.get_piece_size(),
        "special_ids": {"unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id(), "pad": sp.pad_id()},
        "trained_on": trained_on,
        "spm_train_flags": SPM_TRAIN_FLAGS,
        "reference": {
            "implementation": f"Debian python3-sentencepiece {spm.__version__} ({spm_version})",
            "encode": "sp.encode(text)  # out_type=int, no BOS/EOS, no sampling",
            "decode": "sp.decode(ids)",
            "ids_sha256": "sha256 of the ids as consecutive little-endian int32",
            "ids_inline_up_to": MAX_INLINE_IDS,
        },
        "texts": [],
    }
    for name, input_name, input_sha, raw_sha, text in load_texts(args.texts):
        ids = sp.encode(text)
        decoded = sp.decode(ids)
        entry = {"name": name, "input": input_name, "input_sha256": input_sha}
        if raw_sha:
            entry["raw_sha256"] = raw_sha
        result = {
            "count": len(ids),
            "ids_sha256": ids_sha256(ids),
            "decoded_sha256": sha256(decoded.encode("utf-8")),
            "roundtrip": decoded == text,
        }
        if len(ids) <= MAX_INLINE_IDS:
            result["ids"] = ids
        entry["encode"] = result
        golden["texts"].append(entry)

    out_path = os.path.join(args.out, "tiny_bpe.json")
    text = golden_text(golden)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"make_sentencepiece_goldens: {model_path} ({len(model_bytes)} bytes, {sp.get_piece_size()} pieces), "
          f"{out_path} ({len(text.encode('utf-8'))} bytes)")


if __name__ == "__main__":
    main()
