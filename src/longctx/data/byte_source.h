// Byte sources: the decompressed bytes of one corpus file, read in blocks, in bounded memory
// whatever the file size. Plain files, zstd (any number of frames) and gzip (any number of
// members) are supported; the compression is chosen by the file name.
//
//   auto source = open_byte_source("train/chunk1/example_train_0.jsonl.zst");
//   std::vector<char> block(1 << 20);
//   while (size_t n = source->read(block.data(), block.size())) consume(block.data(), n);
//
// A stream that ends mid-frame throws StreamError{kTruncatedStream}; one that fails to decode
// throws StreamError{kCorruptStream}. Bytes decoded before the fault are returned first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "longctx/base/error.h"
#include "longctx/data/input_issues.h"

namespace longctx {

enum class Compression { kNone, kZstd, kGzip };

// By extension: .zst -> zstd, .gz -> gzip, anything else -> none.
Compression compression_of(const std::filesystem::path& path);

class StreamError : public Error {
 public:
  StreamError(IssueKind kind, const std::string& message) : Error(message), kind_(kind) {}
  IssueKind kind() const { return kind_; }

 private:
  IssueKind kind_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `capacity` decompressed bytes; returns 0 only at the clean end of the stream.
  virtual size_t read(char* out, size_t capacity) = 0;
  // Bytes consumed from the file on disk so far (compressed bytes for compressed files).
  uint64_t file_bytes_read() const { return file_bytes_read_; }

 protected:
  uint64_t file_bytes_read_ = 0;
};

// Opens `path`; throws Error naming the path when it is missing or unreadable.
std::unique_ptr<ByteSource> open_byte_source(const std::filesystem::path& path);

}  // namespace longctx
