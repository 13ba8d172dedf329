// Comma-separated values as RFC 4180 writes them, for MMLU's CSV files (no header; question,
// A, B, C, D, answer letter). A field may be quoted; inside quotes a comma, a line break
// (CRLF or LF) and a doubled quote ("") are text. Lines end in LF or CRLF; the last may have no
// line end; blank lines are skipped. Each record carries the line it starts on, so a bad one is
// reported as FILE:LINE.
//
//   "What is 1,000 + 1?","1,001","""1001""",x,y,A\n  ->  [What is 1,000 + 1?] [1,001] ["1001"]
//                                                       [x] [y] [A]
//
// Like Python's csv reader (not strict), text after a closing quote up to the next comma is
// kept (`"ab"c` is `abc`) and a quote inside an unquoted field is an ordinary character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

struct CsvRecord {
  uint64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Every record of `text`. Throws Error "WHERE:LINE: ..." for a quoted field that is never
// closed (LINE: where it opened).
std::vector<CsvRecord> parse_csv(std::string_view text, std::string_view where);

}  // namespace longctx
