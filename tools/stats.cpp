// longctx stats: the domain x length profile of a corpus (Figure 2 of the paper).
//
//   longctx stats data/SlimPajama-627B/train --json stats.json --svg stats.svg
//
// Phases: find the files -> build the length model -> read every document on all cores,
// each worker adding to its own profile -> merge -> print the tables -> write JSON and SVG.
#include <fmt/format.h>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "corpus_flags.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/data/corpus_profile.h"
#include "longctx/data/domains.h"
#include "longctx/report/figure2.h"
#include "longctx/report/table.h"

namespace longctx {

namespace {

struct StatsFlags {
  CorpusFlags corpus;
  uint64_t long_threshold_tokens = 4096;
  std::string json_path;
  std::string svg_path;
  std::string title;
};

std::string print_tables(const CorpusProfile& profile) {
  DomainProfile total = profile.total();
  auto share = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  };
  std::string long_header = fmt::format("tokens in >={}", profile.long_threshold_tokens());
  Table summary(
      {"domain", "documents", "tokens", "token share", "median length", long_header},
      {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  auto summary_row = [&](const std::string& name, const DomainProfile& d) {
    summary.add_row({name, format_count(d.documents), format_count(d.tokens),
                     format_percent(share(d.tokens, total.tokens)),
                     fmt::format("{:.0f}", d.median_tokens()),
                     format_percent(d.long_token_share())});
  };
  std::vector<std::string> bucket_header{"domain"};
  std::vector<Align> bucket_align{Align::kLeft};
  for (int b = 0; b < kLengthBucketCount; ++b) {
    bucket_header.push_back(bucket_label(b));
    bucket_align.push_back(Align::kRight);
  }
  Table by_tokens(bucket_header, bucket_align), by_documents(bucket_header, bucket_align);
  auto bucket_rows = [&](const std::string& name, const DomainProfile& d) {
    std::vector<std::string> tokens_row{name}, documents_row{name};
    for (size_t b = 0; b < kLengthBucketCount; ++b) {
      tokens_row.push_back(format_percent(share(d.bucket_tokens[b], d.tokens)));
      documents_row.push_back(format_percent(share(d.bucket_documents[b], d.documents)));
    }
    by_tokens.add_row(tokens_row);
    by_documents.add_row(documents_row);
  };
  for (const std::string& name : profile.domain_names()) {
    const DomainProfile& d = profile.domains().find(name)->second;
    summary_row(name, d);
    bucket_rows(name, d);
  }
  summary.add_rule();
  by_tokens.add_rule();
  by_documents.add_rule();
  summary_row("all", total);
  bucket_rows("all", total);
  return summary.render() + "\nShare of tokens by document length (tokens):\n" +
         by_tokens.render() + "\nShare of documents by document length (tokens):\n" +
         by_documents.render();
}

int run_stats(const StatsFlags& flags) {
  // Find the files and build the reader and the length model.
  CorpusFileList list = find_corpus_files(flags.corpus.inputs);
  LengthModel lengths = flags.corpus.length_model();
  CorpusReader reader(list.files, flags.corpus.schema(), flags.corpus.reader_options());
  if (!list.skipped.empty() && !flags.corpus.quiet) {
    std::fprintf(stderr, "skipped %zu files with unrecognised names (first: %s)\n",
                 list.skipped.size(), list.skipped.front().c_str());
  }

  // Read every document; each worker fills its own profile.
  std::vector<CorpusProfile> profiles(static_cast<size_t>(reader.thread_count()),
                                      CorpusProfile(flags.long_threshold_tokens));
  Progress progress("stats", list.total_bytes, flags.corpus.progress_display());
  InputIssues issues = reader.read_all(
      [&](const Document& doc, int worker) {
        profiles[static_cast<size_t>(worker)].add(doc.domain, lengths.tokens(doc.text));
      },
      &progress);
  progress.finish();
  CorpusProfile profile(flags.long_threshold_tokens);
  for (const CorpusProfile& part : profiles) profile.merge(part);

  // Report: tables on stdout, bad input on stderr.
  double seconds = progress.elapsed_seconds();
  std::printf("%zu files, %s read in %.1f s (%s/s), %s threads; length: %s\n\n", list.files.size(),
              format_bytes(list.total_bytes).c_str(), seconds,
              format_bytes(static_cast<uint64_t>(static_cast<double>(list.total_bytes) /
                                                 std::max(seconds, 1e-9)))
                  .c_str(),
              std::to_string(reader.thread_count()).c_str(), lengths.description().c_str());
  std::fputs(print_tables(profile).c_str(), stdout);
  std::fflush(stdout);
  print_issues(stderr, issues, list.files);

  // Machine-readable outputs, each written atomically.
  if (!flags.json_path.empty()) {
    nlohmann::json j = profile.to_json();
    j["format"] = "longctx.stats.v1";
    j["length"] = lengths.description();
    j["input"] = {{"files", list.files.size()}, {"bytes", list.total_bytes}};
    j["bad_input"] = issues_to_json(issues, list.files);
    write_file_atomic(flags.json_path, j.dump(2) + "\n");
  }
  if (!flags.svg_path.empty()) {
    std::string title =
        flags.title.empty()
            ? fmt::format("{} documents, {} tokens ({})", format_count(profile.total().documents),
                          format_count(profile.total().tokens),
                          lengths.mode() == LengthMode::kEstimate ? "estimated" : "exact")
            : flags.title;
    write_file_atomic(flags.svg_path,
                      draw_figure2({series_from_profile("corpus", profile)}, title));
  }
  return 0;
}

}  // namespace

CommandRun add_stats_command(CLI::App& app) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* command = app.add_subcommand(
      "stats",
      "Profile a corpus by domain and document length: documents, tokens, shares, median "
      "length, the share of tokens in long documents, and length histograms (Figure 2).");
  flags->corpus.add_to(*command);
  command
      ->add_option("--long-threshold", flags->long_threshold_tokens,
                   "A document of at least this many tokens is long")
      ->capture_default_str();
  command->add_option("--json", flags->json_path, "Write every number to this JSON file");
  command->add_option("--svg", flags->svg_path, "Draw Figure 2 (domain and length shares) as SVG");
  command->add_option("--title", flags->title, "Title of the SVG figure");
  return [flags] { return run_stats(*flags); };
}

}  // namespace longctx
