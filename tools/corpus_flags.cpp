#include "corpus_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/data/domains.h"

namespace longctx {

void CorpusFlags::add_to(CLI::App& command) {
  command
      .add_option("inputs", inputs,
                  "Corpus files, directories (read recursively) or quoted globs: .jsonl/.json "
                  "records, one per line, or .txt documents; each optionally .zst or .gz")
      ->required();
  command.add_option("--text-key", text_key, "Dotted path of the document text in a record")
      ->capture_default_str();
  command
      .add_option("--domain-key", domain_key,
                  "Dotted path of the domain name in a record (e.g. meta.source)")
      ->capture_default_str();
  command.add_option("--domain", domain,
                     "Domain of .txt documents and of records without a domain field "
                     "(default: a .txt file's parent folder; such records are bad input)");
  command.add_option("--domain-alias", domain_alias,
                     "Rename domains: FROM=TO,... ; 'short' renames the seven SlimPajama set "
                     "names to CC, C4, Github, Book, ArXiv, Wikipedia, StackExchange");
  command
      .add_option("--length", length,
                  "How to measure a document: 'estimate' (code points / 3.68, the reference "
                  "rule) or 'tokens' (exact, needs --tokenizer)")
      ->check(CLI::IsMember({"estimate", "tokens"}))
      ->capture_default_str();
  command.add_option("--tokenizer", tokenizer,
                     "The model's tokenizer: a tokenizer.json, a SentencePiece .model, a "
                     "tiktoken rank file, or a model directory holding one (stats: for --length "
                     "tokens; mix: required)");
  command
      .add_option("--threads", threads,
                  "Worker threads (0 = all cores); results never depend on it")
      ->capture_default_str();
  command.add_flag("--strict", strict, "Stop at the first bad record instead of counting it");
  command.add_flag("--quiet,-q", quiet, "No progress bar");
  command
      .add_option("--show-issues", show_issues, "How many bad-input locations (file:line) to print")
      ->capture_default_str();
}

RecordSchema CorpusFlags::schema() const {
  RecordSchema schema;
  schema.text_key = text_key;
  schema.domain_key = domain_key;
  schema.default_domain = domain;
  if (domain_alias == "short") {
    for (const KnownDomain& d : kSlimPajamaDomains) {
      schema.domain_aliases.emplace(std::string(d.set_name), std::string(d.short_name));
    }
  } else {
    for (auto& [from, to] : parse_key_values(domain_alias, "--domain-alias")) {
      schema.domain_aliases[from] = to;
    }
  }
  schema.validate();
  return schema;
}

ReaderOptions CorpusFlags::reader_options() const {
  ReaderOptions options;
  options.threads = threads;
  options.strict = strict;
  options.keep_issue_locations = show_issues;
  options.validate();
  return options;
}

LengthModel CorpusFlags::length_model() const {
  if (length == "tokens") {
    if (tokenizer.empty()) {
      throw Error("--length tokens needs --tokenizer",
                  "pass --tokenizer path/to/tokenizer.model, or use --length estimate");
    }
    return LengthModel::tokens(load_tokenizer(tokenizer));
  }
  if (!tokenizer.empty()) {
    throw Error("--tokenizer is only used with --length tokens",
                "add --length tokens to count exact tokens");
  }
  return LengthModel::estimate();
}

void print_issues(std::FILE* out, const InputIssues& issues, const std::vector<CorpusFile>& files) {
  if (issues.total() == 0) return;
  std::vector<std::string> parts;
  for (int k = 0; k < kIssueKindCount; ++k) {
    auto kind = static_cast<IssueKind>(k);
    if (issues.count(kind) > 0)
      parts.push_back(fmt::format("{} {}", issue_name(kind), issues.count(kind)));
  }
  std::fprintf(out, "bad input: %llu skipped (%s)\n",
               static_cast<unsigned long long>(issues.total()),
               fmt::format("{}", fmt::join(parts, ", ")).c_str());
  for (const IssueLocation& at : issues.first_locations()) {
    std::fprintf(out, "  %s\n", describe(at, files).c_str());
  }
  if (issues.total() > issues.first_locations().size()) {
    std::fprintf(out, "  ... and %llu more\n",
                 static_cast<unsigned long long>(issues.total() - issues.first_locations().size()));
  }
}

}  // namespace longctx
