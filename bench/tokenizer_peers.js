// Peers for bench/tokenizer_throughput.sh: HF tokenizers (Rust core, npm binding) and
// OpenAI's tiktoken (npm, WASM) on the same ~4 KB documents as longctx_bench_tokenizer, with
// its protocol: one untimed warm-up pass over the first tenth of the documents, then the best
// of REPEATS timed passes. Prints the same tab-separated lines.
//   node bench/tokenizer_peers.js NODE_MODULES TOKENIZER_JSON TEXT_FILE [REPEATS] [--no-tiktoken]
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const no_tiktoken = args.includes('--no-tiktoken');
const [node_modules, json_path, text_path, repeats_text] = args.filter((a) => a !== '--no-tiktoken');
const repeats = Math.max(1, parseInt(repeats_text || '3', 10));
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
const warm_docs = docs.slice(0, Math.floor(docs.length / 10));
const name = path.basename(path.dirname(json_path));
function report(peer, run, threads, seconds, tokens) {
  console.log([`${name}:${peer}`, run, threads, (bytes / 1e6).toFixed(1), seconds.toFixed(3),
               (bytes / 1e6 / seconds).toFixed(1), tokens].join('\t'));
}

// warm_up() once untimed, then the best of `repeats` timed calls of pass() (which returns the
// tokens it produced): { seconds, tokens }.
async function best_of(warm_up, pass) {
  await warm_up();
  let best = null;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    const tokens = await pass();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (best === null || seconds < best.seconds) best = { seconds, tokens };
  }
  return best;
}

async function main() {
  const { Tokenizer } = require(path.join(node_modules, '@anush008/tokenizers'));
  const hf = Tokenizer.fromFile(json_path);
  const encode_all = async (list) => {
    let tokens = 0;
    for (const doc of list) tokens += (await hf.encode(doc, null, { addSpecialTokens: false })).getIds().length;
    return tokens;
  };
  let b = await best_of(() => encode_all(warm_docs), () => encode_all(docs));
  report('hf-tokenizers', 'documents', 1, b.seconds, b.tokens);
  const batch_all = async (list) => (await hf.encodeBatch(list, { addSpecialTokens: false }))
      .reduce((n, e) => n + e.getIds().length, 0);
  b = await best_of(() => batch_all(warm_docs), () => batch_all(docs));
  report('hf-tokenizers', 'documents', require('os').cpus().length, b.seconds, b.tokens);

  if (no_tiktoken) return;
  const config = JSON.parse(fs.readFileSync(json_path, 'utf8'));
  const pre = config.pre_tokenizer;
  if (!pre || pre.type !== 'Sequence' || pre.pretokenizers[0].type !== 'Split') return;
  const { Tiktoken } = require(path.join(node_modules, 'tiktoken'));
  const char_to_byte = new Map();
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
    char_to_byte.set(String.fromCodePoint(printable ? byte : 256 + shifted++), byte);
  }
  const ranks = Object.entries(config.model.vocab)
      .map(([token, id]) => `${Buffer.from([...token].map((c) => char_to_byte.get(c))).toString('base64')} ${id}`);
  const added = Object.fromEntries(config.added_tokens.map((t) => [t.content, t.id]));
  const tk = new Tiktoken(ranks.join('\n'), added, pre.pretokenizers[0].pattern.Regex);
  const tk_all = (list) => list.reduce((n, doc) => n + tk.encode(doc, [], []).length, 0);
  b = await best_of(() => tk_all(warm_docs), () => tk_all(docs));
  report('tiktoken-wasm', 'documents', 1, b.seconds, b.tokens);
}
main().catch((e) => { console.error(e); process.exit(1); });
