#include "longctx/eval/results_dir.h"

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/eval/text_lines.h"

namespace longctx {

namespace fs = std::filesystem;

ResultsDir::ResultsDir(fs::path dir, const nlohmann::json& settings)
    : dir_(std::move(dir)), settings_(settings) {
  fs::create_directories(dir_);
  fs::path settings_path = dir_ / "settings.json";
  if (fs::exists(settings_path) && fs::exists(results_path())) {
    nlohmann::json before =
        nlohmann::json::parse(read_file(settings_path), nullptr, /*allow_exceptions=*/false);
    if (before != settings)
      throw Error(fmt::format("{} holds results of other settings ({})", dir_.string(),
                              settings_path.string()),
                  "use another --out, or remove results.jsonl to start over");
  }
  write_file_atomic(settings_path, settings.dump(2) + "\n");
  uint64_t keep = 0;
  if (fs::exists(results_path())) {
    std::string text = read_file(results_path());
    size_t last_newline = text.rfind('\n');
    keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  }
  results_ = std::make_unique<AppendFile>(results_path(), keep);
}

std::vector<ResultsLine> ResultsDir::lines() const {
  std::vector<ResultsLine> out;
  std::string text = read_file(results_path());
  for_each_line(text, [&](uint64_t number, std::string_view line) {
    out.push_back({fmt::format("{}:{}", results_path().string(), number), std::string(line)});
  });
  return out;
}

void ResultsDir::write_summary(nlohmann::json summary, const SkippedRecords& skipped) const {
  summary["settings"] = settings_;
  summary["skipped_records"] = skipped.to_json();
  write_file_atomic(dir_ / "summary.json", summary.dump(2) + "\n");
}

void ResultsDir::append(const std::string& line) {
  std::lock_guard<std::mutex> guard(mutex_);
  std::string text = line + "\n";
  results_->append(text.data(), text.size());
  results_->flush();
}

void ResultsDir::sync() {
  std::lock_guard<std::mutex> guard(mutex_);
  results_->sync();
}

}  // namespace longctx
