#include "longctx/eval/skipped_records.h"

#include <fmt/format.h>

namespace longctx {

void SkippedRecords::add(std::string file, uint64_t line, std::string reason, std::string detail) {
  ++total_;
  ++by_reason_[reason];
  if (first_.size() < keep_)
    first_.push_back({std::move(file), line, std::move(reason), std::move(detail)});
}

uint64_t SkippedRecords::count(const std::string& reason) const {
  auto it = by_reason_.find(reason);
  return it == by_reason_.end() ? 0 : it->second;
}

nlohmann::json SkippedRecords::to_json() const {
  nlohmann::json first = nlohmann::json::array();
  for (const SkippedRecord& r : first_)
    first.push_back(
        {{"file", r.file}, {"line", r.line}, {"reason", r.reason}, {"detail", r.detail}});
  return {{"total", total_}, {"by_reason", by_reason_}, {"first", first}};
}

std::string SkippedRecords::describe() const {
  if (total_ == 0) return "";
  std::string counts;
  for (const auto& [reason, n] : by_reason_)
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", reason, n);
  std::string text =
      fmt::format("{} record{} skipped ({}); first:", total_, total_ == 1 ? "" : "s", counts);
  for (const SkippedRecord& r : first_)
    text += fmt::format("\n  {}:{}: {}", r.file, r.line, r.detail);
  return text;
}

}  // namespace longctx
