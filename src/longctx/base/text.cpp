#include "longctx/base/text.h"

#include <fmt/format.h>
#include <cmath>
#include <cstdlib>

#include "longctx/base/error.h"

namespace longctx {

std::string format_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_count(uint64_t count) {
  if (count < 10'000) return fmt::format("{}", count);
  static const char* kSuffix[] = {"", "K", "M", "B", "T"};
  double value = static_cast<double>(count);
  int unit = 0;
  while (value >= 1000.0 && unit < 4) {
    value /= 1000.0;
    ++unit;
  }
  return fmt::format("{:.{}f}{}", value, value < 100 ? 2 : 1, kSuffix[unit]);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  auto total = static_cast<uint64_t>(seconds + 0.5);
  uint64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

std::string format_percent(double fraction) {
  return fmt::format("{:.1f}%", fraction * 100.0);
}

uint64_t parse_count(std::string_view text, std::string_view what) {
  std::string s(text);
  auto bad = [&] {
    return Error(fmt::format("{}: expected a count like 5B, 500M, 2e9 or 1234, got '{}'", what, s));
  };
  if (s.empty()) throw bad();
  double multiplier = 1.0;
  switch (s.back()) {
    case 'k':
    case 'K':
      multiplier = 1e3;
      break;
    case 'm':
    case 'M':
      multiplier = 1e6;
      break;
    case 'b':
    case 'B':
    case 'g':
    case 'G':
      multiplier = 1e9;
      break;
    case 't':
    case 'T':
      multiplier = 1e12;
      break;
    default:
      break;
  }
  if (multiplier != 1.0) s.pop_back();
  if (s.empty()) throw bad();
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(value) || value < 0) throw bad();
  double result = std::round(value * multiplier);
  if (result > 1.8e19) throw bad();
  return static_cast<uint64_t>(result);
}

bool is_ascii_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view trim_ascii_space(std::string_view text) {
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);
  return text;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(separator, start);
    parts.emplace_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text,
                                                                  std::string_view what) {
  std::vector<std::pair<std::string, std::string>> items;
  if (text.empty()) return items;
  for (const std::string& item : split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      throw Error(
          fmt::format("{}: expected KEY=VALUE items separated by commas, got '{}'", what, item));
    }
    items.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return items;
}

}  // namespace longctx
