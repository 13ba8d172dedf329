#include "longctx/base/progress.h"

#include <unistd.h>

#include <fmt/format.h>
#include <cstdio>

#include "longctx/base/text.h"

namespace longctx {

Progress::Progress(std::string label, uint64_t total_bytes, Display display)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      start_(std::chrono::steady_clock::now()) {
  enabled_ = display == Display::kOn || (display == Display::kAuto && ::isatty(STDERR_FILENO));
  if (enabled_) thread_ = std::thread([this] { run(); });
}

Progress::~Progress() {
  finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::finish() {
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    std::string line = render(label_, done_bytes(), total_bytes_, elapsed_seconds(), 30);
    std::fprintf(stderr, "\r%s\033[K\n", line.c_str());
  }
}

void Progress::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(250));
    if (stop_) break;
    std::string line = render(label_, done_bytes(), total_bytes_, elapsed_seconds(), 30);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
  }
}

std::string Progress::render(const std::string& label, uint64_t done, uint64_t total,
                             double seconds, int width) {
  double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  if (fraction > 1.0) fraction = 1.0;
  int filled = static_cast<int>(fraction * width + 0.5);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), ' ');
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string eta = "--:--";
  if (rate > 0 && total >= done) eta = format_duration(static_cast<double>(total - done) / rate);
  return fmt::format("{} [{}] {} / {}  {}/s  ETA {}", label, bar, format_bytes(done),
                     format_bytes(total), format_bytes(static_cast<uint64_t>(rate)), eta);
}

}  // namespace longctx
