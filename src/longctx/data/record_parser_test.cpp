#include "longctx/data/record_parser.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "longctx/base/error.h"

namespace longctx {
namespace {

// Parses `line` the way the reader hands lines over: followed by kParsePadding readable bytes
// that are not part of the line. The padding is 'x', so reading past the line would show.
class Parser {
 public:
  explicit Parser(RecordSchema schema = {}) : schema_(std::move(schema)), parser_(schema_) {}
  ParsedRecord parse(const std::string& line) {
    buffer_ = line + std::string(kParsePadding, 'x');
    return parser_.parse_line(std::string_view(buffer_.data(), line.size()));
  }

 private:
  RecordSchema schema_;
  RecordParser parser_;
  std::string buffer_;
};

void expect_document(const ParsedRecord& r, std::string_view text, std::string_view domain) {
  EXPECT_FALSE(r.issue.has_value()) << "issue " << issue_key(*r.issue) << ": " << r.detail;
  EXPECT_EQ(r.text, text);
  EXPECT_EQ(r.domain, domain);
}

void expect_issue(const ParsedRecord& r, IssueKind kind) {
  ASSERT_TRUE(r.issue.has_value()) << "no issue; text '" << r.text << "'";
  EXPECT_EQ(*r.issue, kind) << issue_key(*r.issue) << ": " << r.detail;
}

std::string record(const std::string& text_json,
                   const std::string& domain_json = "\"RedPajamaC4\"") {
  return fmt::format(R"({{"text": {}, "meta": {{"redpajama_set_name": {}}}}})", text_json,
                     domain_json);
}

TEST(RecordParser, SlimPajamaRecordWithTheDefaultSchema) {
  Parser p;
  expect_document(p.parse(record("\"hello world\"")), "hello world", "RedPajamaC4");
  // Key order, extra fields and whitespace do not matter.
  expect_document(
      p.parse(
          R"(  {"meta": {"x": 1, "redpajama_set_name": "RedPajamaBook"}, "id": 7, "text": "b"}  )"),
      "b", "RedPajamaBook");
}

TEST(RecordParser, CustomDottedKeys) {
  RecordSchema nested;
  nested.text_key = "content";
  nested.domain_key = "meta.source";
  Parser p(nested);
  expect_document(p.parse(R"({"content": "c", "meta": {"source": "arxiv"}})"), "c", "arxiv");
  // The default keys mean nothing to this schema.
  expect_issue(p.parse(record("\"t\"")), IssueKind::kMissingText);

  RecordSchema top;
  top.domain_key = "source";
  Parser q(top);
  expect_document(q.parse(R"({"text": "t", "source": "github"})"), "t", "github");
  expect_issue(q.parse(R"({"text": "t", "meta": {"source": "github"}})"),
               IssueKind::kMissingDomain);

  RecordSchema deep;
  deep.text_key = "a.b.c";
  deep.domain_key = "a.b.d";
  Parser r(deep);
  expect_document(r.parse(R"({"a": {"b": {"c": "deep text", "d": "D"}}})"), "deep text", "D");
  // An intermediate step that is not an object means the field is missing.
  expect_issue(r.parse(R"({"a": {"b": 5}})"), IssueKind::kMissingText);
  expect_issue(r.parse(R"({"a": ["b"]})"), IssueKind::kMissingText);
}

TEST(RecordParser, InvalidJson) {
  Parser p;
  for (const char* line : {"{not json}", R"({"text": "abc")", R"({"text": "abc"} trailing)",
                           R"({"text": "unterminated})", "", "   ", R"({"text": 01})"}) {
    SCOPED_TRACE(line);
    ParsedRecord r = p.parse(line);
    expect_issue(r, IssueKind::kInvalidJson);
    EXPECT_FALSE(r.detail.empty());
  }
}

TEST(RecordParser, JsonThatIsNotAnObjectIsInvalid) {
  Parser p;
  for (const char* line : {"[1, 2, 3]", "\"just a string\"", "42", "null", "true"}) {
    SCOPED_TRACE(line);
    ParsedRecord r = p.parse(line);
    expect_issue(r, IssueKind::kInvalidJson);
    EXPECT_EQ(r.detail, "the record is not a JSON object");
  }
}

TEST(RecordParser, MissingText) {
  Parser p;
  ParsedRecord r = p.parse(R"({"meta": {"redpajama_set_name": "RedPajamaC4"}})");
  expect_issue(r, IssueKind::kMissingText);
  EXPECT_EQ(r.detail, "no field 'text'");
  expect_issue(p.parse(R"({"Text": "case matters", "meta": {"redpajama_set_name": "C4"}})"),
               IssueKind::kMissingText);
  expect_issue(p.parse("{}"), IssueKind::kMissingText);
}

TEST(RecordParser, NonStringText) {
  Parser p;
  for (const char* value : {"42", "null", "true", "[\"a\"]", "{\"a\": \"b\"}", "1.5"}) {
    SCOPED_TRACE(value);
    ParsedRecord r = p.parse(record(value));
    expect_issue(r, IssueKind::kNonStringText);
    EXPECT_EQ(r.detail, "field 'text' is not a string");
  }
}

TEST(RecordParser, InvalidUtf8RawBytes) {
  Parser p;
  for (const char* bytes :
       {"\xff", "caf\xe9", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
    SCOPED_TRACE(::testing::Message() << "bytes " << ::testing::PrintToString(std::string(bytes)));
    expect_issue(p.parse(record("\"ok " + std::string(bytes) + " ok\"")), IssueKind::kInvalidUtf8);
  }
  // Anywhere in the line: in the domain, or in a field nobody reads.
  expect_issue(p.parse(record("\"ok\"", "\"C4\xff\"")), IssueKind::kInvalidUtf8);
  expect_issue(p.parse(R"({"text": "ok", "junk": ")"
                       "\xfe"
                       R"(", "meta": {"redpajama_set_name": "a"}})"),
               IssueKind::kInvalidUtf8);
}

TEST(RecordParser, EmptyOrWhitespaceText) {
  Parser p;
  for (const char* value : {R"("")", R"(" ")", R"("\n\t\r ")", R"("\f\u000b")", R"("\u0020")"}) {
    SCOPED_TRACE(value);
    expect_issue(p.parse(record(value)), IssueKind::kEmptyDocument);
  }
  // A no-break space or a single visible character is content.
  expect_document(p.parse(record(R"("\u00a0")")), "\xc2\xa0", "RedPajamaC4");
  expect_document(p.parse(record(R"("  .  ")")), "  .  ", "RedPajamaC4");
}

TEST(RecordParser, MissingDomainWithoutDefault) {
  Parser p;
  for (const char* line : {R"({"text": "t"})", R"({"text": "t", "meta": {}})",
                           R"({"text": "t", "meta": "RedPajamaC4"})",
                           R"({"text": "t", "meta": {"other": "RedPajamaC4"}})"}) {
    SCOPED_TRACE(line);
    ParsedRecord r = p.parse(line);
    expect_issue(r, IssueKind::kMissingDomain);
    EXPECT_EQ(r.detail, "no field 'meta.redpajama_set_name'");
  }
}

TEST(RecordParser, MissingDomainWithDefault) {
  RecordSchema schema;
  schema.default_domain = "Misc";
  Parser p(schema);
  expect_document(p.parse(R"({"text": "t"})"), "t", "Misc");
  expect_document(p.parse(R"({"text": "t", "meta": {}})"), "t", "Misc");
  // The default fills in only what is absent: a present domain wins, a bad one is still bad.
  expect_document(p.parse(record("\"t\"", "\"RedPajamaBook\"")), "t", "RedPajamaBook");
  expect_issue(p.parse(record("\"t\"", "7")), IssueKind::kNonStringDomain);
}

TEST(RecordParser, NonStringDomain) {
  Parser p;
  for (const char* value : {"7", "null", "false", "{}", "[\"C4\"]"}) {
    SCOPED_TRACE(value);
    ParsedRecord r = p.parse(record("\"t\"", value));
    expect_issue(r, IssueKind::kNonStringDomain);
    EXPECT_EQ(r.detail, "field 'meta.redpajama_set_name' is not a string");
  }
}

TEST(RecordParser, JsonEscapesInTextAreDecoded) {
  Parser p;
  expect_document(p.parse(record(R"("line1\nline2")")), "line1\nline2", "RedPajamaC4");
  expect_document(p.parse(record(R"("caf\u00e9")")), "caf\xc3\xa9", "RedPajamaC4");
  expect_document(p.parse(record(R"("smile \ud83d\ude00!")")), "smile \xf0\x9f\x98\x80!",
                  "RedPajamaC4");
  expect_document(p.parse(record(R"("\"q\" \\ \/ \b\f\t\r")")), "\"q\" \\ / \b\f\t\r",
                  "RedPajamaC4");
  expect_document(p.parse(record(R"("\u4e2d\u6587")")), "\xe4\xb8\xad\xe6\x96\x87", "RedPajamaC4");
  expect_document(p.parse(record(R"("nul\u0000byte")")), std::string_view("nul\0byte", 8),
                  "RedPajamaC4");
  // Raw (unescaped) UTF-8 passes through as it is.
  expect_document(p.parse(record("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"")),
                  "caf\xc3\xa9 \xf0\x9f\x98\x80", "RedPajamaC4");
  // Escapes in the domain too.
  expect_document(p.parse(record("\"t\"", R"("Red\u0050ajamaC4")")), "t", "RedPajamaC4");
}

TEST(RecordParser, LoneSurrogateEscapeIsAnIssue) {
  Parser p;
  ParsedRecord r = p.parse(record(R"("half \ud83d only")"));
  EXPECT_TRUE(r.issue.has_value()) << "decoded to '" << r.text << "'";
}

TEST(RecordParser, AliasesRenameDomainsIncludingTheDefault) {
  RecordSchema schema;
  schema.domain_aliases = {{"RedPajamaC4", "C4"}, {"Misc", "Other"}};
  schema.default_domain = "Misc";
  Parser p(schema);
  expect_document(p.parse(record("\"a\"", "\"RedPajamaC4\"")), "a", "C4");
  expect_document(p.parse(record("\"b\"", "\"RedPajamaBook\"")), "b", "RedPajamaBook");
  expect_document(p.parse(R"({"text": "c"})"), "c", "Other");
  EXPECT_EQ(schema.alias("RedPajamaC4"), "C4");
  EXPECT_EQ(schema.alias("C4"), "C4");
  EXPECT_EQ(schema.alias(""), "");
}

// A schema built in place for the parser, e.g. RecordParser parser(make_schema()), must stay
// usable after the temporary is gone.
RecordSchema aliasing_schema() {
  RecordSchema schema;
  schema.domain_key = "src";
  schema.default_domain = "Fallback";
  schema.domain_aliases = {{"long-name", "short"}};
  return schema;
}

TEST(RecordParser, OutlivesTheSchemaItWasBuiltFrom) {
  RecordParser parser(aliasing_schema());
  std::string line = R"({"text": "t", "src": "long-name"})" + std::string(kParsePadding, ' ');
  expect_document(parser.parse_line(std::string_view(line).substr(0, line.size() - kParsePadding)),
                  "t", "short");
  std::string bare = R"({"text": "u"})" + std::string(kParsePadding, ' ');
  expect_document(parser.parse_line(std::string_view(bare).substr(0, bare.size() - kParsePadding)),
                  "u", "Fallback");
}

TEST(RecordParser, LongLinesAndParserReuse) {
  Parser p;
  std::string long_text;
  for (size_t i = 0; long_text.size() < (size_t{3} << 20); ++i)
    long_text += std::to_string(i) + " ";
  expect_document(p.parse(record("\"" + long_text + "\"")), long_text, "RedPajamaC4");
  // The same parser after a big line, then a bad one, then a small good one.
  expect_issue(p.parse("{bad"), IssueKind::kInvalidJson);
  for (int i = 0; i < 100; ++i) {
    std::string text = fmt::format("doc {}", i), domain = fmt::format("D{}", i);
    expect_document(p.parse(record(fmt::format("\"{}\"", text), fmt::format("\"{}\"", domain))),
                    text, domain);
  }
}

TEST(RecordParser, LineIsReadOnlyUpToItsLength) {
  // Two records back to back in one buffer: the parser sees only the first.
  std::string first = record("\"one\"");
  std::string buffer = first + record("\"two\"") + std::string(kParsePadding, ' ');
  RecordSchema schema;
  RecordParser parser(schema);
  ParsedRecord r = parser.parse_line(std::string_view(buffer.data(), first.size()));
  expect_document(r, "one", "RedPajamaC4");
}

TEST(HasContent, OnlyAsciiWhitespaceIsEmpty) {
  EXPECT_FALSE(has_content(""));
  EXPECT_FALSE(has_content(" \t\n\r\f\v"));
  EXPECT_TRUE(has_content("a"));
  EXPECT_TRUE(has_content("   x   "));
  EXPECT_TRUE(has_content("\xc2\xa0"));
  EXPECT_TRUE(has_content(std::string_view("\0", 1)));
}

std::string validate_error(const RecordSchema& schema) {
  try {
    schema.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RecordSchema, ValidateAcceptsDefaultsAndDottedPaths) {
  RecordSchema schema;
  EXPECT_EQ(validate_error(schema), "");
  schema.text_key = "a.b.c";
  schema.domain_key = "source";
  schema.domain_aliases = {{"a", "b"}, {"c", "b"}, {"d", "d"}};  // many to one, and a no-op
  EXPECT_EQ(validate_error(schema), "");
}

TEST(RecordSchema, ValidateNamesTheBadField) {
  RecordSchema empty_text;
  empty_text.text_key = "";
  EXPECT_EQ(validate_error(empty_text), "--text-key must not be empty");

  RecordSchema empty_domain;
  empty_domain.domain_key = "";
  EXPECT_EQ(validate_error(empty_domain), "--domain-key must not be empty");

  for (const char* key : {"meta..x", ".a", "a.", "."}) {
    RecordSchema text;
    text.text_key = key;
    EXPECT_EQ(validate_error(text),
              "--text-key '" + std::string(key) + "' has an empty path component");
    RecordSchema domain;
    domain.domain_key = key;
    EXPECT_EQ(validate_error(domain),
              "--domain-key '" + std::string(key) + "' has an empty path component");
  }
}

TEST(RecordSchema, ValidateRejectsAliasChainsAndCycles) {
  RecordSchema chain;
  chain.domain_aliases = {{"a", "b"}, {"b", "c"}};
  EXPECT_EQ(validate_error(chain), "--domain-alias renames a to b, which is itself renamed");

  RecordSchema cycle;
  cycle.domain_aliases = {{"x", "y"}, {"y", "x"}};
  EXPECT_NE(validate_error(cycle).find("which is itself renamed"), std::string::npos);
}

}  // namespace
}  // namespace longctx
