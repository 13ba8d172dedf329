// The phases of the mix job (mix_job.h), one file each: selection.cpp scans and selects,
// mix_report.cpp writes the report; mix_job.cpp holds the output directory, packing and
// finishing. Internal to src/longctx/mix.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longctx/data/corpus_profile.h"
#include "longctx/data/input_issues.h"
#include "longctx/dataset/writer.h"
#include "longctx/mix/mix_job.h"
#include "longctx/report/figure2.h"

namespace longctx {

// Phase notes on the job's log ("mix: ...").
void note(const MixJob& job, const std::string& text);

// "tokens" or "estimate".
std::string length_unit(LengthMode mode);

nlohmann::json series_to_json(const MixtureSeries& series);
MixtureSeries series_from_json(const nlohmann::json& json);

// The outcome of phase 1, saved in the state directory.
struct Selection {
  std::vector<DocumentInfo> kept;  // in stream order
  nlohmann::json info;             // domains, budgets, per-domain counts, the "before" profile
};

// Phase 1: scans the corpus and selects documents (adds the bad input found to `issues`).
Selection select_documents(const MixJob& job, InputIssues& issues);
bool has_saved_selection(const std::filesystem::path& state_dir);
void save_selection(const std::filesystem::path& state_dir, const Selection& selection);
Selection load_selection(const std::filesystem::path& state_dir);

// What the finished dataset holds, for the report.
struct PackedTotals {
  std::vector<PieceRecord> pieces;
  uint64_t rows = 0;
  uint64_t spans = 0;
  uint64_t dropped_tokens = 0;
  std::vector<uint64_t> written_tokens;  // per domain, from spans.bin
};

// report.json (returned), report.svg (written) and the terminal summary.
nlohmann::json write_report(const MixJob& job, const nlohmann::json& settings,
                            const Selection& selection, const PackedTotals& totals,
                            std::string& summary);

}  // namespace longctx
