#!/usr/bin/python3
"""Single-process Python port of the reference mixture builder, the peer of `longctx mix`.

The reference is data_engineering/slimpajama_packing.py (+ utils.py) of
FranxYao/Long-Context-Data-Engineering, the released code of Fu et al. 2024. This port keeps
its selection and packing rules and drops its process plumbing:

  * numpy's global RNG seeded with 15213 (legacy MT19937 seeding, `random()` doubles); this
    file rebuilds that exact generator with the standard library (see `numpy_legacy_rng`);
  * documents are streamed in order: files in sorted path order, then line order (the
    reference shuffles a Hugging Face stream with seed 42; longctx reads in order, and so does
    this port, so both sides see the same stream);
  * length estimate dlen = code points / 3.68 (a float), "long" means dlen >= 4096;
  * modes (`--mode`):
      none                      keep every document; stop once the kept estimate exceeds the budget
      global                    a short document is dropped when random() > ratio; same stop rule
      per_source                budget per source = total x SlimPajama share; a source over its
                                budget takes no more documents (no random draw); a short document
                                is dropped when random() > ratio; stop once every source has at
                                least its budget
      upsample_code_arxiv_book  per_source with Github, ArXiv and Book weighted 0.6, normalised
    (longctx's names original, global, per-source and fu2024-code are accepted too);
  * kept documents are tokenized with SentencePiece (the library the reference's slow
    LlamaTokenizer wraps), BOS before each document, no EOS, concatenated; a row of
    `--chunk-size` tokens is cut whenever the buffer holds at least chunk size + 1 tokens, with
    the (source, start, end) spans of the pieces it holds; the last partial row is dropped.

Differences that do not change the algorithm: one process instead of tokenizer and writer
processes talking over pipes (the reference's row order depends on process timing, this
port's does not); bad input (invalid JSON or UTF-8, missing fields, whitespace-only text) is
skipped and counted the way longctx does, where the reference would stop; text that looks like
a special token (`</s>`) is ordinary text, as in longctx's default (the Hugging Face slow
tokenizer would turn it into the control id); rows are written without the reference's
`labels` field (the token after the row).

Standard library + Debian's python3-sentencepiece only; .zst input is decompressed by
`zstd -dc`. Prints one JSON line with the run's figures on stdout.

  /usr/bin/python3 bench/mix_reference.py CORPUS_DIR --mode per_source --budget 20M \\
      --chunk-size 81920 --model tokenizer.model --out rows.jsonl
"""

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time

CHARS_PER_TOKEN = 3.68  # the reference's LLAMA_CHAR_TO_TOKEN_RATIO
LONG_DOCUMENT = 4096  # estimated tokens
SEED = 15213

# SlimPajama's original token shares, keyed by meta.redpajama_set_name (RECIPE.md section 2),
# in the reference table's order.
SLIMPAJAMA_SHARES = {
    "RedPajamaC4": 0.26609933,
    "RedPajamaCommonCrawl": 0.53374772,
    "RedPajamaStackExchange": 0.03169647,
    "RedPajamaWikipedia": 0.03402128,
    "RedPajamaGithub": 0.05004782,
    "RedPajamaArXiv": 0.04290379,
    "RedPajamaBook": 0.0414836,
}
# The released code's "upsample_code_arxiv_book" weights (normalised before use).
CODE_ARXIV_BOOK_WEIGHTS = dict(SLIMPAJAMA_SHARES, RedPajamaGithub=0.6, RedPajamaArXiv=0.6,
                               RedPajamaBook=0.6)

MODES = {
    "none": "none", "original": "none",
    "global": "global",
    "per_source": "per_source", "per-source": "per_source",
    "upsample_code_arxiv_book": "upsample_code_arxiv_book",
    "fu2024-code": "upsample_code_arxiv_book",
}

SUFFIXES = (".jsonl", ".jsonl.zst", ".jsonl.gz", ".json.zst", ".json.gz")
WHITESPACE = " \n\t\r\f\v"  # longctx's has_content() set


def numpy_legacy_rng(seed):
    """A random.Random whose random() equals numpy's after np.random.seed(seed).

    numpy's legacy seeding of an integer is MT19937's init_genrand (Python's own seed() uses
    init_by_array instead), with the position at 624 so the first draw regenerates the state;
    both libraries turn two 32-bit outputs a, b into (a >> 5) * 2**26 + (b >> 6) over 2**53.
    """
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError("seed must be in [0, 2**32)")
    state = [seed]
    for i in range(1, 624):
        prev = state[-1]
        state.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, tuple(state) + (624,), None))
    return rng


def parse_budget(text):
    """'5B', '5b', '500M', '20k', '2e9', '1.5B' or a plain integer, in tokens."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBtT]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"bad budget '{text}' (examples: 5B, 500M, 2e9)")
    scale = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}[match.group(2).lower()]
    value = round(float(match.group(1)) * scale)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"budget must be positive, got '{text}'")
    return value


def corpus_files(inputs):
    """Input files in longctx's order: directories read recursively, paths sorted by component."""
    found = set()
    for path in inputs:
        if os.path.isdir(path):
            for root, _, names in os.walk(path, followlinks=True):
                for name in names:
                    full = os.path.join(root, name)
                    if name.endswith(SUFFIXES) and os.path.isfile(full):
                        found.add(full)
        elif os.path.isfile(path):
            if not path.endswith(SUFFIXES):
                sys.exit(f"mix_reference: {path}: unsupported file type (want {', '.join(SUFFIXES)})")
            found.add(path)
        else:
            sys.exit(f"mix_reference: {path}: no such file or directory")
    if not found:
        sys.exit(f"mix_reference: no corpus files in {', '.join(inputs)}")
    return sorted(found, key=lambda p: p.split(os.sep))


class LineSource:
    """Raw lines of one file; .zst through a `zstd -dc` child process."""

    def __init__(self, path):
        self.path = path
        self.process = None
        if path.endswith(".zst"):
            self.process = subprocess.Popen(["zstd", "-dcq", "--", path], stdout=subprocess.PIPE,
                                            bufsize=1 << 20)
            self.stream = self.process.stdout
        elif path.endswith(".gz"):
            self.stream = gzip.open(path, "rb")
        else:
            self.stream = open(path, "rb", buffering=1 << 20)

    def close(self):
        """Closes the file; returns False when the decompressor reported a broken stream."""
        self.stream.close()
        if self.process is not None:
            if self.process.poll() is None:  # stopped early: the budget was met
                self.process.kill()
                self.process.wait()
                return True
            return self.process.returncode == 0
        return True


def field(record, dotted):
    for key in dotted:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


def documents(files, text_key, domain_key, issues):
    """Yields (file_index, line, text, domain) for every good record, counting bad ones."""
    text_path = text_key.split(".")
    domain_path = domain_key.split(".")
    loads = json.loads
    for file_index, path in enumerate(files):
        source = LineSource(path)
        finished = False
        try:
            for line_number, raw in enumerate(source.stream, 1):
                if not raw.strip(b" \n\t\r\f\v"):
                    continue  # blank lines are not records
                try:
                    record = loads(raw)
                except UnicodeDecodeError:
                    issues["invalid_utf8"] = issues.get("invalid_utf8", 0) + 1
                    continue
                except ValueError:
                    issues["invalid_json"] = issues.get("invalid_json", 0) + 1
                    continue
                if not isinstance(record, dict):
                    issues["invalid_json"] = issues.get("invalid_json", 0) + 1
                    continue
                text = field(record, text_path)
                domain = field(record, domain_path)
                reason = None
                if text is None:
                    reason = "missing_text"
                elif not isinstance(text, str):
                    reason = "non_string_text"
                elif domain is None:
                    reason = "missing_domain"
                elif not isinstance(domain, str):
                    reason = "non_string_domain"
                elif not text.strip(WHITESPACE):
                    reason = "empty_document"
                if reason:
                    issues[reason] = issues.get(reason, 0) + 1
                    continue
                yield file_index, line_number, text, domain
            finished = True
        finally:
            ok = source.close()
            if finished and not ok:
                issues["corrupt_stream"] = issues.get("corrupt_stream", 0) + 1


class Packer:
    """The reference's writer: concatenates token lists, cuts rows of chunk_size tokens."""

    def __init__(self, chunk_size, out):
        self.chunk_size = chunk_size
        self.out = out
        self.buffer = []
        self.spans = []
        self.rows = 0
        self.row_tokens_by_source = {}

    def add(self, ids, source):
        start = len(self.buffer)
        self.buffer.extend(ids)
        self.spans.append({"source": source, "start": start, "end": len(self.buffer)})
        chunk = self.chunk_size
        while len(self.buffer) >= chunk + 1:
            row_spans, rest = [], []
            for span in self.spans:
                if span["end"] <= chunk:
                    row_spans.append(span)
                elif span["start"] < chunk:
                    row_spans.append({"source": span["source"], "start": span["start"], "end": chunk})
                    rest.append({"source": span["source"], "start": 0, "end": span["end"] - chunk})
                else:
                    rest.append({"source": span["source"], "start": span["start"] - chunk,
                                 "end": span["end"] - chunk})
            for span in row_spans:
                counts = self.row_tokens_by_source
                counts[span["source"]] = counts.get(span["source"], 0) + span["end"] - span["start"]
            if self.out is not None:
                self.out.write(json.dumps({"input_ids": self.buffer[:chunk], "source": row_spans},
                                          separators=(",", ":")))
                self.out.write("\n")
            del self.buffer[:chunk]
            self.spans = rest
            self.rows += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", help="corpus files or directories")
    parser.add_argument("--mode", default="per_source", choices=sorted(MODES))
    parser.add_argument("--budget", type=parse_budget, default=parse_budget("5B"),
                        help="total tokens: 5B, 500M, 2e9 (default 5B)")
    parser.add_argument("--down-sample-ratio", type=float, default=0.1,
                        help="keep probability of a short document (default 0.1)")
    parser.add_argument("--chunk-size", type=int, default=131072, help="tokens per row")
    parser.add_argument("--model", help="SentencePiece .model; without it only selects documents")
    parser.add_argument("--out", help="write rows as JSON lines {input_ids, source}")
    parser.add_argument("--selection-out", help="write 'file_index line' of each kept document")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--text-key", default="text")
    parser.add_argument("--domain-key", default="meta.redpajama_set_name")
    args = parser.parse_args()
    if args.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    if args.out and not args.model:
        parser.error("--out needs --model")
    mode = MODES[args.mode]

    start_time = time.perf_counter()
    encode, bos = None, None
    if args.model:
        try:
            import sentencepiece
        except ImportError:
            sys.exit("mix_reference: needs Debian's python3-sentencepiece "
                     "(apt-get install python3-sentencepiece)")
        processor = sentencepiece.SentencePieceProcessor(model_file=args.model)
        bos = processor.bos_id()
        if bos < 0:
            sys.exit(f"mix_reference: {args.model} has no BOS piece")
        encode = processor.encode  # one document per call, as the reference's tokenizer

    rng = numpy_legacy_rng(args.seed)
    total_tokens = args.budget
    per_source = mode in ("per_source", "upsample_code_arxiv_book")
    if per_source:
        if mode == "per_source":
            weights = SLIMPAJAMA_SHARES
            budget = {s: total_tokens * w for s, w in weights.items()}
        else:  # the same float operations as the reference: normalise, then scale
            weights = CODE_ARXIV_BOOK_WEIGHTS
            norm = sum(weights.values())
            budget = {s: total_tokens * (w / norm) for s, w in weights.items()}
        source_tokens = {s: 0 for s in weights}
        passed = {s: 0 for s in weights}
        filtered = {s: 0 for s in weights}
        over_budget = {s: 0 for s in weights}
    out = open(args.out, "w", buffering=1 << 20) if args.out else None
    selection = open(args.selection_out, "w", buffering=1 << 20) if args.selection_out else None
    packer = Packer(args.chunk_size, out)

    files = corpus_files(args.inputs)
    issues = {}
    seen = kept = short_dropped = 0
    tokens_tokenized = 0
    processed_token = 0.0
    finished = False
    ratio = args.down_sample_ratio
    for file_index, line, text, source in documents(files, args.text_key, args.domain_key, issues):
        seen += 1
        dlen = len(text) / CHARS_PER_TOKEN
        if mode == "global":
            if dlen < LONG_DOCUMENT and rng.random() > ratio:
                short_dropped += 1
                continue
        elif per_source:
            if source not in source_tokens:
                sys.exit(f"mix_reference: {files[file_index]}:{line}: domain '{source}' has no "
                         f"budget (known: {', '.join(source_tokens)})")
            if source_tokens[source] > budget[source]:
                over_budget[source] += 1
                continue
            if dlen < LONG_DOCUMENT and rng.random() > ratio:
                filtered[source] += 1
                short_dropped += 1
                continue
            passed[source] += 1
            source_tokens[source] += dlen
        kept += 1
        if selection is not None:
            selection.write(f"{file_index} {line}\n")
        if encode is not None:
            ids = encode(text)
            ids.insert(0, bos)
            tokens_tokenized += len(ids)
            packer.add(ids, source)
        processed_token += dlen
        if per_source:
            if all(source_tokens[s] >= budget[s] for s in source_tokens):
                finished = True
                break
        elif processed_token > total_tokens:
            finished = True
            break

    if out is not None:
        out.close()
    if selection is not None:
        selection.close()
    seconds = time.perf_counter() - start_time
    tokens_written = packer.rows * args.chunk_size
    summary = {
        "mode": mode,
        "budget": total_tokens,
        "chunk_size": args.chunk_size,
        "files": len(files),
        "documents_seen": seen,
        "documents_kept": kept,
        "short_documents_dropped": short_dropped,
        "stopped_by": "budget" if finished else "end_of_input",
        "estimated_tokens_kept": round(processed_token),
        "tokens_tokenized": tokens_tokenized,
        "rows": packer.rows,
        "tokens_written": tokens_written,
        "tokens_dropped_tail": len(packer.buffer),
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens_written / seconds, 1) if seconds > 0 else None,
        "tokens_written_by_source": dict(sorted(packer.row_tokens_by_source.items())),
        "bad_input": issues,
    }
    if per_source:
        summary["per_source"] = {
            s: {"budget": round(budget[s]), "estimated_tokens": round(source_tokens[s]),
                "passed": passed[s], "filtered": filtered[s], "over_budget": over_budget[s]}
            for s in source_tokens}
    print(json.dumps(summary, sort_keys=False))


if __name__ == "__main__":
    main()
