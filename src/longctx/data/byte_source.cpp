#include "longctx/data/byte_source.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>
#include <cerrno>
#include <exception>
#include <vector>

namespace longctx {

namespace {

// Owns a file descriptor opened for sequential reading.
class FileHandle {
 public:
  explicit FileHandle(const std::filesystem::path& path) : path_(path.string()) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      throw Error(fmt::format("cannot open {}: {}", path_, errno_text(errno)),
                  "check that the file exists and is readable");
    }
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~FileHandle() { ::close(fd_); }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  size_t read(char* out, size_t capacity) {
    while (true) {
      ssize_t n = ::read(fd_, out, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      throw Error(fmt::format("cannot read {}: {}", path_, errno_text(errno)));
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(const std::filesystem::path& path) : file_(path) {}
  size_t read(char* out, size_t capacity) override {
    size_t n = file_.read(out, capacity);
    file_bytes_read_ += n;
    return n;
  }

 private:
  FileHandle file_;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(const std::filesystem::path& path)
      : file_(path), input_(ZSTD_DStreamInSize()), dctx_(ZSTD_createDCtx()) {
    if (dctx_ == nullptr) throw Error("out of memory creating a zstd decoder");
  }
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  size_t read(char* out, size_t capacity) override {
    if (pending_) std::rethrow_exception(pending_);
    ZSTD_outBuffer output{out, capacity, 0};
    try {
      fill(output);
    } catch (const StreamError&) {
      if (output.pos == 0) throw;
      pending_ = std::current_exception();  // hand back what was decoded; report the fault next
    }
    return output.pos;
  }

 private:
  void fill(ZSTD_outBuffer& output) {
    while (output.pos < output.size) {
      if (in_.pos == in_.size && !eof_) refill();
      if (in_.pos == in_.size && eof_) {
        if (frame_remaining_ == 0) break;  // clean end: every frame complete
        // The decoder may still hold output for bytes it has consumed; flush it first.
        size_t before = output.pos;
        decode(output);
        if (output.pos > before) continue;
        throw StreamError(IssueKind::kTruncatedStream,
                          fmt::format("truncated zstd stream in {}", file_.path()));
      }
      decode(output);
    }
  }

  void refill() {
    size_t n = file_.read(input_.data(), input_.size());
    file_bytes_read_ += n;
    in_ = ZSTD_inBuffer{input_.data(), n, 0};
    if (n == 0) eof_ = true;
  }
  void decode(ZSTD_outBuffer& output) {
    size_t ret = ZSTD_decompressStream(dctx_, &output, &in_);
    if (ZSTD_isError(ret)) {
      throw StreamError(
          IssueKind::kCorruptStream,
          fmt::format("corrupt zstd stream in {}: {}", file_.path(), ZSTD_getErrorName(ret)));
    }
    frame_remaining_ = ret;
  }

  FileHandle file_;
  std::vector<char> input_;
  ZSTD_DCtx* dctx_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool eof_ = false;
  size_t frame_remaining_ = 1;  // nonzero until a frame completes: an empty file is truncated
  std::exception_ptr pending_;  // a fault found after some bytes were decoded
};

class GzipSource : public ByteSource {
 public:
  explicit GzipSource(const std::filesystem::path& path) : file_(path), input_(1 << 18) {
    // 15 + 16: gzip wrapper only, maximum window.
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw Error("out of memory creating a gzip decoder");
  }
  ~GzipSource() override { inflateEnd(&z_); }

  size_t read(char* out, size_t capacity) override {
    if (pending_) std::rethrow_exception(pending_);
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
    size_t wanted = z_.avail_out;
    try {
      fill();
    } catch (const StreamError&) {
      if (z_.avail_out == wanted) throw;
      pending_ = std::current_exception();  // hand back what was decoded; report the fault next
    }
    return wanted - z_.avail_out;
  }

 private:
  void fill() {
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0 && !eof_) refill();
      if (z_.avail_in == 0 && eof_) {
        if (!in_member_) break;  // clean end after a complete member
        throw StreamError(IssueKind::kTruncatedStream,
                          fmt::format("truncated gzip stream in {}", file_.path()));
      }
      if (!in_member_) {
        // Start of a member: the gzip format allows several concatenated members.
        inflateReset(&z_);
        in_member_ = true;
      }
      int ret = inflate(&z_, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        in_member_ = false;
      } else if (ret == Z_BUF_ERROR) {
        // No progress possible: more input needed (handled above) or output full.
        if (z_.avail_in != 0) break;
      } else if (ret != Z_OK) {
        throw StreamError(IssueKind::kCorruptStream,
                          fmt::format("corrupt gzip stream in {}: {}", file_.path(),
                                      z_.msg != nullptr ? z_.msg : "inflate failed"));
      }
    }
  }

  void refill() {
    size_t n = file_.read(input_.data(), input_.size());
    file_bytes_read_ += n;
    z_.next_in = reinterpret_cast<Bytef*>(input_.data());
    z_.avail_in = static_cast<uInt>(n);
    if (n == 0) eof_ = true;
  }

  FileHandle file_;
  std::vector<char> input_;
  z_stream z_{};
  bool eof_ = false;
  bool in_member_ = true;       // an empty file is a truncated stream
  std::exception_ptr pending_;  // a fault found after some bytes were decoded
};

}  // namespace

Compression compression_of(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  if (ext == ".zst" || ext == ".zstd") return Compression::kZstd;
  if (ext == ".gz") return Compression::kGzip;
  return Compression::kNone;
}

std::unique_ptr<ByteSource> open_byte_source(const std::filesystem::path& path) {
  switch (compression_of(path)) {
    case Compression::kZstd:
      return std::make_unique<ZstdSource>(path);
    case Compression::kGzip:
      return std::make_unique<GzipSource>(path);
    case Compression::kNone:
      break;
  }
  return std::make_unique<PlainSource>(path);
}

}  // namespace longctx
