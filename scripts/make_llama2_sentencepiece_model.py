#!/usr/bin/python3
"""Builds a SentencePiece BPE model (tokenizer.model) from Llama-2's HF tokenizer.json.

Usage: /usr/bin/python3 scripts/make_llama2_sentencepiece_model.py [--json PATH] [--out PATH]
                                                               [--golden PATH] [--texts DIR]
  --json    Llama-2's tokenizer.json (default: the cache of scripts/fetch_tokenizers.sh)
  --out     where to write the model (default: tokenizer.model beside --json)
  --golden  HF reference ids to check the model against (tests/tokenizer/goldens/llama2.json)
  --texts   the text set those ids were made from (tests/tokenizer/texts)

Why: the benchmark compares our tokenizer with libsentencepiece, and no registry we can reach
ships Llama-2's own tokenizer.model. An HF BPE file holds a vocabulary and ranked merges, no
scores; SentencePiece's BPE instead merges, at each step, the adjacent pair whose joined piece
has the highest score (the leftmost on ties). So each piece gets as its score minus the rank of
the first merge that makes it. In Llama-2's file every split of a piece into two pieces is a
merge (the converter wrote them all), and a piece's merges sit together in rank order, so the
two orders agree: except for the pieces made of several "▁" (all ranked last by the converter,
with their splits interleaved), where SentencePiece can only keep one rank per piece. The
model is written only if libsentencepiece then gives exactly the reference ids on every text of
the golden set (HF tokenizers with special tokens as plain text, which is also SentencePiece's
behaviour), the ~4 MB big document included; any disagreement is printed and the exit status
is 1.

Model contents: pieces in id order with types (<unk> UNKNOWN, <s> </s> CONTROL, <0x00>..<0xFF>
BYTE, the rest NORMAL); trainer_spec model_type BPE, vocab_size, byte_fallback, unk/bos/eos ids
0/1/2, no pad; normalizer_spec "identity" with add_dummy_prefix, escape_whitespaces and
remove_extra_whitespaces=false, as in Llama-2's own model. The protobuf wire format is written
by hand (field numbers from sentencepiece_model.proto): the sentencepiece_model_pb2 module that
python3-sentencepiece ships needs python3-protobuf, which the project does not install. Deterministic: the same tokenizer.json gives the same bytes.

Needs /usr/bin/python3 with Debian's python3-sentencepiece (for the check), and node for
scripts/make_big_document.js.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "longctx", "tokenizers")
MARKER = "\u2581"

# sentencepiece_model.proto
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
MODEL_TYPE_BPE = 2


def fail(message):
    sys.exit(f"make_llama2_sentencepiece_model: error: {message}")


# --- protobuf wire format ---------------------------------------------------------------

def varint(value):
    value &= (1 << 64) - 1  # negative int32 fields are written as 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3 | 0) + varint(value)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_float(number, value):
    return varint(number << 3 | 5) + struct.pack("<f", value)


def sentence_piece(piece, score, kind):
    return field_bytes(1, piece.encode("utf-8")) + field_float(2, score) + field_varint(3, kind)


def trainer_spec(vocab_size):
    return (field_varint(3, MODEL_TYPE_BPE) + field_varint(4, vocab_size) +
            field_varint(35, 1) +                      # byte_fallback
            field_varint(40, 0) + field_varint(41, 1) + field_varint(42, 2) +  # unk, bos, eos
            field_varint(43, -1) +                     # pad_id: none
            field_bytes(45, b"<unk>") + field_bytes(46, b"<s>") + field_bytes(47, b"</s>"))


def normalizer_spec():
    return (field_bytes(1, b"identity") + field_varint(3, 1) +  # add_dummy_prefix
            field_varint(4, 0) + field_varint(5, 1))             # remove_extra_ws, escape_ws


# --- from tokenizer.json ----------------------------------------------------------------

def load_tokenizer_json(path):
    config = json.load(open(path, encoding="utf-8"))
    model = config["model"]
    if model.get("type", "BPE") != "BPE" or not model.get("byte_fallback"):
        fail(f"{path}: not a SentencePiece-style BPE model with byte fallback")
    normalizers = config["normalizer"].get("normalizers", [config["normalizer"]])
    if [n["type"] for n in normalizers] != ["Prepend", "Replace"] or config["pre_tokenizer"]:
        fail(f"{path}: expected Llama-2's normalizer Prepend('▁') + Replace(' ', '▁') and no "
             "pre-tokenizer")
    vocab = model["vocab"]
    pieces = [None] * len(vocab)
    for piece, i in vocab.items():
        pieces[i] = piece
    if None in pieces:
        fail(f"{path}: vocabulary ids are not 0..{len(vocab) - 1}")
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return pieces, merges


def scores_from_merges(pieces, merges):
    """Score of each piece: minus the rank of the first merge that makes it."""
    vocab = {p: i for i, p in enumerate(pieces)}
    first_rank, ranks = {}, {}
    for rank, (left, right) in enumerate(merges):
        joined = left + right
        if left not in vocab or right not in vocab or joined not in vocab:
            fail(f"merge #{rank} {left!r} {right!r} refers to a piece missing from the vocabulary")
        first_rank.setdefault(joined, rank)
        ranks.setdefault(joined, []).append(rank)
    # SentencePiece considers every split of a piece into two pieces; HF only listed merges.
    listed = set(merges)
    for piece in pieces:
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab and (left, right) not in listed:
                fail(f"{piece!r} splits into pieces {left!r} + {right!r} with no merge: "
                     "SentencePiece would join them, HF would not")
    interleaved = [p for p, r in ranks.items() if r[-1] - r[0] + 1 != len(r)]
    # Pieces no merge makes (characters, bytes, control tokens) are never joined results.
    lowest = -float(len(merges) + 1)
    scores = [-float(first_rank[p]) if p in first_rank else lowest for p in pieces]
    return scores, interleaved


def piece_type(i, piece):
    if piece == "<unk>":
        return UNKNOWN
    if piece in ("<s>", "</s>"):
        return CONTROL
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return BYTE
    return NORMAL


def model_bytes(pieces, scores):
    body = b"".join(field_bytes(1, sentence_piece(p, s, piece_type(i, p)))
                    for i, (p, s) in enumerate(zip(pieces, scores)))
    return body + field_bytes(2, trainer_spec(len(pieces))) + field_bytes(3, normalizer_spec())


# --- check against the reference ids -----------------------------------------------------

def golden_inputs(golden, texts_dir):
    """(name, text) for each golden entry: a text file, or the generated big document."""
    for entry in golden["texts"]:
        if entry["name"] == "big_document":
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "big.txt")
                # "scripts/make_big_document.js OUT --bytes N --seed S"
                args = entry["input"].split()[2:]
                subprocess.run(["node", os.path.join(REPO, "scripts", "make_big_document.js"), out,
                                "--texts", texts_dir] + args, check=True)
                text = open(out, "rb").read()
        else:
            text = open(os.path.join(texts_dir, entry["input"]), "rb").read()
        if hashlib.sha256(text).hexdigest() != entry["input_sha256"]:
            fail(f"{entry['name']}: input differs from the one the golden was made from")
        yield entry, text.decode("utf-8")


def check(model_path, golden_path, texts_dir):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model_path)
    golden = json.load(open(golden_path, encoding="utf-8"))
    disagreements = 0
    for entry, text in golden_inputs(golden, texts_dir):
        want = entry["split_special"]
        ids = sp.encode(text)
        sha = hashlib.sha256(struct.pack("<%di" % len(ids), *ids)).hexdigest()
        same = sha == want["ids_sha256"]
        detail = ""
        if not same:
            disagreements += 1
            if "ids" in want:
                first = next((k for k, (a, b) in enumerate(zip(ids, want["ids"])) if a != b),
                             min(len(ids), len(want["ids"])))
                got = ids[first:first + 6]
                detail = (f": first difference at id #{first}: sentencepiece {got} "
                          f"{[sp.id_to_piece(i) for i in got]}, reference "
                          f"{want['ids'][first:first + 6]}")
        print(f"  {entry['name']:<24} {len(ids):>8} ids  reference {want['count']:>8}  "
              f"{'same' if same else 'DIFFERENT'}{detail}")
    return disagreements


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", default=os.path.join(CACHE, "llama2", "tokenizer.json"))
    parser.add_argument("--out")
    parser.add_argument("--golden", default=os.path.join(REPO, "tests", "tokenizer", "goldens",
                                                         "llama2.json"))
    parser.add_argument("--texts", default=os.path.join(REPO, "tests", "tokenizer", "texts"))
    args = parser.parse_args()
    out = args.out or os.path.join(os.path.dirname(args.json), "tokenizer.model")

    golden = json.load(open(args.golden, encoding="utf-8"))
    json_sha = hashlib.sha256(open(args.json, "rb").read()).hexdigest()
    if json_sha != golden["tokenizer_json_sha256"]:
        fail(f"{args.json} has sha256 {json_sha}, the golden was made from "
             f"{golden['tokenizer_json_sha256']}")
    pieces, merges = load_tokenizer_json(args.json)
    scores, interleaved = scores_from_merges(pieces, merges)
    data = model_bytes(pieces, scores)
    print(f"make_llama2_sentencepiece_model: {len(pieces)} pieces, {len(merges)} merges; "
          f"{len(interleaved)} pieces (all '▁' runs) have interleaved merges")

    with tempfile.TemporaryDirectory() as tmp:
        candidate = os.path.join(tmp, "tokenizer.model")
        with open(candidate, "wb") as f:
            f.write(data)
        print("make_llama2_sentencepiece_model: libsentencepiece vs "
              f"{os.path.basename(args.golden)} (split_special):")
        disagreements = check(candidate, args.golden, args.texts)
    if disagreements:
        sys.exit(f"make_llama2_sentencepiece_model: error: {disagreements} texts differ; "
                 f"{out} not written")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out + ".tmp", out)
    print(f"make_llama2_sentencepiece_model: wrote {out} ({len(data)} bytes, sha256 "
          f"{hashlib.sha256(data).hexdigest()})")


if __name__ == "__main__":
    main()
