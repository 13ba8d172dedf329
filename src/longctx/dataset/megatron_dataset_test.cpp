#include "longctx/dataset/megatron_dataset.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/dataset/format.h"
#include "support/fixtures.h"
#include "support/megatron_reader.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

// Bytes of a Megatron dataset written by hand from the published layout, so that each field
// can be corrupted: header at 0 (magic 9, version 8, dtype 1, S 8, D 8), lengths at 34,
// pointers at 34 + 4 S, document indices at 34 + 12 S.
constexpr size_t kVersionAt = 9, kDtypeAt = 17, kLengthsAt = 34;

size_t dtype_bytes(uint8_t code) {
  switch (code) {
    case 1:
    case 2:
      return 1;
    case 3:
    case 8:
      return 2;
    case 4:
    case 7:
      return 4;
    default:
      return 8;
  }
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

struct MegatronBytes {
  std::string idx, bin;
};

// Every sequence its own document; values are stored in the low dtype_bytes(code) bytes.
MegatronBytes megatron_bytes(uint8_t code, const std::vector<std::vector<int64_t>>& sequences) {
  MegatronBytes b;
  const size_t width = dtype_bytes(code);
  b.idx.append("MMIDIDX\0\0", 9);
  put<uint64_t>(b.idx, 1);
  put<uint8_t>(b.idx, code);
  put<uint64_t>(b.idx, sequences.size());
  put<uint64_t>(b.idx, sequences.size() + 1);
  for (const auto& s : sequences) put<int32_t>(b.idx, static_cast<int32_t>(s.size()));
  int64_t pointer = 0;
  for (const auto& s : sequences) {
    put<int64_t>(b.idx, pointer);
    pointer += static_cast<int64_t>(s.size() * width);
  }
  for (size_t d = 0; d <= sequences.size(); ++d) put<int64_t>(b.idx, static_cast<int64_t>(d));
  for (const auto& s : sequences) {
    for (int64_t v : s) {
      char bytes[8];
      std::memcpy(bytes, &v, 8);  // little-endian: the low bytes come first
      b.bin.append(bytes, width);
    }
  }
  return b;
}

void write_bytes(const fs::path& prefix, const MegatronBytes& b) {
  testing::write_file(prefix.string() + ".idx", b.idx);
  testing::write_file(prefix.string() + ".bin", b.bin);
}

// Sequences of the given lengths whose tokens are their stream positions: [2, 1] -> {0 1}{2}.
std::vector<std::vector<int64_t>> positions(const std::vector<size_t>& lengths) {
  std::vector<std::vector<int64_t>> out;
  int64_t next = 0;
  for (size_t n : lengths) {
    out.emplace_back(n);
    std::iota(out.back().begin(), out.back().end(), next);
    next += static_cast<int64_t>(n);
  }
  return out;
}

std::vector<int32_t> iota32(size_t n, int32_t first) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// The message of the Error that open() throws, or "" when it opens.
std::string open_error(const fs::path& prefix) {
  try {
    MegatronDataset::open(prefix);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MegatronDataset, ReadsFixedRowsWrittenByWriteMegatronIndex) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "rows";
  write_megatron_index(prefix.string() + ".idx", TokenType::kUint16, /*rows=*/3,
                       /*row_length=*/4);
  std::string bin;
  for (uint16_t i = 0; i < 12; ++i) put<uint16_t>(bin, i);
  testing::write_file(prefix.string() + ".bin", bin);

  MegatronDataset data = MegatronDataset::open(prefix);
  EXPECT_EQ(data.dtype_name(), "uint16");
  EXPECT_EQ(data.token_bytes(), 2u);
  EXPECT_EQ(data.sequences(), 3u);
  EXPECT_EQ(data.documents(), 3u);
  EXPECT_EQ(data.total_tokens(), 12u);
  EXPECT_EQ(data.sequence_length(2), 4u);
  EXPECT_EQ(data.sequence_start(1), 4u);
  EXPECT_EQ(data.sequence_start(3), 12u);
  EXPECT_EQ(data.sequence_at(7), 1u);
  std::vector<int32_t> ids(4);
  data.read_stream(5, ids);  // across the boundary of sequences 1 and 2
  EXPECT_EQ(ids, iota32(4, 5));
  std::vector<int32_t> all(12);
  data.read_stream(0, all);
  EXPECT_EQ(all, iota32(12, 0));
}

TEST(MegatronDataset, ReadsInt32RowsWrittenByWriteMegatronIndex) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "rows";
  write_megatron_index(prefix.string() + ".idx", TokenType::kInt32, /*rows=*/2, /*row_length=*/3);
  std::string bin;
  for (int32_t i = 0; i < 6; ++i) put<int32_t>(bin, 100000 + i);  // above uint16
  testing::write_file(prefix.string() + ".bin", bin);
  MegatronDataset data = MegatronDataset::open(prefix);
  EXPECT_EQ(data.dtype_name(), "int32");
  std::vector<int32_t> ids(6);
  data.read_stream(0, ids);
  EXPECT_EQ(ids, iota32(6, 100000));
}

TEST(MegatronDataset, ReadsVariableLengthSequencesOfEveryIntegerDtype) {
  // Sequences [5, 0, 3, 2]: stream 0..9, sequence starts 0, 5, 5, 8 (the empty one shares its
  // start with the next), end 10.
  for (uint8_t code : {1, 2, 3, 4, 5, 8}) {
    SCOPED_TRACE(static_cast<int>(code));
    testing::TempDir tmp;
    const fs::path prefix = tmp.path() / "var";
    write_bytes(prefix, megatron_bytes(code, positions({5, 0, 3, 2})));
    // The independent reader accepts what the test wrote.
    testing::MegatronDataset ref = testing::read_megatron(prefix);
    ASSERT_EQ(ref.sequence(2), (std::vector<int64_t>{5, 6, 7}));

    MegatronDataset data = MegatronDataset::open(prefix);
    EXPECT_EQ(data.dtype_name(), testing::megatron_dtype_name(code));
    EXPECT_EQ(data.sequences(), 4u);
    EXPECT_EQ(data.total_tokens(), 10u);
    EXPECT_EQ(data.sequence_length(1), 0u);
    std::vector<uint64_t> starts;
    for (uint64_t s = 0; s <= data.sequences(); ++s) starts.push_back(data.sequence_start(s));
    EXPECT_EQ(starts, (std::vector<uint64_t>{0, 5, 5, 8, 10}));
    std::vector<uint64_t> holder;
    for (uint64_t t = 0; t < 10; ++t) holder.push_back(data.sequence_at(t));
    EXPECT_EQ(holder, (std::vector<uint64_t>{0, 0, 0, 0, 0, 2, 2, 2, 3, 3}));
    EXPECT_EQ(data.sequence_starts_in(0, 10), (std::vector<uint64_t>{0, 5, 8}));
    EXPECT_EQ(data.sequence_starts_in(4, 4), (std::vector<uint64_t>{5}));
    EXPECT_EQ(data.sequence_starts_in(6, 2), (std::vector<uint64_t>{}));
    std::vector<int32_t> ids(5);
    data.read_stream(3, ids);
    EXPECT_EQ(ids, iota32(5, 3));
    std::vector<int32_t> tail(3);
    EXPECT_THROW(data.read_stream(8, tail), Error);  // 8 + 3 > 10
    EXPECT_THROW(data.sequence_at(10), Error);
  }
}

TEST(MegatronDataset, WidensEachDtypeAndRejectsIdsOutsideInt32) {
  struct Case {
    uint8_t code;
    int64_t value;
    bool valid;
  };
  const Case cases[] = {{1, 200, true},
                        {8, 60000, true},
                        {4, 100000, true},
                        {5, INT32_MAX, true},
                        {2, -1, false},
                        {3, -5, false},
                        {5, int64_t{1} << 31, false},
                        {4, -7, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("code {} value {}", c.code, c.value));
    testing::TempDir tmp;
    const fs::path prefix = tmp.path() / "one";
    write_bytes(prefix, megatron_bytes(c.code, {{0, c.value}}));
    MegatronDataset data = MegatronDataset::open(prefix);  // values are checked when read
    std::vector<int32_t> ids(2);
    if (c.valid) {
      data.read_stream(0, ids);
      EXPECT_EQ(ids[1], c.value);
    } else {
      EXPECT_THROW(data.read_stream(0, ids), Error);
    }
  }
}

TEST(MegatronDataset, RejectsFloatAndUnknownDtypesAtOpen) {
  for (uint8_t code : {6, 7}) {
    testing::TempDir tmp;
    write_bytes(tmp.path() / "f", megatron_bytes(code, {{1, 2}}));
    std::string error = open_error(tmp.path() / "f");
    EXPECT_NE(error.find("holds floats"), std::string::npos) << error;
    EXPECT_NE(error.find("f.idx"), std::string::npos) << error;
  }
  for (uint8_t code : {0, 9}) {
    testing::TempDir tmp;
    MegatronBytes b = megatron_bytes(8, {{1, 2}});
    b.idx[kDtypeAt] = static_cast<char>(code);
    write_bytes(tmp.path() / "u", b);
    EXPECT_NE(open_error(tmp.path() / "u").find("unknown dtype code"), std::string::npos);
  }
}

TEST(MegatronDataset, ATruncatedBinFailsAtOpen) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  write_bytes(prefix, megatron_bytes(8, positions({5, 3})));
  fs::resize_file(prefix.string() + ".bin", 14);
  std::string error = open_error(prefix);
  EXPECT_NE(error.find("d.bin: 14 bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("need 16 bytes"), std::string::npos) << error;
}

TEST(MegatronDataset, ATruncatedOrPaddedIdxFailsAtOpen) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  MegatronBytes good = megatron_bytes(8, positions({5, 3}));
  for (size_t size : {size_t{0}, size_t{20}, good.idx.size() - 1, good.idx.size() + 8}) {
    SCOPED_TRACE(size);
    MegatronBytes b = good;
    b.idx.resize(size, '\0');
    write_bytes(prefix, b);
    std::string error = open_error(prefix);
    EXPECT_NE(error.find("d.idx"), std::string::npos) << error;
    EXPECT_NE(error.find(size < 34 ? "shorter than the 34-byte header" : "truncated, or trailing"),
              std::string::npos)
        << error;
  }
}

TEST(MegatronDataset, BadMagicOrVersionFailsAtOpen) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  MegatronBytes b = megatron_bytes(8, positions({5, 3}));
  b.idx[0] = 'X';
  write_bytes(prefix, b);
  EXPECT_NE(open_error(prefix).find("bad magic"), std::string::npos);

  b = megatron_bytes(8, positions({5, 3}));
  b.idx[kVersionAt] = 2;
  write_bytes(prefix, b);
  std::string error = open_error(prefix);
  EXPECT_NE(error.find("version 2; this reader knows Megatron-LM's version 1 only"),
            std::string::npos)
      << error;
}

TEST(MegatronDataset, InconsistentIndexFailsAtOpen) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  const MegatronBytes good = megatron_bytes(8, positions({5, 3}));  // S = 2, D = 3
  const size_t pointers_at = kLengthsAt + 4 * 2, documents_at = kLengthsAt + 12 * 2;
  auto corrupt = [&](size_t at, auto value) {
    MegatronBytes b = good;
    std::memcpy(b.idx.data() + at, &value, sizeof(value));
    write_bytes(prefix, b);
    return open_error(prefix);
  };
  EXPECT_NE(corrupt(pointers_at + 8, int64_t{12}).find("sequence 1 pointer is 12, expected 10"),
            std::string::npos);
  EXPECT_NE(corrupt(kLengthsAt + 4, int32_t{-3}).find("sequence 1 has negative length -3"),
            std::string::npos);
  EXPECT_NE(corrupt(documents_at, int64_t{1}).find("document index 0 is 1"), std::string::npos);
  EXPECT_NE(corrupt(documents_at + 16, int64_t{1}).find("last document index is 1"),
            std::string::npos);
  // A longer length with a matching .bin still fails: its pointer no longer adds up.
  EXPECT_NE(corrupt(kLengthsAt, int32_t{6}).find("sequence 1 pointer is 10, expected 12"),
            std::string::npos);
}

TEST(MegatronDataset, AMissingFileIsNamed) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  testing::write_file(prefix.string() + ".idx", megatron_bytes(8, {{1}}).idx);
  std::string error = open_error(prefix);
  EXPECT_NE(error.find("d.bin is missing"), std::string::npos) << error;
}

TEST(MegatronDataset, AnEmptyDatasetOpens) {
  testing::TempDir tmp;
  write_bytes(tmp.path() / "e", megatron_bytes(8, {}));
  MegatronDataset data = MegatronDataset::open(tmp.path() / "e");
  EXPECT_EQ(data.sequences(), 0u);
  EXPECT_EQ(data.total_tokens(), 0u);
  std::vector<int32_t> none;
  data.read_stream(0, none);
}

}  // namespace
}  // namespace longctx
