#include "longctx/data/input_issues.h"

#include <algorithm>
#include <tuple>

namespace longctx {

std::string_view issue_name(IssueKind kind) {
  switch (kind) {
    case IssueKind::kInvalidJson:
      return "invalid JSON";
    case IssueKind::kMissingText:
      return "missing text field";
    case IssueKind::kNonStringText:
      return "non-string text field";
    case IssueKind::kInvalidUtf8:
      return "invalid UTF-8";
    case IssueKind::kEmptyDocument:
      return "empty document";
    case IssueKind::kMissingDomain:
      return "missing domain field";
    case IssueKind::kNonStringDomain:
      return "non-string domain field";
    case IssueKind::kTruncatedStream:
      return "truncated compressed stream";
    case IssueKind::kCorruptStream:
      return "corrupt compressed stream";
  }
  return "unknown";
}

std::string_view issue_key(IssueKind kind) {
  switch (kind) {
    case IssueKind::kInvalidJson:
      return "invalid_json";
    case IssueKind::kMissingText:
      return "missing_text";
    case IssueKind::kNonStringText:
      return "non_string_text";
    case IssueKind::kInvalidUtf8:
      return "invalid_utf8";
    case IssueKind::kEmptyDocument:
      return "empty_document";
    case IssueKind::kMissingDomain:
      return "missing_domain";
    case IssueKind::kNonStringDomain:
      return "non_string_domain";
    case IssueKind::kTruncatedStream:
      return "truncated_stream";
    case IssueKind::kCorruptStream:
      return "corrupt_stream";
  }
  return "unknown";
}

namespace {
// (file, line), then kind and detail: a total order, so that which of several issues on one
// line is kept does not depend on the order they arrive in (thread scheduling).
bool earlier(const IssueLocation& a, const IssueLocation& b) {
  return std::tie(a.file_index, a.line, a.kind, a.detail) <
         std::tie(b.file_index, b.line, b.kind, b.detail);
}
}  // namespace

void InputIssues::add(IssueKind kind, uint32_t file_index, uint64_t line, std::string detail) {
  ++counts_[static_cast<size_t>(kind)];
  if (keep_ == 0) return;
  IssueLocation location{file_index, line, kind, std::move(detail)};
  if (first_.size() == keep_ && !earlier(location, first_.back())) return;
  first_.insert(std::upper_bound(first_.begin(), first_.end(), location, earlier),
                std::move(location));
  if (first_.size() > keep_) first_.pop_back();
}

void InputIssues::merge(const InputIssues& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  std::vector<IssueLocation> merged;
  std::merge(first_.begin(), first_.end(), other.first_.begin(), other.first_.end(),
             std::back_inserter(merged), earlier);
  if (merged.size() > keep_) merged.resize(keep_);
  first_ = std::move(merged);
}

void InputIssues::offset_files(uint32_t offset) {
  for (IssueLocation& at : first_) at.file_index += offset;
}

uint64_t InputIssues::total() const {
  uint64_t sum = 0;
  for (uint64_t c : counts_) sum += c;
  return sum;
}

}  // namespace longctx
