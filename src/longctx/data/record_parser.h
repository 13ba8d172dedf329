// Record parser: one line of JSON -> (text, domain), or the reason it is unusable. Keys are
// dotted paths into nested objects, so one parser serves SlimPajama/RedPajama
// ({"text": ..., "meta": {"redpajama_set_name": ...}}) and other schemas (`meta.source`).
//
//   RecordSchema schema;                        // SlimPajama defaults
//   RecordParser parser(schema);
//   ParsedRecord r = parser.parse_line(line);   // line must have kParsePadding readable bytes
//   if (r.issue) count(*r.issue); else use(r.text, r.domain);
//
// r.text and r.domain point into the parser's buffers: valid until the next parse_line.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/data/input_issues.h"

namespace longctx {

// Bytes that must be readable (not necessarily meaningful) after each line given to the
// parser: simdjson reads ahead in 64-byte blocks.
inline constexpr size_t kParsePadding = 64;

struct RecordSchema {
  std::string text_key = "text";                       // dotted path to the document text
  std::string domain_key = "meta.redpajama_set_name";  // dotted path to the domain name
  std::string default_domain;  // used when a record has no domain field, and for .txt files
  std::map<std::string, std::string, std::less<>> domain_aliases;  // renames, e.g. C4 names

  // Throws Error naming the bad field: empty keys, empty path components, alias cycles.
  void validate() const;
  // The domain after aliasing.
  std::string_view alias(std::string_view domain) const;
};

struct ParsedRecord {
  std::string_view text;
  std::string_view domain;
  std::optional<IssueKind> issue;  // kEmptyDocument keeps text and domain set
  std::string detail;              // the parser's message when issue is set
};

class RecordParser {
 public:
  explicit RecordParser(const RecordSchema& schema);
  ~RecordParser();
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  ParsedRecord parse_line(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when the text has at least one non-whitespace byte.
bool has_content(std::string_view text);

}  // namespace longctx
