// Byte sources are tested on streams written by the reference libraries (libzstd, zlib, through
// tests/support), read back with read capacities from 1 byte to 1 MiB.
#include "longctx/data/byte_source.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The decoders' input buffers: ZSTD_DStreamInSize() = 128 KiB block + 3-byte block header;
// the gzip source reads 256 KiB at a time.
constexpr size_t kZstdInputBytes = (size_t{1} << 17) + 3;
constexpr size_t kGzipInputBytes = size_t{1} << 18;

// Bytes whose value is their position (mod 251, so that runs do not repeat with a power of two).
std::string positional_bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

// Incompressible bytes from a fixed seed.
std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Multi-MB data that compresses somewhat: random runs of positional and random bytes.
std::string mixed_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    size_t run = 1 + rng() % 5000;
    if (rng() % 2) {
      for (size_t i = 0; i < run; ++i) s.push_back(static_cast<char>((s.size() + i) % 251));
    } else {
      for (size_t i = 0; i < run; ++i) s.push_back(static_cast<char>('a' + rng() % 26));
    }
  }
  s.resize(n);
  return s;
}

struct Drained {
  std::string bytes;
  std::optional<IssueKind> fault;
  std::string message;
  uint64_t file_bytes_read = 0;
};

// Reads a source to its end or its first StreamError.
Drained drain(const fs::path& path, size_t capacity) {
  std::unique_ptr<ByteSource> source = open_byte_source(path);
  Drained result;
  std::vector<char> buffer(capacity);
  try {
    while (size_t n = source->read(buffer.data(), capacity)) {
      EXPECT_LE(n, capacity);
      result.bytes.append(buffer.data(), n);
    }
  } catch (const StreamError& e) {
    result.fault = e.kind();
    result.message = e.what();
    // A fault is not an end: reading again must not return 0 as if the stream were clean.
    try {
      size_t n = source->read(buffer.data(), capacity);
      ADD_FAILURE() << "read after a fault returned " << n << " bytes";
    } catch (const StreamError& again) {
      EXPECT_EQ(again.kind(), e.kind());
    }
  }
  result.file_bytes_read = source->file_bytes_read();
  return result;
}

enum class Format { kPlain, kZstd, kGzip };
const char* name_of(Format f) {
  return f == Format::kPlain  ? "data.jsonl"
         : f == Format::kZstd ? "data.jsonl.zst"
                              : "data.jsonl.gz";
}
std::string encode(Format f, std::string_view data, size_t piece_bytes = 0) {
  if (f == Format::kZstd) return testing::zstd_compress(data, piece_bytes);
  if (f == Format::kGzip) return testing::gzip_compress(data, piece_bytes);
  return std::string(data);
}
constexpr Format kFormats[] = {Format::kPlain, Format::kZstd, Format::kGzip};

// A scratch directory where every write gets a new file name ("7-data.jsonl.zst"): rewriting a
// file in place makes ext4 flush it on close, which made these tests slow.
class Scratch {
 public:
  fs::path write(std::string_view name, std::string_view contents) {
    fs::path path = dir_.path() / fmt::format("{}-{}", next_++, name);
    testing::write_file(path, contents);
    return path;
  }
  const fs::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
  int next_ = 0;
};

// Writes `data` in format `f`, reads it back with each capacity and checks every byte.
void expect_round_trip(Scratch& dir, Format f, const std::string& data,
                       std::initializer_list<size_t> capacities, size_t piece_bytes = 0) {
  fs::path path = dir.write(name_of(f), encode(f, data, piece_bytes));
  for (size_t capacity : capacities) {
    SCOPED_TRACE(::testing::Message() << name_of(f) << " size " << data.size() << " capacity "
                                      << capacity << " pieces " << piece_bytes);
    Drained r = drain(path, capacity);
    EXPECT_FALSE(r.fault) << r.message;
    EXPECT_EQ(r.bytes.size(), data.size());
    EXPECT_TRUE(r.bytes == data) << "decoded bytes differ";
    EXPECT_EQ(r.file_bytes_read, fs::file_size(path));
  }
  fs::remove(path);
}

TEST(CompressionOf, ChosenByTheLastExtension) {
  EXPECT_EQ(compression_of("a.jsonl.zst"), Compression::kZstd);
  EXPECT_EQ(compression_of("a.jsonl.zstd"), Compression::kZstd);
  EXPECT_EQ(compression_of("dir/c4-train.00000-of-01024.json.gz"), Compression::kGzip);
  EXPECT_EQ(compression_of("a.jsonl"), Compression::kNone);
  EXPECT_EQ(compression_of("a.txt"), Compression::kNone);
  EXPECT_EQ(compression_of("a.gz.txt"), Compression::kNone);
  EXPECT_EQ(compression_of("zst"), Compression::kNone);
  EXPECT_EQ(compression_of("dir.zst/a.jsonl"), Compression::kNone);
}

TEST(ByteSource, RoundTripOfSmallAndBoundarySizes) {
  Scratch dir;
  for (Format f : kFormats) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{2}, size_t{4095}, size_t{4096}, size_t{4097},
                        size_t{1} << 17, kZstdInputBytes, kGzipInputBytes, kGzipInputBytes + 1}) {
      std::string data = positional_bytes(size);
      // Capacity exactly the data size too.
      expect_round_trip(dir, f, data, {size_t{4096}, std::max<size_t>(size, 1), size_t{1} << 20});
    }
  }
}

TEST(ByteSource, RoundTripOfMultiMegabyteDataWithSmallAndOddCapacities) {
  Scratch dir;
  std::string data = mixed_bytes(size_t{3} << 20, 1);
  for (Format f : kFormats) {
    expect_round_trip(dir, f, data,
                      {size_t{7}, size_t{1000}, size_t{4093}, size_t{65537}, size_t{1} << 20});
  }
  // One byte at a time, on a smaller file.
  std::string small = mixed_bytes(200'000, 2);
  for (Format f : kFormats) expect_round_trip(dir, f, small, {1});
}

TEST(ByteSource, RoundTripOfIncompressibleData) {
  Scratch dir;
  std::string data = random_bytes(size_t{2} << 20, 3);
  for (Format f : kFormats) {
    expect_round_trip(dir, f, data, {size_t{13}, size_t{131072}, size_t{1} << 20});
  }
}

// Compressed files whose size on disk is exactly the decoder's input buffer, and one byte
// either side, so that the end of the file falls on a refill boundary.
TEST(ByteSource, CompressedFileSizeOnTheInputBufferBoundary) {
  Scratch dir;
  std::string pool = random_bytes(kGzipInputBytes + 1000, 4);
  struct Case {
    Format format;
    size_t buffer;
  };
  for (Case c : {Case{Format::kZstd, kZstdInputBytes}, Case{Format::kGzip, kGzipInputBytes}}) {
    for (size_t target : {c.buffer - 1, c.buffer, c.buffer + 1}) {
      // Random bytes are stored, not compressed, so the file is the data plus a fixed overhead.
      // Step the data size by the size error until the file has exactly the target size.
      bool found = false;
      size_t n = target;
      for (int step = 0; step < 20 && !found; ++step) {
        size_t size = encode(c.format, pool.substr(0, n)).size();
        if (size == target) {
          found = true;
        } else {
          n = size > target ? n - std::max<size_t>(1, (size - target) / 2) : n + 1;
        }
      }
      if (found) {
        std::string data = pool.substr(0, n);
        expect_round_trip(dir, c.format, data, {size_t{4096}, n, size_t{1} << 20});
      }
      EXPECT_TRUE(found) << name_of(c.format) << ": no data size compresses to " << target;
    }
  }
}

TEST(ByteSource, ManyZstdFramesAndGzipMembers) {
  Scratch dir;
  std::string data = mixed_bytes(300'000, 5);
  for (Format f : {Format::kZstd, Format::kGzip}) {
    for (size_t piece : {size_t{1}, size_t{777}, size_t{4096}, size_t{100'000}}) {
      if (piece == 1) {
        expect_round_trip(dir, f, data.substr(0, 3000), {64}, piece);  // 3000 one-byte frames
        continue;
      }
      expect_round_trip(dir, f, data, {size_t{5}, size_t{4096}, size_t{1} << 20}, piece);
    }
  }
}

TEST(ByteSource, EmptyFramesAndMembersBetweenOthersAreSkipped) {
  Scratch dir;
  std::string a = positional_bytes(1000), b = random_bytes(500, 6);
  for (Format f : {Format::kZstd, Format::kGzip}) {
    std::string file =
        encode(f, "") + encode(f, a) + encode(f, "") + encode(f, "") + encode(f, b) + encode(f, "");
    fs::path path = dir.write(name_of(f), file);
    for (size_t capacity : {size_t{1}, size_t{999}, size_t{1} << 20}) {
      Drained r = drain(path, capacity);
      EXPECT_FALSE(r.fault) << r.message;
      EXPECT_TRUE(r.bytes == a + b) << name_of(f) << " capacity " << capacity;
      EXPECT_EQ(r.file_bytes_read, file.size());
    }
  }
}

TEST(ByteSource, EmptyCompressedFileIsTruncated) {
  Scratch dir;
  for (Format f : {Format::kZstd, Format::kGzip}) {
    fs::path path = dir.write(name_of(f), "");
    Drained r = drain(path, 4096);
    ASSERT_TRUE(r.fault) << name_of(f);
    EXPECT_EQ(*r.fault, IssueKind::kTruncatedStream);
    EXPECT_NE(r.message.find(path.string()), std::string::npos) << r.message;
    EXPECT_EQ(r.bytes, "");
  }
  // An empty plain file is simply empty.
  fs::path plain = dir.write("empty.jsonl", "");
  Drained r = drain(plain, 4096);
  EXPECT_FALSE(r.fault);
  EXPECT_EQ(r.bytes, "");
}

// A file of frames (or members) of `piece` bytes each, with the offsets where each one starts.
struct Pieces {
  std::string file;
  std::vector<size_t> starts;  // starts[k] = offset of frame k; starts.back() = file size
};
Pieces encode_pieces(Format f, const std::string& data, size_t piece) {
  Pieces p;
  for (size_t at = 0; at < data.size(); at += piece) {
    p.starts.push_back(p.file.size());
    p.file += encode(f, data.substr(at, piece));
  }
  p.starts.push_back(p.file.size());
  return p;
}

TEST(ByteSource, TruncatedZstdReturnsEveryCompleteFrameThenFails) {
  Scratch dir;
  const size_t piece = 1000;
  std::string data = mixed_bytes(10 * piece, 7);
  Pieces p = encode_pieces(Format::kZstd, data, piece);
  // Cut anywhere strictly inside frame k: frames 0..k-1 decode, frame k (one block, no
  // checksum) yields nothing, and the stream is truncated.
  for (size_t k : {size_t{0}, size_t{4}, size_t{9}}) {
    for (size_t cut = p.starts[k] + 1; cut < p.starts[k + 1]; ++cut) {
      fs::path path = dir.write("cut.jsonl.zst", p.file.substr(0, cut));
      for (size_t capacity : {size_t{7}, size_t{1} << 20}) {
        Drained r = drain(path, capacity);
        SCOPED_TRACE(::testing::Message()
                     << "frame " << k << " cut " << cut << " capacity " << capacity);
        ASSERT_TRUE(r.fault);
        EXPECT_EQ(*r.fault, IssueKind::kTruncatedStream);
        EXPECT_NE(r.message.find(path.string()), std::string::npos) << r.message;
        EXPECT_TRUE(r.bytes == data.substr(0, k * piece)) << "got " << r.bytes.size() << " bytes";
        EXPECT_EQ(r.file_bytes_read, cut);
      }
    }
  }
  // A cut exactly between frames is a clean, shorter stream.
  fs::path path = dir.write("cut.jsonl.zst", p.file.substr(0, p.starts[6]));
  Drained r = drain(path, 4096);
  EXPECT_FALSE(r.fault);
  EXPECT_TRUE(r.bytes == data.substr(0, 6 * piece));
}

TEST(ByteSource, TruncatedLargeZstdFrameReturnsItsCompleteBlocksFirst) {
  Scratch dir;
  // One frame of 1 MiB holds 8 blocks of 128 KiB; cut in the middle of the compressed stream.
  std::string data = mixed_bytes(size_t{1} << 20, 8);
  std::string file = testing::zstd_compress(data);
  fs::path path = dir.write("big.jsonl.zst", file.substr(0, file.size() / 2));
  for (size_t capacity : {size_t{4096}, size_t{1} << 20}) {
    Drained r = drain(path, capacity);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(*r.fault, IssueKind::kTruncatedStream);
    // Whole blocks only: a non-empty prefix that is a multiple of the 128 KiB block size.
    EXPECT_GT(r.bytes.size(), 0u);
    EXPECT_LT(r.bytes.size(), data.size());
    EXPECT_EQ(r.bytes.size() % (size_t{1} << 17), 0u) << r.bytes.size();
    EXPECT_TRUE(r.bytes == data.substr(0, r.bytes.size()));
  }
}

TEST(ByteSource, TruncatedGzipReturnsEveryByteDecodedThenFails) {
  Scratch dir;
  const size_t piece = 1000;
  std::string data = mixed_bytes(10 * piece, 9);
  Pieces p = encode_pieces(Format::kGzip, data, piece);
  for (size_t k : {size_t{0}, size_t{4}, size_t{9}}) {
    size_t start = p.starts[k], end = p.starts[k + 1];
    for (size_t cut = start + 1; cut < end; ++cut) {
      fs::path path = dir.write("cut.jsonl.gz", p.file.substr(0, cut));
      for (size_t capacity : {size_t{7}, size_t{1} << 20}) {
        Drained r = drain(path, capacity);
        SCOPED_TRACE(::testing::Message()
                     << "member " << k << " cut " << cut << " capacity " << capacity);
        ASSERT_TRUE(r.fault);
        EXPECT_EQ(*r.fault, IssueKind::kTruncatedStream);
        EXPECT_NE(r.message.find(path.string()), std::string::npos) << r.message;
        EXPECT_EQ(r.file_bytes_read, cut);
        // Deflate streams out as it decodes: complete members, then a prefix of member k.
        ASSERT_GE(r.bytes.size(), k * piece);
        ASSERT_LE(r.bytes.size(), (k + 1) * piece);
        EXPECT_TRUE(r.bytes == data.substr(0, r.bytes.size()));
        // Exact at the edges: within the 10-byte header nothing of member k is out; within the
        // 8-byte trailer (CRC32, ISIZE) all of it is.
        if (cut < start + 10) {
          EXPECT_EQ(r.bytes.size(), k * piece);
        }
        if (cut >= end - 8) {
          EXPECT_EQ(r.bytes.size(), (k + 1) * piece);
        }
      }
    }
  }
  fs::path path = dir.write("cut.jsonl.gz", p.file.substr(0, p.starts[3]));
  Drained r = drain(path, 4096);
  EXPECT_FALSE(r.fault);
  EXPECT_TRUE(r.bytes == data.substr(0, 3 * piece));
}

TEST(ByteSource, CorruptZstdFrameHeaderAfterEarlierFrames) {
  Scratch dir;
  const size_t piece = 1000;
  std::string data = mixed_bytes(6 * piece, 10);
  Pieces p = encode_pieces(Format::kZstd, data, piece);
  for (size_t k = 0; k < 6; ++k) {
    std::string file = p.file;
    file.replace(p.starts[k], 4, "XXXX");  // the frame's magic number
    fs::path path = dir.write("bad.jsonl.zst", file);
    for (size_t capacity : {size_t{7}, size_t{1} << 20}) {
      Drained r = drain(path, capacity);
      SCOPED_TRACE(::testing::Message() << "frame " << k << " capacity " << capacity);
      ASSERT_TRUE(r.fault);
      EXPECT_EQ(*r.fault, IssueKind::kCorruptStream);
      EXPECT_NE(r.message.find(path.string()), std::string::npos) << r.message;
      EXPECT_TRUE(r.bytes == data.substr(0, k * piece)) << "got " << r.bytes.size() << " bytes";
    }
  }
}

TEST(ByteSource, CorruptGzipHeaderAfterEarlierMembers) {
  Scratch dir;
  const size_t piece = 1000;
  std::string data = mixed_bytes(6 * piece, 11);
  Pieces p = encode_pieces(Format::kGzip, data, piece);
  for (size_t k = 0; k < 6; ++k) {
    std::string file = p.file;
    file[p.starts[k]] = 'X';  // the first magic byte, 0x1f
    fs::path path = dir.write("bad.jsonl.gz", file);
    for (size_t capacity : {size_t{7}, size_t{1} << 20}) {
      Drained r = drain(path, capacity);
      SCOPED_TRACE(::testing::Message() << "member " << k << " capacity " << capacity);
      ASSERT_TRUE(r.fault);
      EXPECT_EQ(*r.fault, IssueKind::kCorruptStream);
      EXPECT_NE(r.message.find(path.string()), std::string::npos) << r.message;
      EXPECT_TRUE(r.bytes == data.substr(0, k * piece)) << "got " << r.bytes.size() << " bytes";
    }
  }
}

TEST(ByteSource, CorruptGzipCrcIsDetected) {
  Scratch dir;
  std::string data = positional_bytes(5000);
  std::string file = testing::gzip_compress(data);
  file[file.size() - 8] = static_cast<char>(file[file.size() - 8] ^ 0x01);  // CRC32's low byte
  fs::path path = dir.write("crc.jsonl.gz", file);
  Drained r = drain(path, 1 << 20);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(*r.fault, IssueKind::kCorruptStream);
  EXPECT_TRUE(r.bytes == data.substr(0, r.bytes.size()));
}

TEST(ByteSource, MissingFileThrowsErrorNamingThePath) {
  Scratch dir;
  for (Format f : kFormats) {
    fs::path path = dir.path() / "nope" / name_of(f);
    try {
      open_byte_source(path);
      ADD_FAILURE() << "opened " << path;
    } catch (const StreamError& e) {
      ADD_FAILURE() << "a missing file is not a stream fault: " << e.what();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
          << e.what();
    }
  }
}

TEST(ByteSource, DirectoryThrowsErrorNamingThePath) {
  Scratch dir;
  fs::path path = dir.path() / "looks-like.jsonl";
  fs::create_directories(path);
  try {
    std::unique_ptr<ByteSource> source = open_byte_source(path);
    char buffer[16];
    source->read(buffer, sizeof buffer);
    ADD_FAILURE() << "read a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(ByteSource, FileBytesReadCountsCompressedBytes) {
  Scratch dir;
  std::string data(100'000, 'a');  // compresses to a few hundred bytes
  for (Format f : kFormats) {
    std::string file = encode(f, data);
    fs::path path = dir.write(name_of(f), file);
    std::unique_ptr<ByteSource> source = open_byte_source(path);
    EXPECT_EQ(source->file_bytes_read(), 0u);
    std::vector<char> buffer(1 << 20);
    uint64_t decoded = 0;
    while (size_t n = source->read(buffer.data(), buffer.size())) decoded += n;
    EXPECT_EQ(decoded, data.size());
    EXPECT_EQ(source->file_bytes_read(), file.size()) << name_of(f);
  }
}

}  // namespace
}  // namespace longctx
