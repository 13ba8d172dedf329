// Records an evaluation's readers leave out (a CSV row with five columns, a JSON line without
// `answer`), counted by reason with the first few locations, as the corpus reader counts bad
// documents (data/input_issues.h). A skipped record never stops a run and never vanishes
// silently: the summary and stderr name how many were skipped and where the first ones are.
//
//   SkippedRecords skipped;
//   skipped.add("test/anatomy_test.csv", 14, "columns", "5 columns, expected 6");
//   skipped.total() == 1;  skipped.describe() == "1 record skipped (columns 1); first:
//                                                 test/anatomy_test.csv:14: 5 columns, ..."
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace longctx {

struct SkippedRecord {
  std::string file;
  uint64_t line = 0;   // 1-based
  std::string reason;  // a stable key: "columns", "missing_answer", "invalid_json", ...
  std::string detail;  // what was found, for people
};

class SkippedRecords {
 public:
  explicit SkippedRecords(size_t keep_locations = 10) : keep_(keep_locations) {}

  void add(std::string file, uint64_t line, std::string reason, std::string detail);
  uint64_t total() const { return total_; }
  uint64_t count(const std::string& reason) const;
  // In the order added (readers add in file order, then line order).
  const std::vector<SkippedRecord>& first() const { return first_; }

  // {"total": 2, "by_reason": {"columns": 2}, "first": [{"file", "line", "reason", "detail"}]}
  nlohmann::json to_json() const;
  // One paragraph for stderr: the counts by reason, then "FILE:LINE: detail" of the first ones.
  // Empty when nothing was skipped.
  std::string describe() const;

 private:
  size_t keep_;
  uint64_t total_ = 0;
  std::map<std::string, uint64_t> by_reason_;
  std::vector<SkippedRecord> first_;
};

}  // namespace longctx
