#include "support/reader_fixtures.h"

#include <fmt/format.h>

#include <algorithm>

#include "support/fixtures.h"

namespace longctx::testing {

std::string document_text(int file, uint64_t line, size_t bytes) {
  std::string text = fmt::format("<{}:{}>", file, line);
  if (line % 3 == 0) text += "caf\xc3\xa9\n\t\xe4\xb8\xad ";
  static const char kFill[] = "abcdefghijklmnopqrstuvwxyz ";
  for (size_t i = text.size(); i < bytes; ++i)
    text += kFill[(static_cast<size_t>(file) + line + i) % 27];
  return text;
}

void JsonlFile::add_record(const std::string& text, const std::string& domain, bool crlf) {
  ++lines;
  std::string line = jsonl_record(text, domain);
  if (crlf) {  // "...\n" becomes "...\r\n"
    line.pop_back();
    line += "\r\n";
  }
  data += line;
  documents[lines] = {text, domain};
}

void JsonlFile::add_raw_line(const std::string& line) {
  ++lines;
  data += line + "\n";
}

Recorder::Recorder(int workers) : visits_(static_cast<size_t>(workers)), workers_(workers) {}

CorpusReader::Visitor Recorder::visitor() {
  return [this](const Document& doc, int worker) {
    if (worker < 0 || worker >= workers_) {
      bad_worker_ = true;
      return;
    }
    visits_[static_cast<size_t>(worker)].push_back(
        {doc.file_index, doc.line, std::string(doc.text), std::string(doc.domain)});
  };
}

std::vector<Visit> Recorder::sorted() const {
  EXPECT_FALSE(bad_worker_) << "a worker index outside [0, thread_count())";
  std::vector<Visit> all;
  for (const auto& v : visits_) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(), [](const Visit& a, const Visit& b) {
    return std::tie(a.file_index, a.line) < std::tie(b.file_index, b.line);
  });
  return all;
}

std::vector<IssueRow> issue_rows(const InputIssues& issues) {
  std::vector<IssueRow> rows;
  for (const IssueLocation& l : issues.first_locations())
    rows.emplace_back(l.file_index, l.line, l.kind);
  return rows;
}

std::map<int, uint32_t> index_by_id(const CorpusFileList& list) {
  std::map<int, uint32_t> index;
  for (uint32_t i = 0; i < list.files.size(); ++i) {
    std::string name = list.files[i].path.filename().string();
    index[std::stoi(name.substr(1, 2))] = i;
  }
  return index;
}

}  // namespace longctx::testing
