// Small hand-written outputs of the other commands, laid out as docs/formats.md says, for the
// report's unit tests: a stats JSON, a mix directory, a train run and a needle run. Every value
// is written here (not produced by longctx), so tests know what the page must show.
//
//   write_train_run(dir / "train-a", {.seq_len = 256, .steps = 3});
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace longctx::testing {

// A stats JSON: RedPajamaCommonCrawl 600 tokens in 3 documents (all in 0-1K), RedPajamaBook
// 5000 tokens in 1 document (4-8K, long): token shares 600/5600 and 5000/5600, 2 files.
void write_stats_json(const std::filesystem::path& file);

struct MixFixture {
  std::string strategy = "per-source";
  double cc_target = 0.6, cc_before = 0.75, cc_after = 0.58;  // Book takes the rest
  std::vector<std::string> warnings;
};
// manifest.json + report.json of a mix of two domains (CC, Book): target shares (strategies
// other than "original"), before and after shares, 10 rows of 128 tokens; the profiles'
// buckets as in write_stats_json() with CC's share set.
void write_mix(const std::filesystem::path& dir, const MixFixture& mix = {});

struct TrainFixture {
  int64_t seq_len = 128;
  int steps = 3;
  int eval_every = 1;  // domain_loss on these steps
  double first_loss = 7.0;
  std::optional<double> mfu;  // null, as train writes it on a CPU (no known peak)
};
// config.json + metrics.jsonl: step i (1-based) has tokens 2 * seq_len * i, loss
// first_loss - 0.5 (i - 1), lr 1e-3, tokens_per_s 1000 i.
void write_train_run(const std::filesystem::path& dir, const TrainFixture& train = {});

struct NeedleFixture {
  std::string task = "needle";
  std::string model = "runs/a/model";  // settings' model; backend "native"
  std::string scorer = "paper";
  // (length, depth, paper score) per cell; every other score equals it.
  std::vector<std::tuple<int64_t, double, double>> cells = {
      {1000, 0, 1.0}, {1000, 100, 0.5}, {2000, 0, 0.0}, {2000, 100, 1.0}};
};
// settings.json + results.jsonl.
void write_needle_run(const std::filesystem::path& dir, const NeedleFixture& needle = {});

}  // namespace longctx::testing
