// The `longctx mix` job: corpus -> selected documents -> packed rows on disk (issue 3).
//
// Phases, each deterministic whatever the thread count:
//   1. scan    read the corpus on all cores, measure every document (tokens or estimate),
//              sort by (file, line) and offer the documents to the Selector in stream order;
//              files are scanned in groups so the scan stops soon after the budget is met.
//              The kept documents (24 bytes each) are saved in DIR/.mix-state.
//   2. pack    reread the kept documents in order, tokenize them in parallel batches, pack them
//              into rows and append to the partial files; after each batch a checkpoint
//              (partial file sizes, the partial row, the next document) is saved atomically.
//   3. finish  indexes, renames to the final names, report.json/report.svg, manifest.json last.
// --resume continues from the last checkpoint of any phase; the final bytes are those of an
// uninterrupted run.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longctx/base/progress.h"
#include "longctx/data/corpus_files.h"
#include "longctx/data/corpus_reader.h"
#include "longctx/data/length_model.h"
#include "longctx/mix/selector.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

struct MixJob {
  std::vector<CorpusFile> files;
  RecordSchema schema;
  ReaderOptions reader;
  std::shared_ptr<const Tokenizer> tokenizer;
  SpecialTokens special = SpecialTokens::kAsText;
  LengthMode length = LengthMode::kTokens;
  SelectionSettings selection;
  std::string shares = "slimpajama";  // slimpajama | measured | NAME=SHARE,...
  std::string domain_weights;         // upsample
  uint32_t seq_len = 81920;
  bool bos = true;
  bool eos = false;
  uint64_t max_doc_tokens = 0;  // 0: never cut
  bool doc_boundaries = false;
  bool jsonl = false;
  std::filesystem::path out;
  bool resume = false;
  bool overwrite = false;
  Progress::Display display = Progress::Display::kAuto;
  size_t checkpoint_bytes = size_t{16} << 20;  // text tokenized between checkpoints
  std::FILE* log = stderr;                     // phase notes; nullptr for none
};

struct MixOutcome {
  nlohmann::json report;  // report.json
  std::string summary;    // the terminal table
  bool already_complete = false;
};

// Throws Error for bad settings, unusable inputs, a domain without a share, an output
// directory that holds something else, or a resume whose settings differ.
MixOutcome run_mix(const MixJob& job);

}  // namespace longctx
