// Flags shared by every command that reads a corpus (stats, mix): the inputs, the record
// schema, the length model, threads and bad-input handling. One definition, so the commands
// agree on names, defaults and help text.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "longctx/base/progress.h"
#include "longctx/data/corpus_reader.h"
#include "longctx/data/length_model.h"

namespace longctx {

struct CorpusFlags {
  std::vector<std::string> inputs;
  std::string text_key = "text";
  std::string domain_key = "meta.redpajama_set_name";
  std::string domain;        // default domain (.txt files, records without a domain)
  std::string domain_alias;  // "FROM=TO,..." or the preset "short"
  std::string length = "estimate";
  std::string tokenizer;
  int threads = 0;
  bool strict = false;
  bool quiet = false;
  size_t show_issues = 5;

  void add_to(CLI::App& command);
  RecordSchema schema() const;
  ReaderOptions reader_options() const;
  // Throws Error when --length tokens lacks --tokenizer and the like.
  LengthModel length_model() const;
  Progress::Display progress_display() const {
    return quiet ? Progress::Display::kOff : Progress::Display::kAuto;
  }
};

// "bad input: 3 records skipped (invalid JSON 2, empty document 1)" and the first locations.
void print_issues(std::FILE* out, const InputIssues& issues, const std::vector<CorpusFile>& files);

}  // namespace longctx
