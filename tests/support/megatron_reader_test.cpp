// Tests of the independent Megatron indexed-dataset reader on .idx/.bin files assembled byte by
// byte here from the published layout (see megatron_reader.h), never by a longctx writer: good
// datasets of uint16 and int32 tokens, every integer dtype at its extremes, and corrupted
// variants that must each fail with a message naming the fault.
#include "support/megatron_reader.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace longctx::testing {
namespace {

namespace fs = std::filesystem;

// Appends the low `bytes` bytes of `value`, least significant first (two's complement for
// negative values).
void put_le(std::string& out, int64_t value, int bytes) {
  const auto bits = static_cast<uint64_t>(value);
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xff));
}

// Every field of a dataset as it goes on disk; tests corrupt a field, then write().
struct RawDataset {
  std::string magic{"MMIDIDX\0\0", 9};
  uint64_t version = 1;
  uint8_t dtype_code = 0;
  std::vector<int32_t> lengths;
  std::vector<int64_t> pointers;
  std::vector<int64_t> document_indices;
  std::string bin;          // the token bytes
  std::string idx_trailer;  // bytes after the arrays (none in a good file)

  std::string idx() const {
    std::string out = magic;
    put_le(out, static_cast<int64_t>(version), 8);
    out.push_back(static_cast<char>(dtype_code));
    put_le(out, static_cast<int64_t>(lengths.size()), 8);           // S
    put_le(out, static_cast<int64_t>(document_indices.size()), 8);  // D
    for (int32_t length : lengths) put_le(out, length, 4);
    for (int64_t pointer : pointers) put_le(out, pointer, 8);
    for (int64_t index : document_indices) put_le(out, index, 8);
    return out + idx_trailer;
  }

  fs::path write(const fs::path& dir) const {
    fs::path prefix = dir / "data_text_document";
    write_file(prefix.string() + ".idx", idx());
    write_file(prefix.string() + ".bin", bin);
    return prefix;
  }
};

// Three documents: d0 = sequences 0,1 (3 and 0 tokens), d1 = sequence 2 (5 tokens), d2 =
// sequence 3 (1 token). Token values are 100 * sequence + position, except the last, which is
// above int16 so that an unsigned read is needed.
//   uint16 pointers: 0, 6, 6, 16; .bin 9 tokens = 18 bytes.
RawDataset uint16_dataset() {
  RawDataset raw;
  raw.dtype_code = 8;
  raw.lengths = {3, 0, 5, 1};
  raw.pointers = {0, 6, 6, 16};
  raw.document_indices = {0, 2, 3, 4};
  for (int64_t token : {0, 1, 2, 200, 201, 202, 203, 204, 65000}) put_le(raw.bin, token, 2);
  return raw;
}

// Two documents of Llama-3-sized ids (above uint16) and one negative value, to check sign
// extension: d0 = sequence 0 (2 tokens), d1 = sequences 1,2 (1 and 3 tokens).
//   int32 pointers: 0, 8, 12; .bin 6 tokens = 24 bytes.
RawDataset int32_dataset() {
  RawDataset raw;
  raw.dtype_code = 4;
  raw.lengths = {2, 1, 3};
  raw.pointers = {0, 8, 12};
  raw.document_indices = {0, 1, 3};
  for (int64_t token : {128000, 128255, 70000, 0, -1, 2147483647}) put_le(raw.bin, token, 4);
  return raw;
}

// The message read_megatron throws for `raw`, or "" when it does not throw.
std::string read_error(const RawDataset& raw) {
  TempDir dir;
  try {
    read_megatron(raw.write(dir.path()));
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "";
}

void expect_error(const RawDataset& raw, const std::string& needle) {
  const std::string message = read_error(raw);
  EXPECT_NE(message.find(needle), std::string::npos)
      << "expected an error containing \"" << needle << "\", got \"" << message << "\"";
}

TEST(MegatronReader, DtypeTableFollowsMegatron) {
  const std::vector<std::pair<std::string, size_t>> expected = {
      {"uint8", 1}, {"int8", 1},    {"int16", 2},   {"int32", 4},
      {"int64", 8}, {"float64", 8}, {"float32", 4}, {"uint16", 2}};
  for (uint8_t code = 1; code <= 8; ++code) {
    EXPECT_EQ(megatron_dtype_name(code), expected[code - 1].first) << "code " << int{code};
    EXPECT_EQ(megatron_dtype_bytes(code), expected[code - 1].second) << "code " << int{code};
  }
  EXPECT_THROW(megatron_dtype_name(0), std::runtime_error);
  EXPECT_THROW(megatron_dtype_bytes(9), std::runtime_error);
}

// The worked example of megatron_reader.h, spelled out byte by byte.
TEST(MegatronReader, ReadsTheWorkedExampleBytes) {
  // clang-format off
  const std::string idx(
      "MMIDIDX\0\0"                                                 // magic
      "\x01\0\0\0\0\0\0\0"                                          // version 1
      "\x08"                                                        // dtype uint16
      "\x02\0\0\0\0\0\0\0"                                          // S = 2
      "\x03\0\0\0\0\0\0\0"                                          // D = 3
      "\x03\0\0\0" "\x01\0\0\0"                                     // lengths 3, 1
      "\0\0\0\0\0\0\0\0" "\x06\0\0\0\0\0\0\0"                       // pointers 0, 6
      "\0\0\0\0\0\0\0\0" "\x01\0\0\0\0\0\0\0" "\x02\0\0\0\0\0\0\0",  // documents 0, 1, 2
      9 + 8 + 1 + 8 + 8 + 2 * 4 + 2 * 8 + 3 * 8);
  // clang-format on
  const std::string bin("\x05\0\x06\0\x07\0\x08\0", 8);
  TempDir dir;
  write_file(dir.path() / "example.idx", idx);
  write_file(dir.path() / "example.bin", bin);

  MegatronDataset data = read_megatron(dir.path() / "example");
  EXPECT_EQ(data.dtype_code, 8);
  EXPECT_EQ(data.dtype_name, "uint16");
  EXPECT_EQ(data.element_bytes, 2u);
  EXPECT_EQ(data.bin_bytes, 8u);
  EXPECT_EQ(data.sequence_lengths, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(data.sequence_pointers, (std::vector<int64_t>{0, 6}));
  EXPECT_EQ(data.document_indices, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(data.sequence(0), (std::vector<int64_t>{5, 6, 7}));
  EXPECT_EQ(data.sequence(1), (std::vector<int64_t>{8}));
}

TEST(MegatronReader, ReadsUint16Dataset) {
  TempDir dir;
  MegatronDataset data = read_megatron(uint16_dataset().write(dir.path()));
  EXPECT_EQ(data.dtype_code, 8);
  EXPECT_EQ(data.dtype_name, "uint16");
  EXPECT_EQ(data.element_bytes, 2u);
  EXPECT_EQ(data.bin_bytes, 18u);
  EXPECT_EQ(data.idx_path, dir.path() / "data_text_document.idx");
  EXPECT_EQ(data.bin_path, dir.path() / "data_text_document.bin");
  ASSERT_EQ(data.sequence_count(), 4u);
  EXPECT_EQ(data.document_count(), 3u);
  EXPECT_EQ(data.sequence_lengths, (std::vector<int32_t>{3, 0, 5, 1}));
  EXPECT_EQ(data.sequence_pointers, (std::vector<int64_t>{0, 6, 6, 16}));
  EXPECT_EQ(data.document_indices, (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(data.sequence(0), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(data.sequence(1), (std::vector<int64_t>{}));
  EXPECT_EQ(data.sequence(2), (std::vector<int64_t>{200, 201, 202, 203, 204}));
  EXPECT_EQ(data.sequence(3), (std::vector<int64_t>{65000}));
  EXPECT_THROW(data.sequence(4), std::runtime_error);
}

TEST(MegatronReader, ReadsInt32Dataset) {
  TempDir dir;
  MegatronDataset data = read_megatron(int32_dataset().write(dir.path()));
  EXPECT_EQ(data.dtype_code, 4);
  EXPECT_EQ(data.dtype_name, "int32");
  EXPECT_EQ(data.element_bytes, 4u);
  EXPECT_EQ(data.bin_bytes, 24u);
  ASSERT_EQ(data.sequence_count(), 3u);
  EXPECT_EQ(data.document_count(), 2u);
  EXPECT_EQ(data.sequence_lengths, (std::vector<int32_t>{2, 1, 3}));
  EXPECT_EQ(data.sequence_pointers, (std::vector<int64_t>{0, 8, 12}));
  EXPECT_EQ(data.document_indices, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(data.sequence(0), (std::vector<int64_t>{128000, 128255}));
  EXPECT_EQ(data.sequence(1), (std::vector<int64_t>{70000}));
  EXPECT_EQ(data.sequence(2), (std::vector<int64_t>{0, -1, 2147483647}));
}

TEST(MegatronReader, ReadsEmptyDataset) {
  RawDataset raw;
  raw.dtype_code = 8;
  raw.document_indices = {0};
  TempDir dir;
  MegatronDataset data = read_megatron(raw.write(dir.path()));
  EXPECT_EQ(data.sequence_count(), 0u);
  EXPECT_EQ(data.document_count(), 0u);
  EXPECT_EQ(data.bin_bytes, 0u);
}

// One sequence [min, max] for each integer dtype: widening keeps the value and the sign.
TEST(MegatronReader, WidensEveryIntegerDtype) {
  struct Case {
    uint8_t code;
    int bytes;
    int64_t min;
    int64_t max;
  };
  const std::vector<Case> cases = {
      {1, 1, 0, 255},
      {2, 1, -128, 127},
      {3, 2, -32768, 32767},
      {4, 4, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()},
      {5, 8, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
      {8, 2, 0, 65535}};
  for (const Case& c : cases) {
    RawDataset raw;
    raw.dtype_code = c.code;
    raw.lengths = {2};
    raw.pointers = {0};
    raw.document_indices = {0, 1};
    put_le(raw.bin, c.min, c.bytes);
    put_le(raw.bin, c.max, c.bytes);
    TempDir dir;
    MegatronDataset data = read_megatron(raw.write(dir.path()));
    EXPECT_EQ(data.sequence(0), (std::vector<int64_t>{c.min, c.max})) << data.dtype_name;
  }
}

TEST(MegatronReader, FloatDtypeOpensButHasNoTokens) {
  RawDataset raw;
  raw.dtype_code = 7;  // float32
  raw.lengths = {1};
  raw.pointers = {0};
  raw.document_indices = {0, 1};
  raw.bin = std::string(4, '\0');
  TempDir dir;
  MegatronDataset data = read_megatron(raw.write(dir.path()));
  EXPECT_EQ(data.dtype_name, "float32");
  EXPECT_THROW(data.sequence(0), std::runtime_error);
}

TEST(MegatronReader, GoodFixturesHaveNoError) {
  EXPECT_EQ(read_error(uint16_dataset()), "");
  EXPECT_EQ(read_error(int32_dataset()), "");
}

TEST(MegatronReader, RejectsBadMagic) {
  RawDataset raw = uint16_dataset();
  raw.magic[0] = 'X';
  expect_error(raw, "bad magic");
  raw = uint16_dataset();
  raw.magic[8] = '\x01';  // the two trailing NULs are part of the magic
  expect_error(raw, "bad magic");
}

TEST(MegatronReader, RejectsOtherVersions) {
  RawDataset raw = uint16_dataset();
  raw.version = 2;
  expect_error(raw, "version 2, expected 1");
}

TEST(MegatronReader, RejectsUnknownDtypeCodes) {
  RawDataset raw = uint16_dataset();
  raw.dtype_code = 0;
  expect_error(raw, "unknown Megatron dtype code 0");
  raw.dtype_code = 9;
  expect_error(raw, "unknown Megatron dtype code 9");
}

// A known but wrong code: the uint16 tokens read as int32 no longer match the pointers.
TEST(MegatronReader, RejectsDtypeThatDisagreesWithPointers) {
  RawDataset raw = uint16_dataset();
  raw.dtype_code = 4;  // int32
  expect_error(raw, "sequence 1 pointer is 6, expected 12");
}

// The right pointers for the wrong code: the .bin is then the wrong size.
TEST(MegatronReader, RejectsDtypeThatDisagreesWithBinSize) {
  RawDataset raw = uint16_dataset();
  raw.dtype_code = 4;  // int32
  raw.pointers = {0, 12, 12, 32};
  expect_error(raw, "file is 18 bytes, but the index's 4 sequences need 36 bytes of int32");
}

TEST(MegatronReader, RejectsTruncatedBin) {
  RawDataset raw = uint16_dataset();
  raw.bin.pop_back();
  expect_error(raw, "file is 17 bytes, but the index's 4 sequences need 18 bytes");
  raw.bin.clear();
  expect_error(raw, "file is 0 bytes, but the index's 4 sequences need 18 bytes");
}

TEST(MegatronReader, RejectsBinWithExtraBytes) {
  RawDataset raw = int32_dataset();
  raw.bin += std::string(4, '\0');
  expect_error(raw, "file is 28 bytes, but the index's 3 sequences need 24 bytes");
}

TEST(MegatronReader, RejectsMissingFiles) {
  TempDir dir;
  fs::path prefix = uint16_dataset().write(dir.path());
  fs::remove(prefix.string() + ".bin");
  EXPECT_THROW(read_megatron(prefix), std::runtime_error);
  fs::remove(prefix.string() + ".idx");
  EXPECT_THROW(read_megatron(prefix), std::runtime_error);
}

TEST(MegatronReader, RejectsTruncatedIdx) {
  const RawDataset raw = uint16_dataset();
  const std::string idx = raw.idx();
  for (size_t cut : {size_t{0}, size_t{20}, size_t{33}, size_t{34}, idx.size() - 1}) {
    TempDir dir;
    write_file(dir.path() / "d.idx", idx.substr(0, cut));
    write_file(dir.path() / "d.bin", raw.bin);
    EXPECT_THROW(read_megatron(dir.path() / "d"), std::runtime_error) << "cut at " << cut;
  }
}

TEST(MegatronReader, RejectsTrailingIdxBytes) {
  RawDataset raw = uint16_dataset();
  raw.idx_trailer = std::string(4, '\0');  // e.g. the int8 modes of a multimodal dataset
  expect_error(raw, "trailing bytes");
}

TEST(MegatronReader, RejectsPointersThatDoNotFollowLengths) {
  RawDataset raw = uint16_dataset();
  raw.pointers[0] = 2;
  expect_error(raw, "sequence 0 pointer is 2, expected 0");
  raw = uint16_dataset();
  raw.pointers[3] = 18;
  expect_error(raw, "sequence 3 pointer is 18, expected 16");
}

TEST(MegatronReader, RejectsNegativeLength) {
  RawDataset raw = int32_dataset();
  raw.lengths[1] = -1;
  expect_error(raw, "sequence 1 has negative length -1");
}

TEST(MegatronReader, RejectsBadDocumentIndices) {
  RawDataset raw = uint16_dataset();
  raw.document_indices = {1, 2, 3, 4};
  expect_error(raw, "document_indices[0] is 1, expected 0");
  raw.document_indices = {0, 3, 2, 4};
  expect_error(raw, "document_indices[2] is 2, less than document_indices[1] = 3");
  raw.document_indices = {0, 2, 3};
  expect_error(raw, "last document index is 3, expected the sequence count 4");
  raw.document_indices = {0, 2, 3, 5};
  expect_error(raw, "last document index is 5, expected the sequence count 4");
  raw.document_indices = {};
  expect_error(raw, "no document indices");
}

}  // namespace
}  // namespace longctx::testing
