// A progress bar for long work: bytes done of total, rate and ETA, redrawn on one stderr line
// by a background thread four times a second. It draws only when enabled (the CLI enables it
// when stderr is a terminal and --quiet is absent); counting is always on and costs one
// relaxed atomic add per call.
//
//   Progress progress("stats", total_bytes, Progress::Display::kAuto);
//   ... progress.add(bytes_read) from any thread ...
//   progress.finish();   // final line, then the thread stops
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace longctx {

class Progress {
 public:
  enum class Display { kOff, kAuto, kOn };  // kAuto: on when stderr is a terminal

  Progress(std::string label, uint64_t total_bytes, Display display);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(uint64_t bytes) { done_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  uint64_t done_bytes() const { return done_bytes_.load(std::memory_order_relaxed); }
  double elapsed_seconds() const;
  void finish();

  // One rendered line, e.g. "stats [#####     ] 1.2 GB / 2.4 GB  600 MB/s  ETA 0:02".
  static std::string render(const std::string& label, uint64_t done, uint64_t total, double seconds,
                            int width);

 private:
  void run();

  std::string label_;
  uint64_t total_bytes_;
  std::atomic<uint64_t> done_bytes_{0};
  std::chrono::steady_clock::time_point start_;
  bool enabled_;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace longctx
