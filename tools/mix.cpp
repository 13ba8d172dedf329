// longctx mix: a corpus -> a long-context training set (issue 3, RECIPE.md section 2).
//
//   longctx mix data/SlimPajama-627B/train --tokenizer llama2/ --budget 5B --out mix-5b
//
// Selects documents by a strategy to a token budget, tokenizes and packs them into rows of
// --seq-len tokens, and writes a Megatron indexed dataset with row spans and a report
// (src/longctx/mix/mix_job.h has the phases).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "commands.h"
#include "corpus_flags.h"
#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/mix/mix_job.h"

namespace longctx {

namespace {

struct MixFlags {
  CorpusFlags corpus;
  std::string out;
  std::string strategy = "per-source";
  std::string budget;
  uint32_t seq_len = 81920;
  uint64_t long_threshold = 4096;
  double short_keep_prob = 0.1;
  uint64_t max_doc_tokens = 0;
  std::string shares = "slimpajama";
  std::string domain_weights;
  uint64_t seed = 15213;
  bool bos = true;
  bool eos = false;
  bool doc_boundaries = false;
  std::string format = "megatron";
  bool parse_special = false;
  bool resume = false;
  bool overwrite = false;
  std::string json_path;
  double checkpoint_mb = 16;
};

double parse_budget(const std::string& text) {
  // parse_count takes 5B, 5b, 500M, 2e9 and plain integers.
  return static_cast<double>(parse_count(text, "--budget"));
}

int run_mix_command(MixFlags& flags) {
  MixJob job;
  CorpusFileList list = find_corpus_files(flags.corpus.inputs);
  job.files = list.files;
  job.schema = flags.corpus.schema();
  job.reader = flags.corpus.reader_options();
  if (flags.corpus.tokenizer.empty()) {
    throw Error("mix needs --tokenizer",
                "pass the model directory or its tokenizer.json / tokenizer.model");
  }
  job.tokenizer = load_tokenizer(flags.corpus.tokenizer);
  job.special = flags.parse_special ? SpecialTokens::kParse : SpecialTokens::kAsText;
  job.length = flags.corpus.length == "tokens" ? LengthMode::kTokens : LengthMode::kEstimate;
  job.selection.strategy = parse_strategy(flags.strategy);
  if (flags.budget.empty()) throw Error("mix needs --budget", "e.g. --budget 5B (tokens)");
  job.selection.budget_tokens = parse_budget(flags.budget);
  job.selection.long_threshold = static_cast<double>(flags.long_threshold);
  job.selection.short_keep_prob = flags.short_keep_prob;
  job.selection.seed = flags.seed;
  job.shares = flags.shares;
  job.domain_weights = flags.domain_weights;
  job.seq_len = flags.seq_len;
  job.bos = flags.bos;
  job.eos = flags.eos;
  job.max_doc_tokens = flags.max_doc_tokens;
  if (job.selection.strategy == Strategy::kCut && job.max_doc_tokens == 0)
    job.max_doc_tokens = 4096;
  job.doc_boundaries = flags.doc_boundaries;
  job.jsonl = flags.format == "jsonl";
  job.out = flags.out;
  job.resume = flags.resume;
  job.overwrite = flags.overwrite;
  job.display = flags.corpus.progress_display();
  if (!(flags.checkpoint_mb > 0)) throw Error("--checkpoint-mb must be more than 0");
  job.checkpoint_bytes = static_cast<size_t>(flags.checkpoint_mb * 1024 * 1024);
  job.log = flags.corpus.quiet ? nullptr : stderr;

  MixOutcome outcome = run_mix(job);
  if (outcome.already_complete) {
    std::printf("%s already holds the finished dataset; nothing to do\n", flags.out.c_str());
    return 0;
  }
  std::fputs(outcome.summary.c_str(), stdout);
  const nlohmann::json& issues = outcome.report["input_issues"];
  if (issues.value("total", uint64_t{0}) > 0) {
    std::printf("bad input: %llu records skipped (see report.json, input_issues)\n",
                static_cast<unsigned long long>(issues["total"].get<uint64_t>()));
  }
  return 0;
}

}  // namespace

CommandRun add_mix_command(CLI::App& app) {
  auto flags = std::make_shared<MixFlags>();
  CLI::App* command = app.add_subcommand(
      "mix",
      "Build a long-context training set: select documents by a strategy to a token budget, "
      "tokenize, pack into rows of --seq-len tokens; writes a Megatron indexed dataset "
      "(data.bin/.idx), row spans, report.json/.svg and manifest.json");
  flags->corpus.length = "tokens";
  flags->corpus.add_to(*command);
  command->add_option("--out,-o", flags->out, "Output directory (new or empty)")->required();
  command
      ->add_option("--strategy", flags->strategy,
                   "original: every document in order until the budget; cut: the same, documents "
                   "cut into pieces of --max-doc-tokens (4096); per-source: the recipe, each "
                   "domain gets budget x share, short documents kept with --short-keep-prob, long "
                   "ones always; global: the same filter, no per-domain budgets; upsample: "
                   "per-source with --domain-weights; fu2024-code: the released code's "
                   "Github/ArXiv/Book weight 0.6 mode")
      ->check(CLI::IsMember({"original", "cut", "per-source", "global", "upsample", "fu2024-code"}))
      ->capture_default_str();
  command->add_option("--budget", flags->budget,
                      "Token budget: 5B, 500M, 2e9 ... (in --length units)");
  command
      ->add_option("--seq-len", flags->seq_len,
                   "Tokens per row (the paper trained at 81920; its released data used 131072)")
      ->capture_default_str();
  command
      ->add_option("--long-threshold", flags->long_threshold,
                   "A document of at least this many tokens is long")
      ->capture_default_str();
  command
      ->add_option("--short-keep-prob", flags->short_keep_prob,
                   "Chance that a short document is kept (per-source, global, upsample)")
      ->capture_default_str();
  command->add_option("--max-doc-tokens", flags->max_doc_tokens,
                      "Cut documents into pieces of at most this many tokens, each with its own "
                      "BOS (default: 4096 for cut, no cut otherwise; 131072 gives 'cut at 128K')");
  command
      ->add_option("--shares", flags->shares,
                   "Domain shares for the budgets: slimpajama (the recipe's table), measured "
                   "(the input's own token shares), or NAME=SHARE,... (SlimPajama set names or "
                   "CC, C4, Github, Book, ArXiv, Wikipedia, StackExchange)")
      ->capture_default_str();
  command->add_option("--domain-weights", flags->domain_weights,
                      "upsample: final token shares of chosen domains, e.g. Book=0.55; the others "
                      "share the rest in proportion to --shares");
  command
      ->add_option("--seed", flags->seed,
                   "Seed of the short-document filter (the reference's is 15213)")
      ->capture_default_str();
  command->add_flag("--bos,!--no-bos", flags->bos, "Put BOS before each document (default on)");
  command->add_flag("--eos,!--no-eos", flags->eos, "Put EOS after each document (default off)");
  command->add_flag("--doc-boundaries", flags->doc_boundaries,
                    "Also write per-token segment ids (segments.bin/.idx) for document-masked "
                    "attention");
  command
      ->add_option("--format", flags->format,
                   "megatron, or jsonl to also write rows.jsonl like the released dataset "
                   "(input_ids + source spans; large)")
      ->check(CLI::IsMember({"megatron", "jsonl"}))
      ->capture_default_str();
  command->add_flag("--parse-special", flags->parse_special,
                    "Turn special-token text in documents (\"</s>\") into its id, as HF does; by "
                    "default it is plain text");
  command->add_flag("--resume", flags->resume,
                    "Finish an interrupted mix in --out (the result equals an uninterrupted run)");
  command->add_flag("--overwrite", flags->overwrite, "Replace the dataset already in --out");
  command
      ->add_option("--checkpoint-mb", flags->checkpoint_mb,
                   "MiB of text tokenized between checkpoints")
      ->capture_default_str();
  return [flags] { return run_mix_command(*flags); };
}

}  // namespace longctx
