#include "longctx/dataset/packed_dataset.h"

#include <fmt/format.h>

#include <cstring>

#include "longctx/base/error.h"
#include "longctx/base/files.h"

namespace longctx {

namespace fs = std::filesystem;

PackedDataset PackedDataset::open(const fs::path& dir) {
  PackedDataset d;
  d.dir_ = dir;
  fs::path manifest_path = dir / kManifestJson;
  if (!fs::exists(manifest_path)) {
    throw Error(fmt::format("{} is not a finished longctx mix dataset: {} is missing", dir.string(),
                            manifest_path.string()),
                fs::exists(dir / ".mix-state") ? "the mix was interrupted; rerun it with --resume"
                                               : "point at the --out directory of longctx mix");
  }
  try {
    d.manifest_ = nlohmann::json::parse(read_file(manifest_path));
    if (d.manifest_.at("format") != "longctx-mix")
      throw Error(fmt::format("{}: not a longctx-mix manifest", manifest_path.string()));
    d.rows_ = d.manifest_.at("rows").get<uint64_t>();
    d.seq_len_ = d.manifest_.at("seq_len").get<uint32_t>();
    std::string type = d.manifest_.at("token_type").get<std::string>();
    if (type == "uint16") {
      d.token_type_ = TokenType::kUint16;
    } else if (type == "int32") {
      d.token_type_ = TokenType::kInt32;
    } else {
      throw Error(fmt::format("{}: unknown token_type '{}'", manifest_path.string(), type));
    }
    d.domains_ = d.manifest_.at("domains").get<std::vector<std::string>>();
    d.files_ = d.manifest_.at("files").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", manifest_path.string(), e.what()));
  }

  d.data_ = std::make_shared<MappedFile>(dir / kDataBin);
  uint64_t want = d.rows_ * d.seq_len_ * static_cast<uint64_t>(token_bytes(d.token_type_));
  if (d.data_->size() != want) {
    throw Error(fmt::format("{} holds {} bytes; the manifest's {} rows x {} tokens need {}",
                            (dir / kDataBin).string(), d.data_->size(), d.rows_, d.seq_len_, want));
  }

  fs::path spans_path = dir / kSpansBin;
  d.spans_ = std::make_shared<MappedFile>(spans_path);
  SpansFooter footer;
  if (d.spans_->size() < sizeof(footer))
    throw Error(fmt::format("{} is too short for its footer", spans_path.string()));
  std::memcpy(&footer, d.spans_->data() + d.spans_->size() - sizeof(footer), sizeof(footer));
  if (std::memcmp(footer.magic, kSpansMagic, sizeof(kSpansMagic)) != 0 || footer.version != 1 ||
      footer.record_bytes != sizeof(SpanRecord)) {
    throw Error(fmt::format("{}: bad footer (not a longctx spans file, or a newer version)",
                            spans_path.string()));
  }
  uint64_t expect = footer.spans * sizeof(SpanRecord) + (footer.rows + 1) * 8 + sizeof(footer);
  if (footer.rows != d.rows_ || d.spans_->size() != expect) {
    throw Error(fmt::format("{}: {} rows and {} bytes, expected {} rows and {} bytes",
                            spans_path.string(), footer.rows, d.spans_->size(), d.rows_, expect));
  }
  d.span_count_ = footer.spans;
  d.span_records_ = reinterpret_cast<const SpanRecord*>(d.spans_->data());
  d.row_begin_ =
      reinterpret_cast<const uint64_t*>(d.spans_->data() + footer.spans * sizeof(SpanRecord));
  for (uint64_t r = 0; r < d.rows_; ++r) {
    if (d.row_begin_[r] > d.row_begin_[r + 1] || d.row_begin_[r + 1] > d.span_count_)
      throw Error(fmt::format("{}: row index corrupt at row {}", spans_path.string(), r));
  }

  if (d.manifest_.value("doc_boundaries", false)) {
    d.segments_ = std::make_shared<MappedFile>(dir / kSegmentsBin);
    uint64_t width = d.seq_len_ <= 65536 ? 2 : 4;
    if (d.segments_->size() != d.rows_ * d.seq_len_ * width)
      throw Error(fmt::format("{} has the wrong size", (dir / kSegmentsBin).string()));
  }
  return d;
}

void PackedDataset::read_row(uint64_t row, std::span<int32_t> out) const {
  if (row >= rows_) throw Error(fmt::format("row {} out of range ({} rows)", row, rows_));
  if (out.size() != seq_len_) throw Error("read_row: output must hold seq_len tokens");
  if (token_type_ == TokenType::kUint16) {
    const auto* p = reinterpret_cast<const uint16_t*>(data_->data()) + row * seq_len_;
    for (uint32_t i = 0; i < seq_len_; ++i) out[i] = p[i];
  } else {
    std::memcpy(out.data(), data_->data() + row * seq_len_ * 4, seq_len_ * 4);
  }
}

std::vector<int32_t> PackedDataset::row(uint64_t row) const {
  std::vector<int32_t> out(seq_len_);
  read_row(row, out);
  return out;
}

void PackedDataset::read_segments(uint64_t row, std::span<int32_t> out) const {
  if (!segments_) throw Error("this dataset has no segment ids (mix without --doc-boundaries)");
  if (row >= rows_) throw Error(fmt::format("row {} out of range ({} rows)", row, rows_));
  if (out.size() != seq_len_) throw Error("read_segments: output must hold seq_len values");
  if (seq_len_ <= 65536) {
    const auto* p = reinterpret_cast<const uint16_t*>(segments_->data()) + row * seq_len_;
    for (uint32_t i = 0; i < seq_len_; ++i) out[i] = p[i];
  } else {
    std::memcpy(out.data(), segments_->data() + row * seq_len_ * 4, seq_len_ * 4);
  }
}

std::span<const SpanRecord> PackedDataset::spans(uint64_t row) const {
  if (row >= rows_) throw Error(fmt::format("row {} out of range ({} rows)", row, rows_));
  return {span_records_ + row_begin_[row], span_records_ + row_begin_[row + 1]};
}

}  // namespace longctx
