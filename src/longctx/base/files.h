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

// A file written by appending, for outputs too large to hold and too long to write in one go:
// a resumable job appends, calls sync() at a checkpoint and records size(); after a crash it
// reopens with that size, which cuts off whatever was appended after the checkpoint.
//
//   AppendFile out("data.bin.partial", /*resume_size=*/0);   // 0: start empty
//   out.append(bytes, n);
//   uint64_t durable = out.sync();                          // flushed and fsync'ed
class AppendFile {
 public:
  // Opens `path`, creating it; keeps its first `keep_bytes` bytes and drops the rest. Throws
  // Error when the file is shorter than `keep_bytes` (it is not the file the checkpoint saw).
  AppendFile(std::filesystem::path path, uint64_t keep_bytes);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void append(const void* data, size_t bytes);
  // Writes out the buffer and fsyncs; returns size().
  uint64_t sync();
  // Writes the buffer out (no fsync): readers such as `tail -f` see every line so far.
  void flush() { flush_buffer(); }
  // Bytes appended so far, buffered ones included.
  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // sync(), close, and rename to `final_path`.
  void commit(const std::filesystem::path& final_path);

 private:
  void flush_buffer();

  std::filesystem::path path_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t size_ = 0;
};

// A whole file mapped read-only into memory (mmap), unmapped when destroyed.
//
//   MappedFile data("data.bin");
//   const char* bytes = data.data();   // data.size() bytes
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

// Writes `contents` to `path` atomically (temporary name, then rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Reads a whole file; throws Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace longctx
