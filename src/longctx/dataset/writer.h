// Dataset writer: the RowSink that turns packed rows into the files of dataset_format.h,
// resumably. Everything is appended to "<name>.partial" files; sync() returns a checkpoint
// (the durable size of each), and a writer reopened from a checkpoint cuts the partial files
// back to it, so rows written after the last checkpoint are written again, identically.
// finish() adds the indexes and renames each file to its final name only once it is complete.
//
//   DatasetWriter writer(layout, /*resume=*/nullptr);
//   Packer packer(settings, writer);
//   ...; WriterCheckpoint at = writer.sync();   // saved next to the job's own position
//   writer.finish();
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "longctx/base/files.h"
#include "longctx/dataset/format.h"

namespace longctx {

// Where packed rows go (the Packer in mix/packer.h writes to one): a row's tokens and the spans
// of the document pieces it holds.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void write_row(std::span<const int32_t> tokens, std::span<const SpanRecord> spans) = 0;
};

struct DatasetLayout {
  std::filesystem::path dir;        // final files go here
  std::filesystem::path state_dir;  // internal partial files (piece lengths)
  uint32_t seq_len = 81920;
  TokenType token_type = TokenType::kUint16;
  bool segments = false;             // --doc-boundaries
  bool jsonl = false;                // --format jsonl
  std::vector<std::string> domains;  // for rows.jsonl
  std::vector<std::string> files;    // for rows.jsonl
};

struct WriterCheckpoint {
  uint64_t rows = 0;
  uint64_t data_bytes = 0;
  uint64_t spans_bytes = 0;
  uint64_t row_index_bytes = 0;
  uint64_t segments_bytes = 0;
  uint64_t jsonl_bytes = 0;
  uint64_t pieces_bytes = 0;

  nlohmann::json to_json() const;
  static WriterCheckpoint from_json(const nlohmann::json& json);
};

// A document piece as kept: what report.json's "after" side is computed from.
struct PieceRecord {
  uint32_t domain = 0;
  uint32_t reserved = 0;
  uint64_t tokens = 0;  // content tokens, BOS/EOS excluded
};
static_assert(sizeof(PieceRecord) == 16);

class DatasetWriter : public RowSink {
 public:
  DatasetWriter(DatasetLayout layout, const WriterCheckpoint* resume);

  void write_row(std::span<const int32_t> tokens, std::span<const SpanRecord> spans) override;
  void add_piece(uint32_t domain, uint64_t tokens);

  WriterCheckpoint sync();
  uint64_t rows() const { return rows_; }

  // Completes the dataset: the spans index and footer, data.idx and segments.idx (written
  // under their final names, complete), then renames every partial file to its final name.
  // The writer is unusable afterwards.
  void finish();

  // The renames of finish(), for a resume that finds them half done; then removes the
  // internal row index, which finish() has copied into spans.bin.
  static void rename_partials(const std::filesystem::path& dir);
  static std::filesystem::path pieces_path(const std::filesystem::path& state_dir);
  static std::vector<PieceRecord> read_pieces(const std::filesystem::path& state_dir);

 private:
  std::filesystem::path partial(std::string_view name) const;

  DatasetLayout layout_;
  uint64_t rows_ = 0;
  uint64_t spans_ = 0;
  std::optional<AppendFile> data_, spans_file_, row_index_, segments_, jsonl_, pieces_;
  std::vector<char> scratch_;
  std::string line_;
};

}  // namespace longctx
