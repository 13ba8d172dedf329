// Peers for bench/tokenizer_throughput.sh: HF tokenizers (Rust core, npm binding) and
// OpenAI's tiktoken (npm, WASM) on the same ~4 KB documents as longctx_bench_tokenizer.
// Prints the same tab-separated lines.
//   node bench/tokenizer_peers.js NODE_MODULES TOKENIZER_JSON TEXT_FILE
const fs = require('fs');
const path = require('path');
const [node_modules, json_path, text_path] = process.argv.slice(2);
const text = fs.readFileSync(text_path, 'utf8');
const bytes = Buffer.byteLength(text);
const docs = [];
for (let start = 0; start < text.length;) {
  let end = Math.min(text.length, start + 4096);
  const space = end < text.length ? text.lastIndexOf(' ', end) : -1;
  if (space > start) end = space;
  docs.push(text.slice(start, end));
  start = end;
}
const name = path.basename(path.dirname(json_path));
function report(peer, run, threads, seconds, tokens) {
  console.log([`${name}:${peer}`, run, threads, (bytes / 1e6).toFixed(1), seconds.toFixed(3),
               (bytes / 1e6 / seconds).toFixed(1), tokens].join('\t'));
}

async function main() {
  const { Tokenizer } = require(path.join(node_modules, '@anush008/tokenizers'));
  const hf = Tokenizer.fromFile(json_path);
  let t0 = process.hrtime.bigint();
  let tokens = 0;
  for (const doc of docs) tokens += (await hf.encode(doc, null, { addSpecialTokens: false })).getIds().length;
  report('hf-tokenizers', 'documents', 1, Number(process.hrtime.bigint() - t0) / 1e9, tokens);
  t0 = process.hrtime.bigint();
  const batch = await hf.encodeBatch(docs, { addSpecialTokens: false });
  tokens = batch.reduce((n, e) => n + e.getIds().length, 0);
  report('hf-tokenizers', 'documents', require('os').cpus().length,
         Number(process.hrtime.bigint() - t0) / 1e9, tokens);

  const config = JSON.parse(fs.readFileSync(json_path, 'utf8'));
  const pre = config.pre_tokenizer;
  if (!pre || pre.type !== 'Sequence' || pre.pretokenizers[0].type !== 'Split') return;
  const { Tiktoken } = require(path.join(node_modules, 'tiktoken'));
  const char_to_byte = new Map();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    char_to_byte.set(String.fromCodePoint(printable ? b : 256 + shifted++), b);
  }
  const ranks = Object.entries(config.model.vocab)
      .map(([token, id]) => `${Buffer.from([...token].map((c) => char_to_byte.get(c))).toString('base64')} ${id}`);
  const added = Object.fromEntries(config.added_tokens.map((t) => [t.content, t.id]));
  const tk = new Tiktoken(ranks.join('\n'), added, pre.pretokenizers[0].pattern.Regex);
  t0 = process.hrtime.bigint();
  tokens = 0;
  for (const doc of docs) tokens += tk.encode(doc, [], []).length;
  report('tiktoken', 'documents', 1, Number(process.hrtime.bigint() - t0) / 1e9, tokens);
}
main().catch((e) => { console.error(e); process.exit(1); });
