#include "longctx/data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/data/tokenizer_files.h"
#include "longctx/data/utf8.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const fs::path& path) : path_(path) {
    auto status = processor_.Load(path.string());
    if (!status.ok()) {
      throw Error(fmt::format("{}: neither a SentencePiece model nor a tiktoken rank file: {}",
                              path.string(), status.ToString()),
                  "pass a tokenizer.json, a SentencePiece .model or a tiktoken rank file");
    }
  }

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const override {
    if (special == SpecialTokens::kParse) {
      throw Error("--parse-special is not supported with SentencePiece .model files",
                  "SentencePiece never turns control-token text into ids; drop --parse-special");
    }
    std::vector<int> ids;
    std::string repaired;
    if (!is_valid_utf8(text)) {
      repaired = repair_utf8(text);
      text = repaired;
    }
    auto status = processor_.Encode(text, &ids);
    if (!status.ok())
      throw Error(fmt::format("SentencePiece encode failed: {}", status.ToString()));
    return {ids.begin(), ids.end()};
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::vector<int> plain(ids.begin(), ids.end());
    std::string text;
    auto status = processor_.Decode(plain, &text);
    if (!status.ok())
      throw Error(fmt::format("SentencePiece decode failed: {}", status.ToString()));
    return text;
  }

  std::optional<int32_t> token_id(std::string_view token) const override {
    int id = processor_.PieceToId(token);
    if (id == processor_.unk_id() && token != processor_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  int32_t bos_id() const override { return processor_.bos_id(); }
  int32_t eos_id() const override { return processor_.eos_id(); }
  size_t vocab_size() const override { return static_cast<size_t>(processor_.GetPieceSize()); }
  std::string description() const override { return "sentencepiece:" + path_.string(); }

 private:
  fs::path path_;
  sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace

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
  return std::make_unique<SentencePieceTokenizer>(file);
}

}  // namespace longctx
