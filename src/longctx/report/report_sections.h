// The sections of the report page, one function each, in page order (kReportSections). A
// section whose inputs are absent draws nothing, not even its heading; settings and raw data
// are on every page.
//
//   id           heading                 drawn from
//   corpus       Corpus profile          stats JSON: Figure 2 and the per-domain table
//   mixtures     Training mixtures       mix report.json: domain shares (target, before,
//                                        after), length distribution, per-domain table, warnings
//   training     Training curves         metrics.jsonl: loss, per-domain loss, tokens/s, lr;
//                                        a table of every run
//   needle       Needle in a haystack    results.jsonl of --task needle: the heatmaps side by
//                                        side (Figure 1), acc by run and by length
//   passkey      Passkey retrieval       the same for --task passkey
//   evaluations  Other evaluations       the same for any other task (multi-needle)
//   settings     Settings of every run   config.json / settings.json / manifest.json, flattened
//   raw          Raw data                links to the copies of every input file
//
// Adding a section (issue 24's `eval loss` tables by domain and length bucket with Table 5's
// coloured deltas and Loss@nK, the `eval mmlu` and `eval bookqa` summaries): give its input a
// kind and a loader in report_inputs.h, write `void NAME_section(ReportBuilder&)` here and put
// it in kReportSections where it belongs on the page. HtmlCell's styles "better", "worse" and
// "muted" are Table 5's green, red and grey.
#pragma once

#include <array>

#include "longctx/report/report_page.h"

namespace longctx {

using ReportSection = void (*)(ReportBuilder& builder);

void corpus_section(ReportBuilder& builder);
void mixtures_section(ReportBuilder& builder);
void training_section(ReportBuilder& builder);
void needle_section(ReportBuilder& builder);
void passkey_section(ReportBuilder& builder);
void other_evaluations_section(ReportBuilder& builder);
void settings_section(ReportBuilder& builder);
void raw_data_section(ReportBuilder& builder);

inline constexpr std::array<ReportSection, 8> kReportSections = {
    corpus_section,  mixtures_section,          training_section, needle_section,
    passkey_section, other_evaluations_section, settings_section, raw_data_section};

// Every key of a JSON object as (dotted key, text): nested objects joined with '.', strings as
// they are, lists as compact JSON cut after 12 items ("[1, 2, ... (40 items)]"), any value cut
// to 400 characters. {"a": {"b": 1}, "c": "x"} -> [("a.b", "1"), ("c", "x")].
std::vector<std::pair<std::string, std::string>> flatten_settings(const nlohmann::json& j);

}  // namespace longctx
