// Files. Every output is written to a temporary name beside the target and renamed into place
// only when complete, so no file ever carries its final name half-written:
//
//   AtomicFile out("stats.json");        // writes stats.json.tmp-<pid>
//   out.stream() << text;
//   out.commit();                        // fsync + rename to stats.json; without commit the
//                                        // destructor removes the temporary
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace longctx {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return stream_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }
  void commit();

 private:
  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::ofstream stream_;
  bool committed_ = false;
};

// Writes `contents` to `path` atomically (temporary name, then rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Reads a whole file; throws Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace longctx
