// An independent reader of Megatron-LM's indexed dataset (a `.idx` + `.bin` pair, "MMIDIDX"),
// written for tests from the layout that megatron/core/datasets/indexed_dataset.py publishes
// (_IndexWriter / _IndexReader / IndexedDatasetBuilder), and from nothing in longctx, so that
// a longctx writer can be checked against it. It validates every field on open and throws
// std::runtime_error naming the file, what was expected and what was found.
//
//   MegatronDataset data = read_megatron(dir.path() / "corpus_text_document");
//   EXPECT_EQ(data.dtype_name, "uint16");
//   std::vector<int64_t> tokens = data.sequence(0);
//
// Layout. Every integer is little-endian; arrays are packed, with no padding between them.
//
//   <prefix>.idx
//     offset  bytes        field
//     0       9            magic "MMIDIDX\x00\x00"
//     9       8   uint64   version, always 1
//     17      1   uint8    dtype code of the tokens in .bin (table below)
//     18      8   uint64   S, sequence count
//     26      8   uint64   D, document-index count (documents + 1)
//     34      4*S int32    sequence_lengths[S]: tokens in sequence i
//     34+4S   8*S int64    sequence_pointers[S]: byte offset of sequence i in .bin
//     34+12S  8*D int64    document_indices[D]: 0, then the sequence index one past the end
//                          of each document; the last entry is S
//     34+12S+8D            end of file (multimodal datasets append int8 modes[S]; this
//                          reader rejects them as trailing bytes)
//
//   <prefix>.bin
//     the tokens of sequence 0, 1, ..., S-1, back to back, each token a little-endian
//     value of the dtype; so sequence_pointers[0] = 0, sequence_pointers[i+1] =
//     sequence_pointers[i] + sequence_lengths[i] * element size, and the file is exactly
//     sum(sequence_lengths) * element size bytes.
//
//   dtype code  1 uint8  2 int8  3 int16  4 int32  5 int64  6 float64  7 float32  8 uint16
//   (bytes)       1        1       2        4        8        8          4          2
//   Megatron picks uint16 for vocabularies under 65,500 tokens and int32 otherwise.
//
// Worked example: documents [[5, 6, 7], [8]] of one sequence each, dtype uint16 (code 8):
//   .idx  "MMIDIDX\0\0" | 1 | 8 | S=2 | D=3 | lengths 3,1 | pointers 0,6 | documents 0,1,2
//   .bin  05 00 06 00 07 00 08 00   (8 bytes = (3 + 1) * 2)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace longctx::testing {

// The name ("uint16") and size in bytes of a Megatron dtype code; throw std::runtime_error
// for a code outside 1..8.
std::string megatron_dtype_name(uint8_t dtype_code);
size_t megatron_dtype_bytes(uint8_t dtype_code);

// A validated dataset: the whole index in memory; tokens are read from .bin on demand.
struct MegatronDataset {
  std::filesystem::path idx_path;
  std::filesystem::path bin_path;
  uint8_t dtype_code = 0;    // 1..8, see the table above
  std::string dtype_name;    // "uint16", "int32", ...
  size_t element_bytes = 0;  // bytes per token in .bin
  uint64_t bin_bytes = 0;    // size of .bin

  std::vector<int32_t> sequence_lengths;   // [S] tokens per sequence
  std::vector<int64_t> sequence_pointers;  // [S] byte offset of each sequence in .bin
  std::vector<int64_t> document_indices;   // [D] 0, ..., S; document d is sequences
                                           //     [document_indices[d], document_indices[d+1])

  size_t sequence_count() const { return sequence_lengths.size(); }
  size_t document_count() const {
    return document_indices.empty() ? 0 : document_indices.size() - 1;
  }

  // The tokens of sequence i, read from .bin and widened to int64. Throws std::runtime_error
  // when i is out of range, the .bin cannot be read, or the dtype is a float type.
  std::vector<int64_t> sequence(size_t i) const;
};

// Reads and validates prefix.idx and prefix.bin (prefix has no extension). Throws
// std::runtime_error on a missing file, bad magic, version other than 1, unknown dtype code,
// an .idx whose size does not match its counts, a negative length, a pointer that is not the
// running sum of lengths x element size, an .bin whose size is not that sum, or document
// indices that do not start at 0, decrease, or do not end at the sequence count.
MegatronDataset read_megatron(const std::filesystem::path& prefix);

}  // namespace longctx::testing
