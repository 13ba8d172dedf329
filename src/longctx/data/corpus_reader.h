// Corpus reader: streams every document of a corpus through a visitor on all cores, in
// bounded memory, counting bad input instead of stopping.
//
// Work is cut into blocks of whole lines (~8 MiB of decompressed text). Workers either advance
// a file stream by one block (decompression) or parse a queued block and call the visitor for
// each document in it. Many files decompress in parallel; a single large file is read by one
// worker while the others parse, so decompression and parsing overlap.
//
//   CorpusReader reader(list.files, schema, {.threads = 2});
//   InputIssues issues = reader.read_all(
//       [&](const Document& doc, int worker) { totals[worker] += doc.text.size(); }, &progress);
//
// The visitor runs concurrently on different workers (`worker` in [0, thread_count())); within
// one block documents arrive in line order, blocks in any order. Results must therefore be
// order-independent (sums, counts) to be thread-count independent; InputIssues is.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "longctx/data/corpus_files.h"
#include "longctx/data/input_issues.h"
#include "longctx/data/record_parser.h"

namespace longctx {

class Progress;

struct Document {
  std::string_view text;    // valid UTF-8, non-empty (unless keep_empty_documents); valid only
                            // during the visit
  std::string_view domain;  // after aliasing
  uint32_t file_index = 0;  // index into the reader's file list
  uint64_t line = 0;        // 1-based line of the record (1 for .txt files)
};

struct ReaderOptions {
  int threads = 0;                       // 0 = all cores
  size_t block_bytes = size_t{8} << 20;  // decompressed bytes per block (lines are never split)
  size_t keep_issue_locations = 5;       // first bad-input locations kept for the report
  bool strict = false;                   // the first bad record is fatal (throws Error)
  // Visit .jsonl records whose text is empty or only whitespace instead of counting them as
  // empty documents: `tokenize` prints one line for every record, a corpus skips them.
  bool keep_empty_documents = false;

  void validate() const;
};

class CorpusReader {
 public:
  using Visitor = std::function<void(const Document& document, int worker)>;

  CorpusReader(std::vector<CorpusFile> files, RecordSchema schema, ReaderOptions options);

  int thread_count() const { return threads_; }
  const std::vector<CorpusFile>& files() const { return files_; }

  // Reads every file; returns the bad input found. Throws Error for a file that cannot be
  // opened or read, for an exception from the visitor, and in strict mode for bad input.
  InputIssues read_all(const Visitor& visit, Progress* progress = nullptr);

  // Reads one file on the calling thread, documents in line order (visitor's worker is 0).
  // The same documents, text and bad input as read_all() would give for that file; `mix`
  // uses it to reread selected documents in stream order. Throws like read_all().
  InputIssues read_file_in_order(uint32_t file_index, const Visitor& visit,
                                 Progress* progress = nullptr);

 private:
  std::vector<CorpusFile> files_;
  RecordSchema schema_;
  ReaderOptions options_;
  int threads_;
};

// Formats an issue location as "path:line: reason (detail)".
std::string describe(const IssueLocation& location, const std::vector<CorpusFile>& files);

// {"total": N, "by_reason": {"invalid_json": N, ...}, "first": [{"file", "line", "reason",
// "detail"}, ...]}: the bad-input section of every report (docs/formats.md).
nlohmann::json issues_to_json(const InputIssues& issues, const std::vector<CorpusFile>& files);

}  // namespace longctx
