#include "support/report_fixtures.h"

#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace longctx::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kBuckets = {"0-1K",   "1-2K",   "2-4K",    "4-8K", "8-16K",
                                           "16-32K", "32-64K", "64-128K", "128K+"};

nlohmann::json bucket_list() {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& label : kBuckets) out.push_back({{"label", label}});
  return out;
}

// A domain entry of the stats layout whose tokens all sit in one bucket.
nlohmann::json domain(const std::string& name, uint64_t documents, uint64_t tokens, double share,
                      int bucket, bool long_documents) {
  std::vector<uint64_t> bucket_tokens(9, 0), bucket_documents(9, 0);
  std::vector<double> token_shares(9, 0.0), document_shares(9, 0.0);
  bucket_tokens[bucket] = tokens;
  bucket_documents[bucket] = documents;
  token_shares[bucket] = 1.0;
  document_shares[bucket] = 1.0;
  return {{"name", name},
          {"documents", documents},
          {"tokens", tokens},
          {"token_share", share},
          {"median_document_tokens", static_cast<double>(tokens) / documents},
          {"long_documents", long_documents ? documents : 0},
          {"long_tokens", long_documents ? tokens : 0},
          {"long_token_share", long_documents ? 1.0 : 0.0},
          {"bucket_tokens", bucket_tokens},
          {"bucket_documents", bucket_documents},
          {"bucket_token_shares", token_shares},
          {"bucket_document_shares", document_shares}};
}

// Two domains (CC short, Book long) with CC holding `cc_share` of the tokens.
nlohmann::json two_domain_profile(double cc_share) {
  std::vector<double> total_shares(9, 0.0);
  total_shares[0] = cc_share;
  total_shares[3] = 1 - cc_share;
  return {{"long_threshold_tokens", 4096},
          {"buckets", bucket_list()},
          {"domains",
           {domain("RedPajamaCommonCrawl", 3, 600, cc_share, 0, false),
            domain("RedPajamaBook", 1, 5000, 1 - cc_share, 3, true)}},
          {"total",
           {{"documents", 4},
            {"tokens", 5600},
            {"token_share", 1.0},
            {"median_document_tokens", 200.0},
            {"long_token_share", 1 - cc_share},
            {"bucket_token_shares", total_shares}}}};
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  write_file(path, j.dump(2) + "\n");
}

}  // namespace

void write_stats_json(const fs::path& file) {
  nlohmann::json j = two_domain_profile(600.0 / 5600);
  j["format"] = "longctx.stats.v1";
  j["length"] = "estimate (code points / 3.68)";
  j["input"] = {{"files", 2}, {"bytes", 5000}};
  j["bad_input"] = {
      {"total", 0}, {"by_reason", nlohmann::json::object()}, {"first", nlohmann::json::array()}};
  write_json(file, j);
}

void write_mix(const fs::path& dir, const MixFixture& mix) {
  bool budgeted = mix.strategy != "original";
  write_json(dir / "manifest.json", {{"format", "longctx-mix"},
                                     {"version", 1},
                                     {"seq_len", 128},
                                     {"rows", 10},
                                     {"tokens", 1280},
                                     {"domains", {"RedPajamaCommonCrawl", "RedPajamaBook"}},
                                     {"files", {"corpus/a.jsonl"}},
                                     {"strategy", mix.strategy}});
  nlohmann::json cc = {{"name", "RedPajamaCommonCrawl"},
                       {"after_share", mix.cc_after},
                       {"kept_documents", 9},
                       {"kept_tokens", 742}};
  nlohmann::json book = {{"name", "RedPajamaBook"},
                         {"after_share", 1 - mix.cc_after},
                         {"kept_documents", 1},
                         {"kept_tokens", 538}};
  if (budgeted) {
    cc["target_share"] = mix.cc_target;
    book["target_share"] = 1 - mix.cc_target;
  }
  write_json(dir / "report.json", {{"settings",
                                    {{"strategy", mix.strategy},
                                     {"budget_tokens", 1280},
                                     {"length", "tokens"},
                                     {"long_threshold", 4096},
                                     {"seq_len", 128}}},
                                   {"documents_offered", 20},
                                   {"documents_kept", 10},
                                   {"rows", 10},
                                   {"seq_len", 128},
                                   {"tokens_written", 1280},
                                   {"before_long_share", 1 - mix.cc_before},
                                   {"after_long_share", 1 - mix.cc_after},
                                   {"domains", {cc, book}},
                                   {"before", two_domain_profile(mix.cc_before)},
                                   {"after", two_domain_profile(mix.cc_after)},
                                   {"warnings", mix.warnings}});
}

void write_train_run(const fs::path& dir, const TrainFixture& train) {
  write_json(dir / "config.json", {{"batch_tokens", 2 * train.seq_len},
                                   {"eval_every", train.eval_every},
                                   {"lr", 1e-3},
                                   {"out", dir.string()},
                                   {"schedule", "constant"},
                                   {"seq_len", train.seq_len},
                                   {"steps", train.steps}});
  std::string lines;
  for (int i = 1; i <= train.steps; ++i) {
    nlohmann::json j = {{"step", i},
                        {"tokens", 2 * train.seq_len * i},
                        {"loss", train.first_loss - 0.5 * (i - 1)},
                        {"lr", 1e-3},
                        {"grad_norm", 1.0},
                        {"step_time_s", 0.1},
                        {"tokens_per_s", 1000.0 * i},
                        {"mfu", train.mfu ? nlohmann::json(*train.mfu) : nlohmann::json(nullptr)},
                        {"mfu_convention", "6N+6LTd"},
                        {"peak_tflops", train.mfu ? nlohmann::json(989.0) : nlohmann::json(nullptr)},
                        {"memory_peak_gib", 0.0}};
    if (train.eval_every > 0 && i % train.eval_every == 0) {
      j["domain_loss"] = {{"RedPajamaBook", {{"loss", 6.0 - 0.25 * i}, {"tokens", 100}}},
                          {"RedPajamaCommonCrawl", {{"loss", 7.0 - 0.25 * i}, {"tokens", 150}}}};
    }
    lines += j.dump() + "\n";
  }
  write_file(dir / "metrics.jsonl", lines);
}

void write_needle_run(const fs::path& dir, const NeedleFixture& needle) {
  std::vector<int64_t> lengths;
  std::vector<double> depths;
  std::string lines;
  for (const auto& [length, depth, score] : needle.cells) {
    lengths.push_back(length);
    depths.push_back(depth);
    nlohmann::json j = {
        {"length", length},
        {"depth", depth},
        {"prompt_tokens", length - 10},
        {"response", "eat a sandwich"},
        {"scores", {{"paper", score}, {"recall", score}, {"exact", score}, {"rouge1", score}}},
        {"seconds", 0.5},
        {"error", ""}};
    lines += j.dump() + "\n";
  }
  write_json(dir / "settings.json", {{"task", needle.task},
                                     {"lengths_tokens", lengths},
                                     {"depths_percent", depths},
                                     {"backend", "native"},
                                     {"model", needle.model},
                                     {"scorer", needle.scorer}});
  write_file(dir / "results.jsonl", lines);
}

}  // namespace longctx::testing
