// The files of a packed dataset, as `longctx mix` writes them (docs/formats.md, "mix dataset").
//
//   DIR/data.bin, DIR/data.idx          Megatron-LM indexed dataset (MMIDIDX), one item per row
//   DIR/spans.bin                       the document spans of every row (layout below)
//   DIR/segments.bin, DIR/segments.idx  per-token segment ids (--doc-boundaries only)
//   DIR/rows.jsonl                      rows like the released dataset (--format jsonl only)
//   DIR/manifest.json                   what the reader needs: sizes, dtype, domains, files
//   DIR/report.json, DIR/report.svg     the mixture before and after (Figure 2)
//
// spans.bin, little-endian: SpanRecord[spans], then uint64 row_begin[rows + 1] (row r owns
// records [row_begin[r], row_begin[r+1])), then the 32-byte SpansFooter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace longctx {

inline constexpr std::string_view kDataBin = "data.bin";
inline constexpr std::string_view kDataIdx = "data.idx";
inline constexpr std::string_view kSpansBin = "spans.bin";
inline constexpr std::string_view kSegmentsBin = "segments.bin";
inline constexpr std::string_view kSegmentsIdx = "segments.idx";
inline constexpr std::string_view kRowsJsonl = "rows.jsonl";
inline constexpr std::string_view kManifestJson = "manifest.json";
inline constexpr std::string_view kReportJson = "report.json";
inline constexpr std::string_view kReportSvg = "report.svg";

// One piece of one document inside one row.
struct SpanRecord {
  uint32_t file = 0;    // index into manifest "files"
  uint32_t domain = 0;  // index into manifest "domains"
  uint64_t line = 0;    // 1-based line of the document in its file
  uint32_t start = 0;   // first token of the span in the row
  uint32_t end = 0;     // one past the last token
  uint64_t offset = 0;  // position of the span's first token among the document's written
                        // tokens (0: the document starts here, with its BOS if any)
};
static_assert(sizeof(SpanRecord) == 32);

inline constexpr char kSpansMagic[8] = {'L', 'C', 'S', 'P', 'A', 'N', 'S', '1'};

struct SpansFooter {
  uint64_t rows = 0;
  uint64_t spans = 0;
  uint32_t version = 1;
  uint32_t record_bytes = sizeof(SpanRecord);
  char magic[8] = {'L', 'C', 'S', 'P', 'A', 'N', 'S', '1'};
};
static_assert(sizeof(SpansFooter) == 32);

// Token storage of data.bin (and segments.bin).
enum class TokenType { kUint16, kInt32 };

inline int token_bytes(TokenType type) {
  return type == TokenType::kUint16 ? 2 : 4;
}
// Megatron-LM's dtype codes: 4 = int32, 8 = uint16.
inline uint8_t megatron_dtype_code(TokenType type) {
  return type == TokenType::kUint16 ? 8 : 4;
}
inline std::string_view token_type_name(TokenType type) {
  return type == TokenType::kUint16 ? "uint16" : "int32";
}

// Writes a Megatron MMIDIDX index for `rows` items of `row_length` tokens each, every item its
// own document: header (magic "MMIDIDX\0\0", version 1, dtype code, sequence count, document
// count), int32 lengths, int64 byte pointers, int64 document indices 0..rows. Atomic.
void write_megatron_index(const std::filesystem::path& path, TokenType type, uint64_t rows,
                          uint64_t row_length);

}  // namespace longctx
