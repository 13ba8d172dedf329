// Tests only: a fresh directory under the system temp dir, removed at the end of the test
// (the model and trainer tests, which do not link tests/support).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace longctx {

struct ScratchDir {
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("longctx-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

}  // namespace longctx
