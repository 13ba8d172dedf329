#!/usr/bin/env node
// Builds one large document (about 4 MB) from the tokenizer text set, deterministically: the
// same inputs, seed and size always give the same bytes (the goldens record its sha256).
//
// Usage: node scripts/make_big_document.js OUT_PATH [--texts DIR] [--bytes N] [--seed S]
//   --texts  folder of *.txt pieces (default tests/tokenizer/texts next to this script)
//   --bytes  stop once the document holds at least N bytes (default 4000000)
//   --seed   32-bit seed of the generator (default 20240315)
//
// The document is a sequence of pieces joined by separators. Each piece is a whole text file or
// a run of its lines; files are taken in sorted-name order by index, so adding a text file
// changes the document (and its golden). Separators vary on purpose: nothing, a space, tabs,
// newlines, CRLF, U+3000, so that pieces meet words, digits and whitespace in many ways.
// All choices come from a splitmix32 generator; no Math.random, no locale, no clock.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const SEPARATORS = ['\n\n', '\n', ' ', '', '\r\n', '\t', '    ', '\n\n\n\n', '\u3000', ' \n ', '. ', '\n\t'];

// splitmix32: a small, well-mixed 32-bit generator; uint32 arithmetic via Math.imul and >>> 0.
function make_rng(seed) {
  let state = seed >>> 0;
  return function next_below(n) {  // uniform-enough integer in [0, n)
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z % n;
  };
}

function parse_args(argv) {
  const args = { out: null, texts: path.join(__dirname, '..', 'tests', 'tokenizer', 'texts'), bytes: 4000000, seed: 20240315 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--texts') args.texts = argv[++i];
    else if (a === '--bytes') args.bytes = Number(argv[++i]);
    else if (a === '--seed') args.seed = Number(argv[++i]);
    else if (!a.startsWith('--') && args.out === null) args.out = a;
    else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (args.out === null) throw new Error('usage: make_big_document.js OUT_PATH [--texts DIR] [--bytes N] [--seed S]');
  if (!(Number.isInteger(args.bytes) && args.bytes > 0)) throw new Error(`--bytes must be a positive integer, got ${args.bytes}`);
  if (!(Number.isInteger(args.seed) && args.seed >= 0 && args.seed < 2 ** 32)) throw new Error(`--seed must be a uint32, got ${args.seed}`);
  return args;
}

function build_document(texts, target_bytes, seed) {
  const next_below = make_rng(seed);
  const line_sets = texts.map((t) => t.split('\n'));
  const chunks = [];
  let total_bytes = 0;
  while (total_bytes < target_bytes) {
    const f = next_below(texts.length);
    let piece;
    if (next_below(2) === 0) {
      piece = texts[f];
    } else {
      const lines = line_sets[f];
      const first = next_below(lines.length);
      const count = 1 + next_below(Math.min(12, lines.length - first));
      piece = lines.slice(first, first + count).join('\n');
    }
    const separator = SEPARATORS[next_below(SEPARATORS.length)];
    const chunk = Buffer.from(piece + separator, 'utf8');
    chunks.push(chunk);
    total_bytes += chunk.length;
  }
  return Buffer.concat(chunks);
}

function main() {
  const args = parse_args(process.argv.slice(2));
  const names = fs.readdirSync(args.texts).filter((n) => n.endsWith('.txt')).sort();
  if (names.length === 0) throw new Error(`no *.txt files in ${args.texts}`);
  const texts = names.map((n) => {
    const bytes = fs.readFileSync(path.join(args.texts, n));
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error(`${n} is not valid UTF-8`);
    return text;
  });
  const doc = build_document(texts, args.bytes, args.seed);
  fs.writeFileSync(args.out, doc);
  const sha = crypto.createHash('sha256').update(doc).digest('hex');
  console.log(`make_big_document: ${doc.length} bytes from ${names.length} texts (seed ${args.seed}) -> ${args.out} sha256=${sha}`);
}

try {
  main();
} catch (err) {
  console.error(`make_big_document: error: ${err.message}`);
  process.exit(1);
}
