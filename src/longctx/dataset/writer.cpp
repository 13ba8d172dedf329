#include "longctx/dataset/writer.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

void write_megatron_index(const fs::path& path, TokenType type, uint64_t rows,
                          uint64_t row_length) {
  AtomicFile out(path);
  std::ofstream& s = out.stream();
  auto put = [&](const auto& value) {
    s.write(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  s.write("MMIDIDX\0\0", 9);
  put(uint64_t{1});
  put(megatron_dtype_code(type));
  put(rows);      // sequences
  put(rows + 1);  // document indices: every row is a document of its own
  std::vector<int32_t> lengths(rows, static_cast<int32_t>(row_length));
  s.write(reinterpret_cast<const char*>(lengths.data()),
          static_cast<std::streamsize>(lengths.size() * sizeof(int32_t)));
  std::vector<int64_t> values(rows + 1);
  for (uint64_t r = 0; r < rows; ++r)
    values[r] = static_cast<int64_t>(r * row_length * token_bytes(type));
  s.write(reinterpret_cast<const char*>(values.data()),
          static_cast<std::streamsize>(rows * sizeof(int64_t)));
  for (uint64_t r = 0; r <= rows; ++r) values[r] = static_cast<int64_t>(r);
  s.write(reinterpret_cast<const char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(int64_t)));
  out.commit();
}

nlohmann::json WriterCheckpoint::to_json() const {
  return {{"rows", rows},
          {"data_bytes", data_bytes},
          {"spans_bytes", spans_bytes},
          {"row_index_bytes", row_index_bytes},
          {"segments_bytes", segments_bytes},
          {"jsonl_bytes", jsonl_bytes},
          {"pieces_bytes", pieces_bytes}};
}

WriterCheckpoint WriterCheckpoint::from_json(const nlohmann::json& json) {
  WriterCheckpoint c;
  c.rows = json.at("rows").get<uint64_t>();
  c.data_bytes = json.at("data_bytes").get<uint64_t>();
  c.spans_bytes = json.at("spans_bytes").get<uint64_t>();
  c.row_index_bytes = json.at("row_index_bytes").get<uint64_t>();
  c.segments_bytes = json.at("segments_bytes").get<uint64_t>();
  c.jsonl_bytes = json.at("jsonl_bytes").get<uint64_t>();
  c.pieces_bytes = json.at("pieces_bytes").get<uint64_t>();
  return c;
}

fs::path DatasetWriter::pieces_path(const fs::path& state_dir) {
  return state_dir / "pieces.partial";
}

fs::path DatasetWriter::partial(std::string_view name) const {
  return layout_.dir / fmt::format("{}.partial", name);
}

DatasetWriter::DatasetWriter(DatasetLayout layout, const WriterCheckpoint* resume)
    : layout_(std::move(layout)) {
  WriterCheckpoint at = resume != nullptr ? *resume : WriterCheckpoint{};
  rows_ = at.rows;
  spans_ = at.spans_bytes / sizeof(SpanRecord);
  data_.emplace(partial(kDataBin), at.data_bytes);
  spans_file_.emplace(partial(kSpansBin), at.spans_bytes);
  row_index_.emplace(partial("spans-rows.bin"), at.row_index_bytes);
  if (layout_.segments) segments_.emplace(partial(kSegmentsBin), at.segments_bytes);
  if (layout_.jsonl) jsonl_.emplace(partial(kRowsJsonl), at.jsonl_bytes);
  pieces_.emplace(pieces_path(layout_.state_dir), at.pieces_bytes);
}

void DatasetWriter::write_row(std::span<const int32_t> tokens, std::span<const SpanRecord> spans) {
  if (tokens.size() != layout_.seq_len)
    throw Error(
        fmt::format("internal: row of {} tokens, expected {}", tokens.size(), layout_.seq_len));
  if (layout_.token_type == TokenType::kUint16) {
    scratch_.resize(tokens.size() * 2);
    auto* out = reinterpret_cast<uint16_t*>(scratch_.data());
    for (size_t i = 0; i < tokens.size(); ++i) out[i] = static_cast<uint16_t>(tokens[i]);
    data_->append(scratch_.data(), scratch_.size());
  } else {
    data_->append(tokens.data(), tokens.size_bytes());
  }
  spans_file_->append(spans.data(), spans.size_bytes());
  spans_ += spans.size();
  row_index_->append(&spans_, sizeof(spans_));
  if (segments_) {
    bool narrow = layout_.seq_len <= 65536;
    scratch_.resize(tokens.size() * (narrow ? 2 : 4));
    for (size_t j = 0; j < spans.size(); ++j) {
      for (uint32_t t = spans[j].start; t < spans[j].end; ++t) {
        if (narrow) {
          reinterpret_cast<uint16_t*>(scratch_.data())[t] = static_cast<uint16_t>(j);
        } else {
          reinterpret_cast<int32_t*>(scratch_.data())[t] = static_cast<int32_t>(j);
        }
      }
    }
    segments_->append(scratch_.data(), scratch_.size());
  }
  if (jsonl_) {
    line_.clear();
    line_ += "{\"input_ids\": [";
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) line_ += ", ";
      fmt::format_to(std::back_inserter(line_), "{}", tokens[i]);
    }
    line_ += "], \"source\": [";
    for (size_t j = 0; j < spans.size(); ++j) {
      const SpanRecord& s = spans[j];
      nlohmann::json domain = layout_.domains.at(s.domain);
      nlohmann::json document = fmt::format("{}:{}", layout_.files.at(s.file), s.line);
      fmt::format_to(std::back_inserter(line_),
                     "{}{{\"source\": {}, \"start\": {}, \"end\": {}, \"document\": {}, "
                     "\"offset\": {}}}",
                     j > 0 ? ", " : "", domain.dump(), s.start, s.end, document.dump(), s.offset);
    }
    line_ += "]}\n";
    jsonl_->append(line_.data(), line_.size());
  }
  ++rows_;
}

void DatasetWriter::add_piece(uint32_t domain, uint64_t tokens) {
  PieceRecord record{domain, 0, tokens};
  pieces_->append(&record, sizeof(record));
}

WriterCheckpoint DatasetWriter::sync() {
  WriterCheckpoint at;
  at.rows = rows_;
  at.data_bytes = data_->sync();
  at.spans_bytes = spans_file_->sync();
  at.row_index_bytes = row_index_->sync();
  if (segments_) at.segments_bytes = segments_->sync();
  if (jsonl_) at.jsonl_bytes = jsonl_->sync();
  at.pieces_bytes = pieces_->sync();
  return at;
}

void DatasetWriter::finish() {
  // spans.bin = records, then row_begin[rows + 1], then the footer.
  row_index_->sync();
  std::string index = read_file(row_index_->path());
  uint64_t zero = 0;
  spans_file_->append(&zero, sizeof(zero));
  spans_file_->append(index.data(), index.size());
  SpansFooter footer;
  footer.rows = rows_;
  footer.spans = spans_;
  spans_file_->append(&footer, sizeof(footer));
  sync();
  write_megatron_index(layout_.dir / kDataIdx, layout_.token_type, rows_, layout_.seq_len);
  if (segments_) {
    TokenType type = layout_.seq_len <= 65536 ? TokenType::kUint16 : TokenType::kInt32;
    write_megatron_index(layout_.dir / kSegmentsIdx, type, rows_, layout_.seq_len);
  }
  data_.reset();
  spans_file_.reset();
  segments_.reset();
  jsonl_.reset();
  pieces_.reset();
  row_index_.reset();
  // rename_partials() removes the row index after the renames: until data.bin carries its
  // name, a resume rebuilds the files from the checkpoint, and that needs the row index.
  rename_partials(layout_.dir);
}

void DatasetWriter::rename_partials(const fs::path& dir) {
  for (std::string_view name : {kDataBin, kSpansBin, kSegmentsBin, kRowsJsonl}) {
    fs::path from = dir / fmt::format("{}.partial", name);
    if (!fs::exists(from)) continue;
    std::error_code ec;
    fs::rename(from, dir / name, ec);
    if (ec) {
      throw Error(fmt::format("cannot rename {} to {}: {}", from.string(), (dir / name).string(),
                              ec.message()));
    }
  }
  std::error_code ignored;  // copied into spans.bin by finish()
  fs::remove(dir / "spans-rows.bin.partial", ignored);
}

std::vector<PieceRecord> DatasetWriter::read_pieces(const fs::path& state_dir) {
  std::string raw = read_file(pieces_path(state_dir));
  std::vector<PieceRecord> pieces(raw.size() / sizeof(PieceRecord));
  if (!pieces.empty()) std::memcpy(pieces.data(), raw.data(), pieces.size() * sizeof(PieceRecord));
  return pieces;
}

}  // namespace longctx
