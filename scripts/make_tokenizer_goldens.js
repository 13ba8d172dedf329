#!/usr/bin/env node
// Records golden token ids for every fetched tokenizer and every text of the tokenizer text set,
// using the HF tokenizers reference (Rust core, node binding @anush008/tokenizers).
//
// Usage: node scripts/make_tokenizer_goldens.js [--cache DIR] [--texts DIR] [--out DIR] [--only a,b]
//   --cache  where scripts/fetch_tokenizers.sh put the files
//            (default ${XDG_CACHE_HOME:-$HOME/.cache}/longctx/tokenizers)
//   --texts  the text set (default tests/tokenizer/texts)
//   --out    where <tokenizer>.json goldens go (default tests/tokenizer/goldens)
//   --only   comma-separated subset of tokenizers
//
// Per tokenizer and text, two modes:
//   parse_special  encode(text, add_special_tokens=false) as HF does by default: the text of an
//                  added token (e.g. "<|eot_id|>") becomes that token's id.
//   split_special  special-token text is ordinary text, as HF's split_special_tokens=True
//                  (Rust: AddedVocabulary::encode_special_tokens). The binding exposes no such
//                  switch, so it is emulated: the tokenizer.json is loaded with the content of
//                  each *special* added token replaced by a private-use placeholder that no text
//                  contains, so it never matches; non-special added tokens (Qwen's <think>,
//                  Gemma's <unusedN>) still match. (Deleting the special tokens instead would
//                  renumber the later added tokens: HF assigns added-token ids by position when
//                  loading, so the ids are checked after loading.) This equals HF's flag exactly
//                  when no non-special added token can match starting inside a special token's
//                  text, which is checked too.
// and for each: count, sha256 of the ids as little-endian int32 bytes, the ids themselves when
// count <= 5000, and decode(ids, skip_special_tokens=false): its sha256 and whether it gives back
// the input text exactly.
//
// X.bin texts are not UTF-8; the reference (Rust &str) cannot take them. Their input is
// X.replaced.txt, which must equal the WHATWG decoding of X.bin (checked here) — see
// tests/tokenizer/texts/README.md. The big document is built by scripts/make_big_document.js.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const TOKENIZERS = ['llama3', 'llama3_1', 'qwen3', 'mistral', 'llama2', 'gemma3'];
const MAX_INLINE_IDS = 5000;
const BIG_DOCUMENT = { name: 'big_document', bytes: 4000000, seed: 20240315 };

function fail(msg) {
  console.error(`make_tokenizer_goldens: error: ${msg}`);
  process.exit(1);
}

function parse_args(argv) {
  const repo = path.join(__dirname, '..');
  const cache_home = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const args = {
    cache: path.join(cache_home, 'longctx', 'tokenizers'),
    texts: path.join(repo, 'tests', 'tokenizer', 'texts'),
    out: path.join(repo, 'tests', 'tokenizer', 'goldens'),
    only: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) fail(`unknown or incomplete argument ${argv[i]}`);
    args[key] = argv[++i];
  }
  if (args.only) args.only = args.only.split(',');
  return args;
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

function ids_sha256(ids) {
  const buf = Buffer.alloc(4 * ids.length);
  for (let i = 0; i < ids.length; i++) buf.writeInt32LE(ids[i], 4 * i);
  return sha256(buf);
}

// The inputs, in a fixed order: *.txt by name (X.replaced.txt stands in for X.bin), then the
// big document.
function load_texts(texts_dir) {
  const names = fs.readdirSync(texts_dir).sort();
  const texts = [];
  for (const name of names) {
    if (name.endsWith('.replaced.txt')) continue;
    if (name.endsWith('.txt')) {
      const bytes = fs.readFileSync(path.join(texts_dir, name));
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) fail(`${name} is not valid UTF-8 (rename it to .bin?)`);
      texts.push({ name, input: name, input_sha256: sha256(bytes), text });
    } else if (name.endsWith('.bin')) {
      const raw = fs.readFileSync(path.join(texts_dir, name));
      const replaced_name = name.replace(/\.bin$/, '.replaced.txt');
      const replaced = fs.readFileSync(path.join(texts_dir, replaced_name));
      const whatwg = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(raw);
      if (!Buffer.from(whatwg, 'utf8').equals(replaced)) {
        fail(`${replaced_name} is not the U+FFFD (maximal subpart) decoding of ${name}; regenerate it (texts/README.md)`);
      }
      texts.push({ name, input: replaced_name, input_sha256: sha256(replaced), raw_sha256: sha256(raw), text: whatwg });
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'longctx-goldens-'));
  const big_path = path.join(tmp, 'big_document.txt');
  execFileSync(process.execPath, [path.join(__dirname, 'make_big_document.js'), big_path, '--texts', texts_dir,
    '--bytes', String(BIG_DOCUMENT.bytes), '--seed', String(BIG_DOCUMENT.seed)], { stdio: 'inherit' });
  const big = fs.readFileSync(big_path);
  fs.rmSync(tmp, { recursive: true });
  texts.push({
    name: BIG_DOCUMENT.name,
    input: `scripts/make_big_document.js OUT --bytes ${BIG_DOCUMENT.bytes} --seed ${BIG_DOCUMENT.seed}`,
    input_sha256: sha256(big),
    text: big.toString('utf8'),
  });
  return texts;
}

// True when HF's encode_special_tokens (skip special matches in a leftmost-longest scan) and
// deleting the special tokens from the matcher must give the same splits: no non-special added
// token may occur inside a special token's text or start inside one and run past its end.
function split_emulation_is_exact(added_tokens) {
  const special = added_tokens.filter((t) => t.special).map((t) => t.content);
  const plain = added_tokens.filter((t) => !t.special).map((t) => t.content);
  for (const s of special) {
    for (const p of plain) {
      if (s.includes(p)) return { exact: false, why: `${JSON.stringify(p)} occurs inside ${JSON.stringify(s)}` };
      for (let k = 1; k < s.length; k++) {
        if (p.startsWith(s.slice(k))) return { exact: false, why: `${JSON.stringify(p)} starts inside ${JSON.stringify(s)}` };
      }
    }
  }
  return { exact: true };
}

const PLACEHOLDER_MARK = '\uE000';

function make_split_special_tokenizer(binding, config, texts) {
  for (const t of texts) {
    if (t.text.includes(PLACEHOLDER_MARK)) fail(`${t.name} contains U+E000, the split_special placeholder mark`);
  }
  const added_tokens = config.added_tokens.map((t) =>
    (t.special ? { ...t, content: `${PLACEHOLDER_MARK}longctx-special-${t.id}${PLACEHOLDER_MARK}` } : t));
  const tokenizer = binding.Tokenizer.fromString(JSON.stringify({ ...config, added_tokens }));
  for (const t of config.added_tokens) {
    if (!t.special && tokenizer.tokenToId(t.content) !== t.id) {
      fail(`split_special tokenizer maps ${JSON.stringify(t.content)} to ${tokenizer.tokenToId(t.content)}, not ${t.id}`);
    }
  }
  return tokenizer;
}

async function run_mode(tokenizer, decoder, text) {
  const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
  const ids = encoding.getIds();
  const decoded = await decoder.decode(ids, false);
  const result = {
    count: ids.length,
    ids_sha256: ids_sha256(ids),
    decoded_sha256: sha256(Buffer.from(decoded, 'utf8')),
    roundtrip: decoded === text,
  };
  if (ids.length <= MAX_INLINE_IDS) result.ids = ids;
  return result;
}

// Second opinion for byte-level BPE files (Llama-3, Qwen): OpenAI's tiktoken (a different BPE
// algorithm, merging by token rank, and a different regex engine) loaded with the same vocabulary
// as ranks (rank = id; byte-level characters mapped back to bytes) and the same split regex.
// Returns null when the file is not of that shape.
function make_tiktoken_cross_check(node_modules, config) {
  const pre = config.pre_tokenizer;
  const is_byte_level = config.model.type === 'BPE' && !config.model.byte_fallback &&
    pre && pre.type === 'Sequence' && pre.pretokenizers.length === 2 &&
    pre.pretokenizers[0].type === 'Split' && pre.pretokenizers[0].pattern.Regex &&
    pre.pretokenizers[0].behavior === 'Isolated' && !pre.pretokenizers[0].invert &&
    pre.pretokenizers[1].type === 'ByteLevel' && pre.pretokenizers[1].use_regex === false &&
    !pre.pretokenizers[1].add_prefix_space &&
    (config.normalizer === null || config.normalizer.type === 'NFC');
  if (!is_byte_level) return null;
  const { Tiktoken } = require(path.join(node_modules, 'tiktoken'));
  const tiktoken_version = require(path.join(node_modules, 'tiktoken', 'package.json')).version;
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to U+0100...
  const char_to_byte = new Map();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    char_to_byte.set(String.fromCodePoint(printable ? b : 256 + shifted++), b);
  }
  const rank_lines = Object.entries(config.model.vocab).map(([token, id]) => {
    const bytes = [...token].map((c) => char_to_byte.get(c));
    if (bytes.some((b) => b === undefined)) fail(`vocab token ${JSON.stringify(token)} is not byte-level`);
    return `${Buffer.from(bytes).toString('base64')} ${id}`;
  });
  const added = Object.fromEntries(config.added_tokens.map((t) => [t.content, t.id]));
  const encoder = new Tiktoken(rank_lines.join('\n'), added, pre.pretokenizers[0].pattern.Regex);
  const non_special = config.added_tokens.filter((t) => !t.special).map((t) => t.content);
  const normalize = config.normalizer ? (text) => text.normalize('NFC') : (text) => text;
  return {
    name: `npm tiktoken@${tiktoken_version}`,
    parse_special: (text) => Array.from(encoder.encode(normalize(text), 'all')),
    split_special: (text) => Array.from(encoder.encode(normalize(text), non_special, [])),
  };
}

// JSON with each ids array on one line: readable, diffable, and a third of the size.
function golden_text(golden) {
  const arrays = [];
  const text = JSON.stringify(golden, (key, value) => {
    if (key === 'ids' && Array.isArray(value)) {
      arrays.push(value);
      return `@@IDS${arrays.length - 1}@@`;
    }
    return value;
  }, 2);
  return text.replace(/"@@IDS(\d+)@@"/g, (_, i) => `[${arrays[Number(i)].join(',')}]`) + '\n';
}

async function main() {
  const args = parse_args(process.argv.slice(2));
  const node_modules = path.join(args.cache, 'node_modules');
  let binding;
  try {
    binding = require(path.join(node_modules, '@anush008/tokenizers'));
  } catch (err) {
    fail(`cannot load @anush008/tokenizers from ${node_modules}: run scripts/fetch_tokenizers.sh first (${err.message})`);
  }
  const binding_version = require(path.join(node_modules, '@anush008/tokenizers/package.json')).version;
  const texts = load_texts(args.texts);
  fs.mkdirSync(args.out, { recursive: true });

  for (const name of args.only || TOKENIZERS) {
    const json_path = path.join(args.cache, name, 'tokenizer.json');
    if (!fs.existsSync(json_path)) {
      console.log(`make_tokenizer_goldens: skip ${name}: no ${json_path}`);
      continue;
    }
    const json_bytes = fs.readFileSync(json_path);
    const config = JSON.parse(json_bytes.toString('utf8'));
    const source_path = path.join(args.cache, name, 'SOURCE');
    const tokenizer = binding.Tokenizer.fromFile(json_path);
    for (const t of config.added_tokens) {  // HF renumbers added tokens it cannot place as listed
      if (tokenizer.tokenToId(t.content) !== t.id) {
        fail(`${name}: reference maps added token ${JSON.stringify(t.content)} to ${tokenizer.tokenToId(t.content)}, file says ${t.id}`);
      }
    }
    const special = config.added_tokens.filter((t) => t.special);
    const split_tokenizer = make_split_special_tokenizer(binding, config, texts);
    const emulation = split_emulation_is_exact(config.added_tokens);
    if (!emulation.exact) console.log(`make_tokenizer_goldens: warning: ${name}: split_special emulation may differ from HF: ${emulation.why}`);

    const golden = {
      format: 'longctx-tokenizer-golden',
      version: 1,
      tokenizer: name,
      source: fs.existsSync(source_path) ? fs.readFileSync(source_path, 'utf8').trim() : null,
      tokenizer_json_sha256: sha256(json_bytes),
      vocab_size_with_added: tokenizer.getVocabSize(true),
      added_tokens: config.added_tokens.length,
      special_added_tokens: special.length,
      reference: {
        implementation: `npm @anush008/tokenizers@${binding_version} (HF tokenizers Rust crate 0.22.2)`,
        encode: 'tokenizer.encode(text, null, {addSpecialTokens: false}).getIds()',
        decode: 'tokenizer.decode(ids, /*skipSpecialTokens=*/false)',
        ids_sha256: 'sha256 of the ids as consecutive little-endian int32',
        ids_inline_up_to: MAX_INLINE_IDS,
      },
      modes: {
        parse_special: 'HF default: the text of an added token becomes its id',
        split_special: 'HF split_special_tokens=True: special-token text is ordinary text (emulated: ' +
          `the ${special.length} special added tokens renamed to unmatchable placeholders; exact=${emulation.exact})`,
      },
      cross_check: null,
      texts: [],
    };
    const cross_check = make_tiktoken_cross_check(node_modules, config);
    golden.cross_check = cross_check
      ? `${cross_check.name}, loaded with this vocabulary as ranks and this split regex, gives identical ids for every text in both modes`
      : null;
    const t0 = Date.now();
    for (const t of texts) {
      const entry = { name: t.name, input: t.input, input_sha256: t.input_sha256 };
      if (t.raw_sha256) entry.raw_sha256 = t.raw_sha256;
      entry.parse_special = await run_mode(tokenizer, tokenizer, t.text);
      entry.split_special = await run_mode(split_tokenizer, tokenizer, t.text);
      for (const mode of cross_check ? ['parse_special', 'split_special'] : []) {
        const other = ids_sha256(cross_check[mode](t.text));
        if (other !== entry[mode].ids_sha256) fail(`${name} ${t.name} ${mode}: ${cross_check.name} disagrees with the HF reference`);
      }
      golden.texts.push(entry);
    }
    const out_path = path.join(args.out, `${name}.json`);
    const text = golden_text(golden);
    fs.writeFileSync(out_path, text);
    console.log(`make_tokenizer_goldens: ${name}: ${texts.length} texts in ${Date.now() - t0} ms -> ${out_path} (${text.length} bytes)`);
  }
}

main().catch((err) => fail(err.stack || String(err)));
