#include "longctx/data/tokenizer.h"

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/data/tokenizer_files.h"

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

}  // namespace longctx
