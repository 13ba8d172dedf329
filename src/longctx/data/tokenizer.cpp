#include "longctx/data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const fs::path& path) : path_(path) {
    auto status = processor_.Load(path.string());
    if (!status.ok()) {
      throw Error(
          fmt::format("{}: not a SentencePiece model: {}", path.string(), status.ToString()),
          "pass a SentencePiece .model file (e.g. Llama-2's tokenizer.model)");
    }
  }

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int> ids;
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
                "pass a tokenizer file or a model directory holding tokenizer.model");
  }
  fs::path file = path;
  if (fs::is_directory(path, ec)) {
    file = path / "tokenizer.model";
    if (!fs::exists(file, ec)) {
      throw Error(fmt::format("{}: no tokenizer.model in this directory", path.string()),
                  "SentencePiece .model files are supported; tokenizer.json support is coming "
                  "with the native tokenizer");
    }
  }
  if (file.extension() == ".json") {
    throw Error(fmt::format("{}: tokenizer.json files are not supported yet", file.string()),
                "pass the model's SentencePiece tokenizer.model instead");
  }
  return std::make_unique<SentencePieceTokenizer>(file);
}

}  // namespace longctx
