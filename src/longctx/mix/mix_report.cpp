#include <fmt/format.h>

#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/dataset/format.h"
#include "longctx/mix/mix_phases.h"
#include "longctx/report/table.h"

namespace longctx {

namespace {

std::string format_share(double x) {
  return fmt::format("{:.1f}%", 100 * x);
}

}  // namespace

nlohmann::json write_report(const MixJob& job, const nlohmann::json& settings_json,
                            const Selection& selection, const PackedTotals& totals,
                            std::string& summary) {
  std::vector<std::string> domains = selection.info.at("domains").get<std::vector<std::string>>();
  // The mixture before (documents offered) and after (pieces kept), and what was written.
  const std::vector<PieceRecord>& pieces = totals.pieces;
  CorpusProfile after(static_cast<uint64_t>(job.selection.long_threshold));
  std::vector<uint64_t> piece_count(domains.size()), piece_tokens(domains.size());
  for (const PieceRecord& p : pieces) {
    after.add(domains.at(p.domain), p.tokens);
    ++piece_count[p.domain];
    piece_tokens[p.domain] += p.tokens;
  }
  uint64_t rows = totals.rows, span_total = totals.spans, dropped_tokens = totals.dropped_tokens;
  const std::vector<uint64_t>& written = totals.written_tokens;
  uint64_t total_pieces_tokens = 0;
  for (uint64_t t : piece_tokens) total_pieces_tokens += t;

  nlohmann::json report;
  report["settings"] = settings_json;
  report["settings"].erase("inputs");
  nlohmann::json inputs = nlohmann::json::array();
  for (const CorpusFile& f : job.files) inputs.push_back(f.path.string());
  report["inputs"] = inputs;
  report["budget_met"] = selection.info["budget_met"];
  report["documents_offered"] = selection.info["documents_offered"];
  report["documents_kept"] = selection.kept.size();
  report["pieces"] = pieces.size();
  report["rows"] = rows;
  report["seq_len"] = job.seq_len;
  report["tokens_written"] = rows * job.seq_len;
  report["tokens_dropped"] = dropped_tokens;
  report["spans"] = span_total;
  report["before_long_share"] = selection.info["before_long_share"];
  report["after_long_share"] = after.total().long_token_share();
  nlohmann::json per_domain = selection.info["per_domain"];
  nlohmann::json warnings = nlohmann::json::array();
  bool budgeted = has_domain_budgets(job.selection.strategy);
  for (size_t d = 0; d < domains.size(); ++d) {
    nlohmann::json& e = per_domain[d];
    e["pieces"] = piece_count[d];
    e["kept_tokens"] = piece_tokens[d];
    e["after_share"] = total_pieces_tokens == 0 ? 0.0
                                                : static_cast<double>(piece_tokens[d]) /
                                                      static_cast<double>(total_pieces_tokens);
    e["written_tokens"] = written[d];
    if (budgeted && e["seen_documents"].get<uint64_t>() == 0 && e["budget"].get<double>() > 0) {
      warnings.push_back(fmt::format("{} has a budget of {:.0f} but no documents in the input",
                                     domains[d], e["budget"].get<double>()));
    } else if (budgeted && e["shortfall"].get<double>() > 0) {
      warnings.push_back(fmt::format("{} ran out of documents {:.0f} short of its budget of {:.0f}",
                                     domains[d], e["shortfall"].get<double>(),
                                     e["budget"].get<double>()));
    }
  }
  if (!budgeted && !selection.info["budget_met"].get<bool>()) {
    warnings.push_back(
        fmt::format("the input ran out {:.0f} short of the budget of {:.0f}",
                    job.selection.budget_tokens - selection.info["kept_length"].get<double>(),
                    job.selection.budget_tokens));
  }
  if (rows == 0) {
    warnings.push_back(
        fmt::format("no row written: the selection holds fewer than --seq-len {} "
                    "tokens",
                    job.seq_len));
  }
  report["domains"] = per_domain;
  report["before"] = selection.info["before_profile"];
  report["after"] = after.to_json();
  report["input_issues"] = selection.info["input_issues"];
  report["warnings"] = warnings;

  MixtureSeries before_series = series_from_json(selection.info["before_series"]);
  MixtureSeries after_series = series_from_profile("after", after);
  std::string svg =
      draw_figure2({before_series, after_series},
                   fmt::format("longctx mix: {} ({} tokens)", strategy_name(job.selection.strategy),
                               format_count(rows * job.seq_len)));
  write_file_atomic(job.out / kReportJson, report.dump(1) + "\n");
  write_file_atomic(job.out / kReportSvg, svg);

  // The terminal summary.

  Table table({"domain", "target", "before", "after", "kept docs", "filtered", "long before",
               "long after", "shortfall"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  const nlohmann::json& before_domains = report["before"]["domains"];
  const nlohmann::json& after_domains = report["after"]["domains"];
  for (size_t d = 0; d < domains.size(); ++d) {
    const nlohmann::json& e = per_domain[d];
    auto share_in = [&](const nlohmann::json& profile_domains, const char* key) -> std::string {
      for (const auto& p : profile_domains) {
        if (p.at("name") == domains[d]) return format_share(p.value(key, 0.0));
      }
      return "-";
    };
    table.add_row(
        {domains[d], budgeted ? format_share(e["target_share"].get<double>()) : "-",
         share_in(before_domains, "token_share"), format_share(e["after_share"].get<double>()),
         format_count(e["kept_documents"].get<uint64_t>()),
         format_count(e["filtered_documents"].get<uint64_t>()),
         share_in(before_domains, "long_token_share"), share_in(after_domains, "long_token_share"),
         budgeted ? format_count(static_cast<uint64_t>(e["shortfall"].get<double>())) : "-"});
  }
  table.add_rule();
  table.add_row({"all", "", "", "", format_count(selection.kept.size()), "",
                 format_share(report["before_long_share"].get<double>()),
                 format_share(report["after_long_share"].get<double>()), ""});
  summary = table.render();
  summary += fmt::format(
      "{} rows of {} tokens ({} tokens) in {}; {} tokens of the last partial row dropped\n",
      format_count(rows), job.seq_len, format_count(rows * job.seq_len), job.out.string(),
      format_count(dropped_tokens));
  for (const auto& w : warnings) summary += fmt::format("warning: {}\n", w.get<std::string>());
  return report;
}

}  // namespace longctx
