// Packed dataset reader: random access to the rows `longctx mix` wrote (dataset_format.h), for
// the trainer and `longctx inspect`. Files are memory-mapped; opening checks every size
// against manifest.json, so a truncated or mismatched dataset fails at open, not mid-training.
//
//   PackedDataset data = PackedDataset::open("mix-out");
//   std::vector<int32_t> ids = data.row(7);               // seq_len() tokens
//   for (const SpanRecord& s : data.spans(7)) data.domains()[s.domain];
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "longctx/base/files.h"
#include "longctx/dataset/format.h"

namespace longctx {

class PackedDataset {
 public:
  // Throws Error naming the file and the inconsistency.
  static PackedDataset open(const std::filesystem::path& dir);

  uint64_t rows() const { return rows_; }
  uint32_t seq_len() const { return seq_len_; }
  TokenType token_type() const { return token_type_; }
  uint64_t span_count() const { return span_count_; }
  const std::vector<std::string>& domains() const { return domains_; }
  const std::vector<std::string>& files() const { return files_; }
  const nlohmann::json& manifest() const { return manifest_; }
  const std::filesystem::path& dir() const { return dir_; }
  bool has_segments() const { return segments_ != nullptr; }

  // Tokens of a row; `out` must hold seq_len() values.
  void read_row(uint64_t row, std::span<int32_t> out) const;
  std::vector<int32_t> row(uint64_t row) const;
  // Per-token segment ids of a row (--doc-boundaries datasets only).
  void read_segments(uint64_t row, std::span<int32_t> out) const;
  std::span<const SpanRecord> spans(uint64_t row) const;

 private:
  std::filesystem::path dir_;
  nlohmann::json manifest_;
  uint64_t rows_ = 0;
  uint32_t seq_len_ = 0;
  TokenType token_type_ = TokenType::kUint16;
  uint64_t span_count_ = 0;
  std::vector<std::string> domains_, files_;
  std::shared_ptr<MappedFile> data_, spans_, segments_;
  const SpanRecord* span_records_ = nullptr;
  const uint64_t* row_begin_ = nullptr;
};

}  // namespace longctx
