// Bad input, counted by reason. A corpus of hundreds of GB always holds some broken records;
// they must never stop or corrupt a run, and never vanish silently either. Each reader counts
// them here with the file and line, keeps the first few locations for the report, and merges
// per-thread logs in (file, line) order so the report does not depend on the thread count.
//
//   InputIssues issues(/*keep_locations=*/5);
//   issues.add(IssueKind::kInvalidJson, file_index, line, "missing ':'");
//   issues.count(IssueKind::kInvalidJson) == 1
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

enum class IssueKind : uint8_t {
  kInvalidJson,      // the line is not valid JSON (or not a JSON object)
  kMissingText,      // the text field is absent
  kNonStringText,    // the text field is present but not a string
  kInvalidUtf8,      // bytes that are not UTF-8 in a record or a .txt file
  kEmptyDocument,    // text with no non-whitespace character
  kMissingDomain,    // the domain field is absent and no --domain default was given
  kNonStringDomain,  // the domain field is present but not a string
  kTruncatedStream,  // a zstd/gzip stream that ends mid-frame; the partial line is dropped
  kCorruptStream,    // a zstd/gzip stream that fails to decode; the rest of the file is lost
};
inline constexpr int kIssueKindCount = 9;

// "invalid JSON", "missing text field", ... (stable: used as JSON keys in reports).
std::string_view issue_name(IssueKind kind);
// "invalid_json", "missing_text", ... (stable identifiers for machine-readable output).
std::string_view issue_key(IssueKind kind);

struct IssueLocation {
  uint32_t file_index = 0;
  uint64_t line = 0;  // 1-based
  IssueKind kind = IssueKind::kInvalidJson;
  std::string detail;  // e.g. the JSON parser's message
};

class InputIssues {
 public:
  explicit InputIssues(size_t keep_locations = 5) : keep_(keep_locations) {}

  void add(IssueKind kind, uint32_t file_index, uint64_t line, std::string detail = "");
  // Adds another log's counts and keeps the earliest locations of both.
  void merge(const InputIssues& other);
  // Adds `offset` to every location's file index (a log of a reader over part of a list).
  void offset_files(uint32_t offset);

  uint64_t count(IssueKind kind) const { return counts_[static_cast<size_t>(kind)]; }
  uint64_t total() const;
  // The earliest locations, sorted by (file, line); at most keep_locations of them.
  const std::vector<IssueLocation>& first_locations() const { return first_; }

 private:
  size_t keep_;
  std::array<uint64_t, kIssueKindCount> counts_{};
  std::vector<IssueLocation> first_;
};

}  // namespace longctx
