#include "longctx/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <cctype>
#include <climits>

#include "longctx/base/error.h"
#include "longctx/tokenizer/tokenizer_files.h"

namespace longctx {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error(fmt::format("tokenizer {}: no such file or directory", path.string()),
                "pass a tokenizer.json, a tokenizer.model, or a model directory holding one");
  }
  fs::path file = path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json", ec)) {
      file = path / "tokenizer.json";
    } else if (fs::exists(path / "tokenizer.model", ec)) {
      file = path / "tokenizer.model";
    } else {
      throw Error(
          fmt::format("{}: no tokenizer.json or tokenizer.model in this directory", path.string()),
          "pass the tokenizer file itself, or a Hugging Face model directory");
    }
  }
  if (file.extension() == ".json") return load_hf_tokenizer_json(file);
  if (looks_like_tiktoken(file)) return load_tiktoken_ranks(file);
  return load_sentencepiece_model(file);
}

std::vector<int32_t> parse_token_ids(std::string_view text, std::string_view where) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    size_t end = at;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end == at) break;
    std::string_view word = text.substr(at, end - at);
    int64_t value = 0;
    bool ok = word.size() <= 10;
    for (char c : word) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) value = value * 10 + (c - '0');
    }
    if (!ok || value > INT32_MAX) {
      throw Error(fmt::format("{}: '{}' is not a token id", where, word),
                  "token ids are whitespace-separated non-negative integers");
    }
    ids.push_back(static_cast<int32_t>(value));
    at = end;
  }
  return ids;
}

}  // namespace longctx
