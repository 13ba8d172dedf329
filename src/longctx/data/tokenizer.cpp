#include "longctx/data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>

#include "longctx/base/error.h"
#include "longctx/data/tokenizer_files.h"
#include "longctx/data/utf8.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

// SentencePiece never turns control-piece text ("<s>", "</s>") into ids, so kAsText is its own
// behaviour. kParse follows HF tokenizers on the tokenizer.json converted from such a model,
// where the unknown and control pieces are special added tokens: their text is cut out first
// (leftmost-longest), and every piece of text between them is encoded on its own, each with
// its dummy-prefix "▁" (Llama-2: "<s> don't" is <s>, then " don't" encoded as "▁▁don't").
class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const fs::path& path) : path_(path) {
    auto status = processor_.Load(path.string());
    if (!status.ok()) {
      throw Error(fmt::format("{}: neither a SentencePiece model nor a tiktoken rank file: {}",
                              path.string(), status.ToString()),
                  "pass a tokenizer.json, a SentencePiece .model or a tiktoken rank file");
    }
    for (int id = 0; id < processor_.GetPieceSize(); ++id) {
      if (processor_.IsControl(id) || processor_.IsUnknown(id)) {
        specials_.emplace_back(processor_.IdToPiece(id), id);
      }
    }
    // Longest first, so that the first match at a position is the longest.
    std::stable_sort(specials_.begin(), specials_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& [piece, id] : specials_) {
      if (!piece.empty()) special_first_byte_[static_cast<unsigned char>(piece[0])] = true;
    }
  }

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const override {
    std::string repaired;
    if (!is_valid_utf8(text)) {
      repaired = repair_utf8(text);
      text = repaired;
    }
    std::vector<int32_t> out;
    if (special == SpecialTokens::kAsText) {
      encode_text(text, out);
      return out;
    }
    size_t start = 0;
    for (size_t pos = 0; pos < text.size();) {
      if (!special_first_byte_[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      auto match = std::find_if(specials_.begin(), specials_.end(), [&](const auto& s) {
        return !s.first.empty() && text.compare(pos, s.first.size(), s.first) == 0;
      });
      if (match == specials_.end()) {
        ++pos;
        continue;
      }
      encode_text(text.substr(start, pos - start), out);
      out.push_back(match->second);
      pos += match->first.size();
      start = pos;
    }
    encode_text(text.substr(start), out);
    return out;
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
  void encode_text(std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<int> ids;
    auto status = processor_.Encode(text, &ids);
    if (!status.ok())
      throw Error(fmt::format("SentencePiece encode failed: {}", status.ToString()));
    out.insert(out.end(), ids.begin(), ids.end());
  }

  fs::path path_;
  sentencepiece::SentencePieceProcessor processor_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // unknown and control pieces
  std::array<bool, 256> special_first_byte_{};
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
