#include "longctx/eval/mmlu_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/eval/csv.h"
#include "longctx/eval/text_lines.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

// "A" -> 0 ... "D" -> 3 (white space around it ignored); -1 otherwise.
int answer_of_letter(std::string_view text) {
  std::string_view t = trim_ascii_space(text);
  return t.size() == 1 && t[0] >= 'A' && t[0] <= 'D' ? t[0] - 'A' : -1;
}

void add_question(std::map<std::string, std::vector<MmluQuestion>>& split, MmluQuestion q) {
  std::vector<MmluQuestion>& list = split[q.subject];
  q.index = static_cast<int64_t>(list.size());
  list.push_back(std::move(q));
}

// DIR/<split>/<subject>_<split>.csv, in sorted order.
void read_csv_split(const fs::path& folder, const std::string& split_name,
                    std::map<std::string, std::vector<MmluQuestion>>& split,
                    SkippedRecords& skipped) {
  std::vector<fs::path> files;
  std::string suffix = "_" + split_name + ".csv";
  for (const fs::directory_entry& e : fs::directory_iterator(folder)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw Error(fmt::format("{} has no *{} files", folder.string(), suffix),
                "the original release names them like anatomy" + suffix);
  for (const fs::path& file : files) {
    std::string name = file.filename().string();
    std::string subject = name.substr(0, name.size() - suffix.size());
    for (CsvRecord& record : parse_csv(read_file(file), file.string())) {
      if (record.fields.size() != 6) {
        skipped.add(file.string(), record.line, "columns",
                    fmt::format("{} columns, expected 6 (question, A, B, C, D, answer)",
                                record.fields.size()));
        continue;
      }
      int answer = answer_of_letter(record.fields[5]);
      if (answer < 0) {
        skipped.add(file.string(), record.line, "answer",
                    fmt::format("answer '{}' is not one of A, B, C, D", record.fields[5]));
        continue;
      }
      MmluQuestion q;
      q.subject = subject;
      q.question = std::move(record.fields[0]);
      for (size_t c = 0; c < 4; ++c) q.choices[c] = std::move(record.fields[c + 1]);
      q.answer = answer;
      q.file = file.string();
      q.line = record.line;
      add_question(split, std::move(q));
    }
  }
}

// One cais/mmlu row; a reason and detail when it is not a question.
bool question_of_json(const nlohmann::json& j, MmluQuestion& q, std::string& reason,
                      std::string& detail) {
  if (!j.is_object()) {
    reason = "invalid_json";
    detail = "not a JSON object";
    return false;
  }
  for (const char* field : {"question", "subject", "choices", "answer"}) {
    if (!j.contains(field)) {
      reason = std::string("missing_") + field;
      detail = fmt::format("no `{}` field", field);
      return false;
    }
  }
  if (!j["question"].is_string() || !j["subject"].is_string()) {
    reason = "not_string";
    detail = "`question` and `subject` must be strings";
    return false;
  }
  const nlohmann::json& choices = j["choices"];
  if (!choices.is_array() || choices.size() != 4 ||
      !std::all_of(choices.begin(), choices.end(), [](const auto& c) { return c.is_string(); })) {
    reason = "choices";
    detail = fmt::format("`choices` must be 4 strings, got {}", choices.dump());
    return false;
  }
  const nlohmann::json& answer = j["answer"];
  int value = -1;
  if (answer.is_number_integer() && answer.get<int64_t>() >= 0 && answer.get<int64_t>() <= 3)
    value = answer.get<int>();
  if (answer.is_string()) value = answer_of_letter(answer.get<std::string>());
  if (value < 0) {
    reason = "answer";
    detail = fmt::format("`answer` {} is not 0-3 (or A-D)", answer.dump());
    return false;
  }
  q.question = j["question"].get<std::string>();
  q.subject = j["subject"].get<std::string>();
  for (size_t c = 0; c < 4; ++c) q.choices[c] = choices[c].get<std::string>();
  q.answer = value;
  return true;
}

void read_jsonl_split(const fs::path& file, std::map<std::string, std::vector<MmluQuestion>>& split,
                      SkippedRecords& skipped) {
  std::string text = read_file(file);
  for_each_line(text, [&](uint64_t line_number, std::string_view line) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    MmluQuestion q;
    std::string reason = "invalid_json", detail = "not valid JSON";
    if (j.is_discarded() || !question_of_json(j, q, reason, detail)) {
      skipped.add(file.string(), line_number, reason, detail);
      return;
    }
    q.file = file.string();
    q.line = line_number;
    add_question(split, std::move(q));
  });
}

}  // namespace

MmluData read_mmlu(const fs::path& dir) {
  MmluData data;
  if (fs::is_directory(dir / "dev") && fs::is_directory(dir / "test")) {
    data.layout = "csv";
    read_csv_split(dir / "dev", "dev", data.splits.dev, data.skipped);
    read_csv_split(dir / "test", "test", data.splits.test, data.skipped);
  } else if (fs::is_regular_file(dir / "dev.jsonl") && fs::is_regular_file(dir / "test.jsonl")) {
    data.layout = "jsonl";
    read_jsonl_split(dir / "dev.jsonl", data.splits.dev, data.skipped);
    read_jsonl_split(dir / "test.jsonl", data.splits.test, data.skipped);
  } else {
    throw Error(fmt::format("{} holds neither dev/ and test/ folders of CSV files nor dev.jsonl "
                            "and test.jsonl",
                            dir.string()),
                "pass the original release's data/ folder (dev/*_dev.csv, test/*_test.csv) or "
                "a folder with cais/mmlu's dev and test splits as dev.jsonl and test.jsonl");
  }
  if (data.splits.test.empty()) throw Error(fmt::format("{} has no test questions", dir.string()));
  return data;
}

}  // namespace longctx
