// MMLU as users have it, read into MmluSplits (mmlu.h):
//
//   DIR/dev/<subject>_dev.csv, DIR/test/<subject>_test.csv   the original release (data/):
//       no header; question, A, B, C, D, answer letter (RFC 4180 quoting, csv.h)
//   DIR/dev.jsonl, DIR/test.jsonl                             Hugging Face cais/mmlu rows:
//       {"question": "...", "subject": "anatomy", "choices": ["..", "..", "..", ".."],
//        "answer": 2}   (answer 0-3; a letter "A"-"D" is accepted too)
//
// A record that cannot be a question (a CSV row with five columns, a JSON line without
// `answer`, an answer letter E) is skipped and counted with its FILE:LINE (skipped_records.h);
// files that cannot be read, or a folder in neither layout, are errors.
//
//   MmluData data = read_mmlu("mmlu/data");
//   data.splits.test["anatomy"][0].choices[2];   data.skipped.total();
#pragma once

#include <filesystem>
#include <string>

#include "longctx/eval/mmlu.h"
#include "longctx/eval/skipped_records.h"

namespace longctx {

struct MmluData {
  MmluSplits splits;
  SkippedRecords skipped;
  std::string layout;  // "csv" | "jsonl"
};

// Throws Error naming the directory and the two layouts when neither is there.
MmluData read_mmlu(const std::filesystem::path& dir);

}  // namespace longctx
