#include "longctx/base/files.h"

#include <fcntl.h>
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
