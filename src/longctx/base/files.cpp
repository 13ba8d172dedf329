#include "longctx/base/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path final_path) : final_path_(std::move(final_path)) {
  temp_path_ = final_path_;
  temp_path_ += fmt::format(".tmp-{}", ::getpid());
  stream_.open(temp_path_, std::ios::binary | std::ios::trunc);
  if (!stream_) {
    throw Error(fmt::format("cannot create {}: {}", temp_path_.string(), errno_text(errno)),
                "check that the output directory exists and is writable");
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    stream_.close();
    std::error_code ignored;
    fs::remove(temp_path_, ignored);
  }
}

void AtomicFile::commit() {
  stream_.flush();
  if (!stream_) throw Error(fmt::format("write to {} failed", temp_path_.string()));
  stream_.close();
  // fsync so that a crash after the rename cannot expose an empty file under the final name.
  int fd = ::open(temp_path_.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(temp_path_, final_path_, ec);
  if (ec) {
    throw Error(fmt::format("cannot rename {} to {}: {}", temp_path_.string(), final_path_.string(),
                            ec.message()));
  }
  committed_ = true;
}

namespace {
constexpr size_t kAppendBuffer = size_t{1} << 20;
}  // namespace

AppendFile::AppendFile(fs::path path, uint64_t keep_bytes) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error(fmt::format("cannot open {}: {}", path_.string(), errno_text(errno)),
                "check that the output directory exists and is writable");
  }
  off_t end = ::lseek(fd_, 0, SEEK_END);
  if (end < 0 || static_cast<uint64_t>(end) < keep_bytes) {
    ::close(fd_);
    fd_ = -1;
    throw Error(fmt::format("{} holds {} bytes, fewer than the {} its checkpoint recorded",
                            path_.string(), end, keep_bytes),
                "the partial output was changed or truncated; start again without --resume");
  }
  if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0 ||
      ::lseek(fd_, static_cast<off_t>(keep_bytes), SEEK_SET) < 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(fmt::format("cannot truncate {}: {}", path_.string(), errno_text(e)));
  }
  size_ = keep_bytes;
  buffer_.reserve(kAppendBuffer);
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) {
    try {
      flush_buffer();
    } catch (...) {
      // A destructor cannot report; the checkpoint size is what a resume trusts anyway.
    }
    ::close(fd_);
  }
}

void AppendFile::flush_buffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("write to {} failed: {}", path_.string(), errno_text(errno)),
                  "check the free space of the output directory");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AppendFile::append(const void* data, size_t bytes) {
  if (buffer_.size() + bytes > kAppendBuffer) flush_buffer();
  if (bytes >= kAppendBuffer) {
    buffer_.assign(static_cast<const char*>(data), bytes);
    flush_buffer();
  } else {
    buffer_.append(static_cast<const char*>(data), bytes);
  }
  size_ += bytes;
}

uint64_t AppendFile::sync() {
  flush_buffer();
  if (::fsync(fd_) != 0)
    throw Error(fmt::format("fsync of {} failed: {}", path_.string(), errno_text(errno)));
  return size_;
}

void AppendFile::commit(const fs::path& final_path) {
  sync();
  ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  fs::rename(path_, final_path, ec);
  if (ec) {
    throw Error(fmt::format("cannot rename {} to {}: {}", path_.string(), final_path.string(),
                            ec.message()));
  }
}

MappedFile::MappedFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open {}: {}", path.string(), errno_text(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(fmt::format("cannot stat {}: {}", path.string(), errno_text(e)));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error(fmt::format("cannot map {}: {}", path.string(), errno_text(e)));
    }
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

void write_file_atomic(const fs::path& path, std::string_view contents) {
  AtomicFile out(path);
  out.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}: {}", path.string(), errno_text(errno)));
  std::string contents;
  try {
    contents.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure& e) {
    // libstdc++'s filebuf throws on a read error (e.g. EISDIR when the path is a directory).
    throw Error(fmt::format("cannot read {}: {}", path.string(), e.code().message()));
  }
  if (in.bad()) throw Error(fmt::format("cannot read {}", path.string()));
  return contents;
}

}  // namespace longctx
