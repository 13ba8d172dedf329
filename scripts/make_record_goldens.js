#!/usr/bin/env node
// Golden token ids for tests/cli/tokenize_cli_test.cpp's records: one text per .jsonl record,
// among them an empty text and whitespace-only ones, encoded by the HF tokenizers reference
// (Rust core, node binding @anush008/tokenizers, fetched by scripts/fetch_tokenizers.sh) with
// add_special_tokens=false, for the Llama-2 and Llama-3 tokenizer.json files (the two BPE
// families). `longctx tokenize --json` must print exactly these arrays, one line per record.
//
// Usage: node scripts/make_record_goldens.js [--cache DIR] [--out FILE]
//   --cache  where scripts/fetch_tokenizers.sh put the files
//            (default ${XDG_CACHE_HOME:-$HOME/.cache}/longctx/tokenizers)
//   --out    default tests/tokenizer/goldens/records.json
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');

// The records, in order. Whitespace-only texts are texts: they have tokens.
const TEXTS = [
  'Hello world',
  '',
  '      ',
  'The end.',
  ' \t\n ',
  '  two leading spaces',
  'trailing spaces   ',
  '\n',
];
const TOKENIZERS = ['llama2', 'llama3'];

function main() {
  const repo = path.join(__dirname, '..');
  const cache_home = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const args = { cache: path.join(cache_home, 'longctx', 'tokenizers'),
                 out: path.join(repo, 'tests', 'tokenizer', 'goldens', 'records.json') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) throw new Error(`unknown or incomplete argument ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  const { Tokenizer } = require(path.join(args.cache, 'node_modules', '@anush008/tokenizers'));
  return Promise.all(TOKENIZERS.map(async (name) => {
    const file = path.join(args.cache, name, 'tokenizer.json');
    const tokenizer = Tokenizer.fromFile(file);
    const ids = [];
    for (const text of TEXTS) ids.push(Array.from((await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds()));
    return [name, { tokenizer_json_sha256: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), ids }];
  })).then((entries) => {
    const golden = {
      reference: 'HF tokenizers (npm @anush008/tokenizers), encode(text, add_special_tokens=false)',
      made_by: 'scripts/make_record_goldens.js',
      texts: TEXTS,
      tokenizers: Object.fromEntries(entries),
    };
    fs.writeFileSync(args.out, JSON.stringify(golden, null, 1) + '\n');
    console.log(`wrote ${args.out}`);
  });
}
main().catch((e) => { console.error(`make_record_goldens: error: ${e.message}`); process.exit(1); });
