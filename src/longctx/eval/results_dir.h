// The --out directory of a resumable evaluation (mmlu, bookqa): settings.json, and
// results.jsonl, one JSON line per finished item, appended and flushed as each finishes. A rerun
// into the same directory reads the lines so far and runs only what they lack; a rerun with
// other settings is refused while results exist. A line cut short by a crash (no newline at
// the end of the file) is dropped when the directory is opened.
//
//   ResultsDir out("mmlu-7b", settings_json);
//   for (const MmluResult& r : out.parsed(parse_mmlu_result)) done.insert(...);
//   out.append(result_json);
//   out.write_summary(summary_json, skipped);
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longctx/base/files.h"
#include "longctx/eval/skipped_records.h"

namespace longctx {

struct ResultsLine {
  std::string where;  // "DIR/results.jsonl:7"
  std::string text;
};

class ResultsDir {
 public:
  // Creates `dir`, checks and writes settings.json (Error when it holds other settings and
  // results.jsonl exists), opens results.jsonl for appending.
  ResultsDir(std::filesystem::path dir, const nlohmann::json& settings);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path results_path() const { return dir_ / "results.jsonl"; }
  // The non-blank lines of results.jsonl, as of opening plus those appended since.
  std::vector<ResultsLine> lines() const;
  // Every line through parse(text, where) (which throws Error on a bad line).
  template <typename Parse>
  auto parsed(Parse parse) const {
    std::vector<decltype(parse(std::string_view(), std::string_view()))> out;
    for (const ResultsLine& line : lines()) out.push_back(parse(line.text, line.where));
    return out;
  }
  // Writes summary.json (atomically): `summary` with "settings" (settings.json's) and
  // "skipped_records" (skipped.to_json()) added.
  void write_summary(nlohmann::json summary, const SkippedRecords& skipped) const;
  // Appends `line` and a newline, and flushes; thread-safe.
  void append(const std::string& line);
  // fsyncs results.jsonl.
  void sync();

 private:
  std::filesystem::path dir_;
  nlohmann::json settings_;
  std::mutex mutex_;
  std::unique_ptr<AppendFile> results_;
};

}  // namespace longctx
