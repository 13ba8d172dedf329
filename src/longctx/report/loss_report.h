// What `longctx eval loss` writes of a LossResult (loss.h): loss.json, the terminal tables and
// loss.svg; and Table 5's comparison with a baseline run (another loss.json): each cell's and
// each Loss@n's difference, marked worse (> +0.01 nats, red), better (< -0.01, green) or same
// (grey), as the paper colours it.
//
//   LossComparison cmp = compare_losses(ours, parse_loss_json(read_file("base/loss.json"), ..));
//   std::printf("%s", loss_tables_text(ours, &cmp, /*colour=*/isatty(1)).c_str());
//   write_file_atomic("out/loss.svg", loss_svg(ours, &baseline, &cmp, "7B-80K vs original"));
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/eval/loss.h"

namespace longctx {

enum class DeltaMark { kWorse, kBetter, kSame };
std::string_view delta_mark_name(DeltaMark mark);  // "worse" | "better" | "same"
// > +threshold: worse; < -threshold: better; else (or NaN): same.
DeltaMark delta_mark(double delta, double threshold = 0.01);
// #F0496E, #0CD79F, #9E9E9E
std::string_view delta_colour(DeltaMark mark);

struct LossDelta {
  std::string domain;
  int64_t from = 0, to = 0;  // a table cell; for Loss@n: from = 0, to = n
  double ours = 0, baseline = 0, delta = 0;
  DeltaMark mark = DeltaMark::kSame;
};

struct LossComparison {
  std::string baseline_name;     // e.g. the baseline file's path
  std::vector<LossDelta> cells;  // the cells both results have with tokens
  std::vector<LossDelta> loss_at;
};

LossComparison compare_losses(const LossResult& ours, const LossResult& baseline,
                              std::string baseline_name, double threshold = 0.01);

// {"format": "longctx.eval-loss.v1", "settings": {...}, "seq_len", "rows", "tokens",
//  "domains", "table": [...], "loss_at": [...], "curve": [...], "baseline": {...} (with a
//  comparison)}: docs/formats.md. NaN is written as null.
nlohmann::json loss_result_json(const LossResult& result, const LossComparison* comparison);
// Reads loss_result_json's output back (the baseline's side of a comparison). Throws Error
// prefixed with `where` when the format or a field is wrong.
LossResult parse_loss_json(const nlohmann::json& json, std::string_view where);

// The terminal tables: loss by domain x bucket with intervals, Loss@n, and the differences
// from the baseline when there is one (ANSI colours when `colour`).
std::string loss_tables_text(const LossResult& result, const LossComparison* comparison,
                             bool colour);

// Table 5 (the cells, coloured by their mark when there is a baseline) beside the loss-by-
// position curve (log position axis; the baseline's curve dashed), Loss@n marked.
std::string loss_svg(const LossResult& result, const LossResult* baseline,
                     const LossComparison* comparison, std::string_view title);

// The paper's short name of a SlimPajama domain (RedPajamaC4 -> C4), else the name itself.
std::string domain_label(std::string_view domain);

}  // namespace longctx
