#include "longctx/eval/csv.h"

#include <fmt/format.h>

#include "longctx/base/error.h"

namespace longctx {

std::vector<CsvRecord> parse_csv(std::string_view text, std::string_view where) {
  std::vector<CsvRecord> records;
  uint64_t line = 1;
  size_t i = 0;
  const size_t n = text.size();
  auto at_line_end = [&](size_t k) {
    return text[k] == '\n' || (text[k] == '\r' && k + 1 < n && text[k + 1] == '\n');
  };
  auto skip_line_end = [&](size_t& k) {
    k += text[k] == '\r' ? 2 : 1;
    ++line;
  };
  while (i < n) {
    if (at_line_end(i)) {  // a blank line
      skip_line_end(i);
      continue;
    }
    CsvRecord record{.line = line, .fields = {}};
    std::string field;
    while (true) {
      if (i < n && text[i] == '"') {  // a quoted field, then anything up to the separator
        uint64_t opened = line;
        ++i;
        while (true) {
          if (i >= n)
            throw Error(fmt::format("{}:{}: a quoted field is never closed", where, opened),
                        "a quote inside a quoted field is written as two quotes (\"\")");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
      }
      while (i < n && text[i] != ',' && !at_line_end(i)) field += text[i++];
      record.fields.push_back(std::move(field));
      field.clear();
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      break;  // the end of the line or of the text
    }
    if (i < n) skip_line_end(i);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace longctx
