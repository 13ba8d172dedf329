#include "longctx/report/mmlu_table.h"

#include <fmt/format.h>

#include "longctx/report/table.h"

namespace longctx {

std::string mmlu_summary_table(const MmluSummary& summary) {
  Table table({"", "questions", "accuracy %"}, {Align::kLeft, Align::kRight, Align::kRight});
  auto row = [&](const std::string& name, const MmluScore& s) {
    table.add_row({name, std::to_string(s.questions), fmt::format("{:.1f}", 100 * s.accuracy())});
  };
  row("all", summary.overall);
  table.add_rule();
  for (MmluCategory c : kMmluCategories) {
    auto it = summary.categories.find(std::string(mmlu_category_name(c)));
    if (it != summary.categories.end()) row(it->first, it->second);
  }
  table.add_rule();
  for (const auto& [name, score] : summary.subjects) row(name, score);
  return table.render();
}

}  // namespace longctx
