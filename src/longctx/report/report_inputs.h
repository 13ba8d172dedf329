// What `longctx report` reads: the outputs the other commands leave, found by what each
// directory holds (docs/formats.md):
//
//   kind    recognised by                      read
//   stats   a stats --json file, or a          the profile (format "longctx.stats.v1")
//           directory holding stats.json
//   mix     manifest.json + report.json        both
//   train   config.json + metrics.jsonl        the settings and every step's metrics
//   needle  results.jsonl + settings.json      the settings and each cell's latest result
//           (any --task: needle, passkey, multi-needle)
//
// A directory that is none of these (a recipe's output) is searched for them one and two
// levels down, in sorted order; hidden directories and earlier reports are passed over, and
// nested directories that hold nothing are skipped and counted. A directory holding stats.json
// is searched too (`make demo`'s output holds stats.json and mix/).
//
//   ReportSelection selection = find_report_inputs({"demo-out", "needle-ours"}, "report");
//   ReportData data = load_report_data(selection);
//
// A new kind of input (issue 24's `eval loss` output, say) is a line in the table above, a
// rule in classify() (report_inputs.cpp), a struct and a vector in ReportData, and its loader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/eval/needle.h"

namespace longctx {

enum class ReportInputKind { kStats, kMix, kTrain, kNeedle };
std::string_view report_input_kind_name(ReportInputKind kind);  // "stats", "mix", ...

struct ReportInput {
  ReportInputKind kind = ReportInputKind::kStats;
  std::filesystem::path path;  // the directory (a stats input: the JSON file itself)
  // Unique among the inputs: the directory's name ("stats" for a file "stats.json"), with as
  // many parent names as it takes to tell two apart ("a/train" and "b/train").
  std::string name;
  std::string slug;  // name with every character outside [A-Za-z0-9._-] as '-': file names
  std::vector<std::filesystem::path> files;  // the JSON files read, linked from the page
};

struct ReportSelection {
  std::vector<ReportInput> inputs;             // arguments in order; nested ones by path
  std::vector<std::filesystem::path> skipped;  // nested directories holding no input
};

// Throws Error naming the path for an argument that does not exist, a file that is not a
// stats JSON, a directory with no input at or within two levels below it, and when the
// selection is empty. `exclude` (the report's own --out) is never an input; the same input
// given twice counts once.
ReportSelection find_report_inputs(const std::vector<std::filesystem::path>& paths,
                                   const std::filesystem::path& exclude = {});

struct StatsData {
  size_t input = 0;  // index into ReportData::inputs
  nlohmann::json stats;
};

struct MixData {
  size_t input = 0;  // index into ReportData::inputs
  nlohmann::json manifest, report;
};

// One line of metrics.jsonl (docs/formats.md, "training run directory").
struct TrainStep {
  int64_t step = 0;
  double tokens = 0;
  double loss = 0, lr = 0, tokens_per_s = 0, memory_peak_gib = 0;
  std::optional<double> mfu;  // null in metrics.jsonl where the device's peak is unknown (CPU)
  std::map<std::string, double> domain_loss;  // only on --eval-every steps
};

struct TrainData {
  size_t input = 0;  // index into ReportData::inputs
  nlohmann::json config;
  std::vector<TrainStep> steps;
  std::vector<std::string> skipped_lines;  // "FILE:LINE: reason" of malformed lines
};

struct NeedleData {
  size_t input = 0;  // index into ReportData::inputs
  nlohmann::json settings;
  std::string task;                            // settings' "task": needle, passkey, multi-needle
  NeedleScorer scorer = NeedleScorer::kPaper;  // settings' "scorer"
  std::vector<NeedleResult> results;           // latest_per_cell()
  std::vector<std::string> skipped_lines;
};

struct ReportData {
  std::vector<ReportInput> inputs;  // every input, in selection order
  std::vector<std::filesystem::path> skipped;
  std::vector<StatsData> stats;
  std::vector<MixData> mixes;
  std::vector<TrainData> runs;
  std::vector<NeedleData> evals;
};

// Reads every input. Throws Error naming the file for JSON that does not parse or lacks what
// the page needs (a stats file of another format, a manifest of another format); malformed
// lines of metrics.jsonl and results.jsonl are skipped and listed, as `needle` does.
ReportData load_report_data(ReportSelection selection);

// The training length of the model a needle run tested, when the report knows it: the
// seq_len of the train run whose directory holds the model (RUN/model or
// RUN/checkpoints/step-N), looked up among the report's train inputs, else read from
// RUN/config.json when that path exists from the current directory.
std::optional<int64_t> needle_train_length(const NeedleData& needle, const ReportData& data);

// A short name for the model a needle run tested: "per-source" for runs/per-source/model,
// "per-source/step-000100" for runs/per-source/checkpoints/step-000100, the directory's name
// otherwise; for the endpoint backend the served model's name (--api-model), which may be
// empty (the page then uses the input's name).
std::string needle_model_name(const NeedleData& needle);

}  // namespace longctx
