// Megatron-LM indexed dataset reader (PREFIX.idx + PREFIX.bin, "MMIDIDX"), from the layout of
// megatron/core/datasets/indexed_dataset.py, for the trainer: the sequences are one token stream
// that the trainer cuts into rows. Both files are memory-mapped, and opening checks every size,
// pointer and index, so a truncated or inconsistent dataset fails at open, not mid-training.
//
//   MegatronDataset data = MegatronDataset::open("data/corpus_text_document");
//   std::vector<int32_t> ids(4096);
//   data.read_stream(/*first_token=*/8192, ids);        // tokens [8192, 12288) of the stream
//   uint64_t s = data.sequence_at(8192);                // the sequence holding token 8192
//
// Layout, little-endian, arrays packed with no padding (S sequences, D document indices):
//
//   PREFIX.idx  "MMIDIDX\0\0" (9 bytes) | uint64 version 1 | uint8 dtype code | uint64 S |
//               uint64 D | int32 lengths[S] | int64 byte pointers[S] | int64 documents[D]
//   PREFIX.bin  the tokens of sequences 0 .. S-1 back to back
//
//   dtype code  1 uint8  2 int8  3 int16  4 int32  5 int64  8 uint16   (token ids: accepted)
//               6 float64  7 float32                                   (not token ids: rejected)
//
// pointers[i] is the byte offset of sequence i in .bin: the running sum of the earlier lengths
// times the token size, so sequence i starts at stream token pointers[i] / token size.
// Worked example, sequences [5, 3] of uint16: lengths 5,3 | pointers 0,10 | .bin 16 bytes;
// sequence 1 starts at stream token 5. documents[] is 0, ..., S (a document is a run of
// sequences); the trainer treats every sequence as a document, as Megatron's GPT dataset does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "longctx/base/files.h"

namespace longctx {

class MegatronDataset {
 public:
  // `prefix` has no extension: reads prefix.idx and prefix.bin. Throws Error naming the file
  // and the problem (missing file, bad magic, version other than 1, a float or unknown dtype,
  // an .idx or .bin whose size does not match its counts, a pointer that is not the running
  // sum of lengths, document indices that are not 0, ..., S).
  static MegatronDataset open(const std::filesystem::path& prefix);

  const std::filesystem::path& prefix() const { return prefix_; }
  uint8_t dtype_code() const { return dtype_code_; }
  std::string_view dtype_name() const;
  uint32_t token_bytes() const { return token_bytes_; }

  uint64_t sequences() const { return sequences_; }
  uint64_t documents() const { return documents_; }
  uint64_t total_tokens() const { return total_tokens_; }
  uint32_t sequence_length(uint64_t sequence) const;
  // Stream offset of the sequence's first token; sequence_start(sequences()) = total_tokens().
  uint64_t sequence_start(uint64_t sequence) const;
  // The sequence holding stream token `token` (< total_tokens()); never an empty sequence.
  uint64_t sequence_at(uint64_t token) const;
  // Stream offsets in [first_token, first_token + tokens) where a non-empty sequence starts,
  // ascending: the document boundaries of that stretch of the stream.
  std::vector<uint64_t> sequence_starts_in(uint64_t first_token, uint64_t tokens) const;

  // Tokens [first_token, first_token + out.size()) of the stream, widened to int32. Throws
  // Error when the range passes the end, or a token is negative or above INT32_MAX.
  void read_stream(uint64_t first_token, std::span<int32_t> out) const;

 private:
  int64_t pointer(uint64_t sequence) const;  // loaded from the (unaligned) mapped index

  std::filesystem::path prefix_;
  uint8_t dtype_code_ = 0;
  uint32_t token_bytes_ = 0;
  uint64_t sequences_ = 0, documents_ = 0, total_tokens_ = 0;
  std::unique_ptr<MappedFile> idx_, bin_;
  const char* lengths_ = nullptr;   // int32[S] in idx_
  const char* pointers_ = nullptr;  // int64[S] in idx_
};

}  // namespace longctx
