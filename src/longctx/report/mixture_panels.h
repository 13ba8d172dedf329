// The report's pictures of a corpus and of a mixture, from the JSON that `longctx stats --json`
// and `longctx mix` (report.json) write (docs/formats.md):
//   - Figure 2 (figure2.h) of a stats JSON: domain shares and shares by document length;
//   - a mixture's domain shares: target (budgeted strategies only), before (the documents
//     offered to the selector) and after (the pieces kept), as grouped bars;
//   - a mixture's length distribution: the share of tokens in each length bucket, before and
//     after.
// Domains keep report.json's order and read as the paper's short names (CC, C4, ...).
//
//   nlohmann::json report = nlohmann::json::parse(read_file("mix/report.json"));
//   std::string svg = bar_chart_svg(mix_domain_chart(report, "per-source: domain shares"));
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "longctx/report/bar_chart.h"
#include "longctx/report/figure2.h"

namespace longctx {

// Figure 2's series of a profile in the stats JSON layout (a stats file, or report.json's
// "before" and "after"): domains[].token_share and total.bucket_token_shares. Throws Error
// naming the missing field.
MixtureSeries series_from_stats_json(std::string label, const nlohmann::json& profile);

// Series "target" (when any domain has target_share), "before", "after"; one category per
// entry of report["domains"]. Throws Error naming a missing field.
BarChart mix_domain_chart(const nlohmann::json& report, std::string title);

// Series "before", "after"; one category per length bucket of report["after"]["buckets"].
BarChart mix_length_chart(const nlohmann::json& report, std::string title);

// The paper's short name of a SlimPajama domain ("RedPajamaC4" -> "C4"), else the name.
std::string short_domain_name(std::string_view name);

}  // namespace longctx
