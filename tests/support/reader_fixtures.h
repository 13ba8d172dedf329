// Fixtures for the corpus reader tests (corpus_reader_test.cpp, corpus_reader_faults_test.cpp).
// Every generated document says where it lives: the text of the record on line L of fixture
// file F starts "<F:L>", and fixture files are named "fNN...", so each visit can be checked
// against the fixture (right file index, line, text and domain, exactly once), whatever the
// thread count, block size, compression or stream fault.
//
//   JsonlFile file;
//   file.add_record(document_text(3, 1, 500), "RedPajamaC4");
//   write_file(dir.path() / "f03.jsonl", file.data);
//   Recorder recorder(reader.thread_count());
//   InputIssues issues = with_deadline([&] { return reader.read_all(recorder.visitor()); });
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "longctx/data/corpus_files.h"
#include "longctx/data/corpus_reader.h"
#include "longctx/data/input_issues.h"

namespace longctx::testing {

inline constexpr size_t kSmallBlock = 4096;  // the smallest block ReaderOptions accepts

// The text of the document on line `line` of fixture file `file`, `bytes` long (at least the
// tag). Some texts hold a newline, a tab and non-ASCII characters, which JSON escapes.
std::string document_text(int file, uint64_t line, size_t bytes);

// What a visit must see, keyed by (fixture file, line).
struct ExpectedDocument {
  std::string text;
  std::string domain;
};
using Key = std::pair<int, uint64_t>;

struct Visit {
  uint32_t file_index;
  uint64_t line;
  std::string text;
  std::string domain;
};

// One JSON-lines fixture file: its lines (records, blank lines, bad records), written in a
// chosen container.
struct JsonlFile {
  int id = 0;
  std::string data;  // the decompressed bytes
  std::map<uint64_t, ExpectedDocument> documents;
  uint64_t lines = 0;

  void add_record(const std::string& text, const std::string& domain, bool crlf = false);
  void add_raw_line(const std::string& line);
};

// Collects visits per worker; checks the worker index.
class Recorder {
 public:
  explicit Recorder(int workers);
  CorpusReader::Visitor visitor();
  // All visits sorted by (file index, line).
  std::vector<Visit> sorted() const;

 private:
  std::vector<std::vector<Visit>> visits_;
  int workers_;
  std::atomic<bool> bad_worker_{false};
};

// Runs `work` on another thread and fails (ending the process) if it has not returned within
// the deadline: a reader that deadlocks must fail the test, not hang the suite.
template <typename Work>
auto with_deadline(Work work, int seconds = 60) {
  auto future = std::async(std::launch::async, std::move(work));
  if (future.wait_for(std::chrono::seconds(seconds)) == std::future_status::timeout) {
    ADD_FAILURE() << "read_all did not return within " << seconds << " s";
    std::fprintf(stderr, "read_all hung; aborting the test binary\n");
    std::_Exit(1);
  }
  return future.get();
}

// The kept issue locations as (file index, line, kind) rows, comparable with EXPECT_EQ.
using IssueRow = std::tuple<uint32_t, uint64_t, IssueKind>;
std::vector<IssueRow> issue_rows(const InputIssues& issues);

// The index of each fixture file in the reader's list, found by its name "fNN...".
std::map<int, uint32_t> index_by_id(const CorpusFileList& list);

}  // namespace longctx::testing
