// Small text helpers shared by the CLI and the reports: human-readable sizes and durations,
// counts with SI suffixes ("5B" = 5e9 tokens), and comma-separated KEY=VALUE lists.
//
//   parse_count("500M") == 500'000'000;  format_bytes(1536) == "1.5 KiB"
//   parse_key_values("RedPajamaC4=C4,RedPajamaBook=Book") -> {{"RedPajamaC4","C4"}, ...}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace longctx {

std::string format_bytes(uint64_t bytes);     // "1.5 GiB"
std::string format_count(uint64_t count);     // "1.25M", "980", "3.1B"
std::string format_duration(double seconds);  // "1:05", "2:03:04"
std::string format_percent(double fraction);  // 0.1234 -> "12.3%"

// "5B", "5b", "500M", "2e9", "1234" -> value. Throws Error naming `what` on bad input.
uint64_t parse_count(std::string_view text, std::string_view what);

std::vector<std::string> split(std::string_view text, char separator);

// Python's str.split() whitespace, ASCII only: space, \t-\r and \x1c-\x1f.
bool is_ascii_space(char c);
// `text` without leading and trailing is_ascii_space characters.
std::string_view trim_ascii_space(std::string_view text);

// "a=b,c=d" -> {{"a","b"},{"c","d"}}. Throws Error naming `what` on a malformed item.
std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text,
                                                                  std::string_view what);

}  // namespace longctx
