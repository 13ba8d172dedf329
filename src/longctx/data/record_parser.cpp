#include "longctx/data/record_parser.h"

#include <simdjson.h>

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/base/text.h"

namespace longctx {

static_assert(kParsePadding >= simdjson::SIMDJSON_PADDING, "padding must cover simdjson's");

void RecordSchema::validate() const {
  for (const auto& [name, key] :
       {std::pair{"--text-key", &text_key}, {"--domain-key", &domain_key}}) {
    if (key->empty()) throw Error(fmt::format("{} must not be empty", name));
    for (const std::string& part : split(*key, '.')) {
      if (part.empty()) {
        throw Error(fmt::format("{} '{}' has an empty path component", name, *key),
                    "use dots only between keys, e.g. meta.redpajama_set_name");
      }
    }
  }
  for (const auto& [from, to] : domain_aliases) {
    if (domain_aliases.count(to) && to != from) {
      throw Error(fmt::format("--domain-alias renames {} to {}, which is itself renamed", from, to),
                  "give each domain its final name directly");
    }
  }
}

std::string_view RecordSchema::alias(std::string_view domain) const {
  auto it = domain_aliases.find(domain);
  return it == domain_aliases.end() ? domain : std::string_view(it->second);
}

bool has_content(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return true;
  }
  return false;
}

struct RecordParser::Impl {
  RecordSchema schema;  // a copy: the parser may outlive the schema it was built from
  std::vector<std::string> text_path;
  std::vector<std::string> domain_path;
  simdjson::dom::parser parser;

  explicit Impl(const RecordSchema& s)
      : schema(s), text_path(split(s.text_key, '.')), domain_path(split(s.domain_key, '.')) {}

  // Follows a dotted path; returns NO_SUCH_FIELD when any step is missing or not an object.
  static simdjson::simdjson_result<simdjson::dom::element> find(
      simdjson::dom::element root, const std::vector<std::string>& path) {
    simdjson::dom::element current = root;
    for (const std::string& key : path) {
      simdjson::dom::object object;
      if (current.get(object) != simdjson::SUCCESS) return simdjson::NO_SUCH_FIELD;
      if (object[key].get(current) != simdjson::SUCCESS) return simdjson::NO_SUCH_FIELD;
    }
    return current;
  }
};

RecordParser::RecordParser(const RecordSchema& schema) : impl_(std::make_unique<Impl>(schema)) {}
RecordParser::~RecordParser() = default;

ParsedRecord RecordParser::parse_line(std::string_view line) {
  ParsedRecord record;
  simdjson::dom::element root;
  auto error = impl_->parser.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(root);
  if (error == simdjson::UTF8_ERROR) {
    record.issue = IssueKind::kInvalidUtf8;
    record.detail = simdjson::error_message(error);
    return record;
  }
  if (error) {
    record.issue = IssueKind::kInvalidJson;
    record.detail = simdjson::error_message(error);
    return record;
  }
  if (!root.is_object()) {
    record.issue = IssueKind::kInvalidJson;
    record.detail = "the record is not a JSON object";
    return record;
  }
  auto text = Impl::find(root, impl_->text_path);
  if (text.error()) {
    record.issue = IssueKind::kMissingText;
    record.detail = fmt::format("no field '{}'", impl_->schema.text_key);
    return record;
  }
  if (text.get(record.text) != simdjson::SUCCESS) {
    record.issue = IssueKind::kNonStringText;
    record.detail = fmt::format("field '{}' is not a string", impl_->schema.text_key);
    return record;
  }
  auto domain = Impl::find(root, impl_->domain_path);
  if (domain.error()) {
    if (impl_->schema.default_domain.empty()) {
      record.issue = IssueKind::kMissingDomain;
      record.detail = fmt::format("no field '{}'", impl_->schema.domain_key);
      return record;
    }
    record.domain = impl_->schema.default_domain;
  } else if (domain.get(record.domain) != simdjson::SUCCESS) {
    record.issue = IssueKind::kNonStringDomain;
    record.detail = fmt::format("field '{}' is not a string", impl_->schema.domain_key);
    return record;
  }
  record.domain = impl_->schema.alias(record.domain);
  // The text and domain stay set: a reader may keep empty documents (tokenize does).
  if (!has_content(record.text)) record.issue = IssueKind::kEmptyDocument;
  return record;
}

}  // namespace longctx
