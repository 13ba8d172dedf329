// The lines of a JSON-lines file as the evaluations read them: split at LF, numbered from 1 as
// editors number them, lines of only white space left out (their numbers still counted), a
// last line without LF included.
//
//   for_each_line("a\n\n b", [](uint64_t line, std::string_view text) { ... });  // 1 "a", 3 " b"
#pragma once

#include <cstdint>
#include <string_view>

#include "longctx/base/text.h"

namespace longctx {

template <typename Visit>
void for_each_line(std::string_view text, Visit visit) {
  uint64_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++number;
    start = end + 1;
    if (!trim_ascii_space(line).empty()) visit(number, line);
  }
}

}  // namespace longctx
