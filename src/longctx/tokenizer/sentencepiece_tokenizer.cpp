// The tokenizer of a SentencePiece .model file: BpeTokenizer, fed the BpeSpec of
// sentencepiece_model.h, with libsentencepiece's own rules around it where they differ from
// HF's: remove_extra_whitespaces, USER_DEFINED pieces, and decoding.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/tokenizer/sentencepiece_model.h"
#include "longctx/tokenizer/tokenizer_files.h"
#include "longctx/tokenizer/utf8.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

using PieceType = SentencePieceModel::PieceType;

constexpr std::string_view kMarker = "\xE2\x96\x81";  // "▁", SentencePiece's escaped space

// Pieces found in raw text, leftmost-longest: bucketed by first byte, longest first.
class PieceMatcher {
 public:
  void add(std::string_view text, int32_t id) {
    buckets_[static_cast<unsigned char>(text[0])].emplace_back(std::string(text), id);
  }
  void sort() {  // once every piece is added
    for (auto& bucket : buckets_) {
      std::stable_sort(bucket.begin(), bucket.end(), [](const auto& a, const auto& b) {
        return a.first.size() > b.first.size();
      });
    }
  }
  bool empty() const {
    return std::all_of(buckets_.begin(), buckets_.end(), [](const auto& b) { return b.empty(); });
  }
  // The longest piece that starts at `pos`, or null.
  const std::pair<std::string, int32_t>* match(std::string_view text, size_t pos) const {
    for (const auto& entry : buckets_[static_cast<unsigned char>(text[pos])]) {
      if (text.compare(pos, entry.first.size(), entry.first) == 0) return &entry;
    }
    return nullptr;
  }

 private:
  std::array<std::vector<std::pair<std::string, int32_t>>, 256> buckets_;
};

// libsentencepiece's remove_extra_whitespaces on identity-normalised text: leading spaces
// dropped, each run of spaces made one, then trailing spaces and "▁" dropped (its escaped
// text may end in neither).  "  a   b ▁ " -> "a b"
std::string remove_extra_whitespaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool previous_space = true;  // drops the leading ones too
  for (char c : text) {
    if (c == ' ' && previous_space) continue;
    previous_space = c == ' ';
    out += c;
  }
  for (;;) {
    if (!out.empty() && out.back() == ' ') {
      out.pop_back();
    } else if (out.ends_with(kMarker)) {
      out.resize(out.size() - kMarker.size());
    } else {
      return out;
    }
  }
}

// A .model file's tokenizer: BpeTokenizer with libsentencepiece's rules around it.
//
// Encode. Without remove_extra_whitespaces and USER_DEFINED pieces (Llama-2, Mistral) the
// BpeSpec alone is libsentencepiece: with kAsText the whole text is one sentence; with kParse
// the text of CONTROL and UNKNOWN pieces (special added tokens of the spec) is cut out first
// and each piece of text around it is encoded with its own dummy prefix, as HF tokenizers does
// on the converted tokenizer.json (Llama-2: "<s> don't" is <s>, then "▁▁don't"). Otherwise each
// such sentence goes through encode_sentence.
class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(SentencePieceModel model, BpeSpec spec)
      : bpe_(std::move(spec)),
        pieces_(std::move(model.pieces)),
        unk_surface_(std::move(model.unk_surface)),
        add_dummy_prefix_(model.add_dummy_prefix),
        remove_extra_whitespaces_(model.remove_extra_whitespaces) {
    for (size_t id = 0; id < pieces_.size(); ++id) {
      const auto& piece = pieces_[id];
      if (piece.type == PieceType::kControl || piece.type == PieceType::kUnknown) {
        specials_.add(piece.text, static_cast<int32_t>(id));
      } else if (piece.type == PieceType::kUserDefined) {
        user_defined_.add(piece.text, static_cast<int32_t>(id));
      }
    }
    specials_.sort();
    user_defined_.sort();
    own_rules_ = remove_extra_whitespaces_ || !user_defined_.empty();
  }

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const override {
    if (!own_rules_) return bpe_.encode(text, special);
    std::string repaired;
    if (!is_valid_utf8(text)) {
      repaired = repair_utf8(text);
      text = repaired;
    }
    std::vector<int32_t> out;
    if (special == SpecialTokens::kAsText) {
      encode_sentence(text, out);
      return out;
    }
    size_t start = 0;
    for (size_t pos = 0; pos < text.size();) {
      const auto* match = specials_.match(text, pos);
      if (match == nullptr) {
        ++pos;
        continue;
      }
      encode_sentence(text.substr(start, pos - start), out);
      out.push_back(match->second);
      pos += match->first.size();
      start = pos;
    }
    encode_sentence(text.substr(start), out);
    return out;
  }

  // libsentencepiece's Decode: CONTROL pieces are invisible; UNKNOWN is unk_surface (" ⁇ ");
  // a run of BYTE pieces becomes its bytes, one character at a time, each byte of an invalid
  // sequence one U+FFFD; other pieces have "▁" turned into " ". The dummy prefix is taken
  // back: the first piece that comes while the text is still empty loses a leading "▁" (only
  // with add_dummy_prefix or remove_extra_whitespaces); with remove_extra_whitespaces so does
  // every piece until some text appears.
  //   [<s>, "▁Hello", "▁world", <0xE4>, <0xB8>, <0xAD>, <0xFF>] -> "Hello world中\uFFFD"
  //   ["▁", "▁and"] -> " and"   (remove_extra_whitespaces: "and")
  std::string decode(std::span<const int32_t> ids) const override {
    std::string text, bytes;
    auto flush_bytes = [&] {
      for (size_t pos = 0; pos < bytes.size();) {
        size_t end = pos;
        char32_t c = decode_utf8(bytes, end);
        bool valid = c != kReplacementCharacter || bytes.compare(pos, 3, "\xEF\xBF\xBD") == 0;
        if (!valid) end = pos + 1;
        text += valid ? std::string_view(bytes).substr(pos, end - pos) : "\xEF\xBF\xBD";
        pos = end;
      }
      bytes.clear();
    };
    bool at_start = add_dummy_prefix_ || remove_extra_whitespaces_;
    bool took_prefix = false;
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) {
        throw Error(
            fmt::format("token id {} is outside the vocabulary (size {})", id, pieces_.size()));
      }
      const SentencePieceModel::Piece& piece = pieces_[static_cast<size_t>(id)];
      if (piece.type == PieceType::kByte) {
        bytes += static_cast<char>(SentencePieceModel::byte_value(piece.text));
        continue;
      }
      flush_bytes();
      if (took_prefix || !text.empty()) at_start = false;
      took_prefix = false;
      if (piece.type == PieceType::kControl) continue;
      if (piece.type == PieceType::kUnknown) {
        text += unk_surface_;
        continue;
      }
      std::string_view rest = piece.text;
      if (at_start && rest.starts_with(kMarker)) {
        rest.remove_prefix(kMarker.size());
        took_prefix = !remove_extra_whitespaces_;
      }
      for (size_t pos = 0; pos < rest.size();) {
        if (rest.compare(pos, kMarker.size(), kMarker) == 0) {
          text += ' ';
          pos += kMarker.size();
        } else {
          text += rest[pos++];
        }
      }
    }
    flush_bytes();
    return text;
  }

  std::optional<int32_t> token_id(std::string_view token) const override {
    return bpe_.token_id(token);
  }
  int32_t bos_id() const override { return bpe_.bos_id(); }
  int32_t eos_id() const override { return bpe_.eos_id(); }
  size_t vocab_size() const override { return pieces_.size(); }
  std::string description() const override { return bpe_.description(); }

 private:
  // One call of libsentencepiece's Encode on `text`: remove_extra_whitespaces, then the
  // dummy prefix opens the sentence and USER_DEFINED pieces are cut out whole (they never
  // merge), the text between them encoded on its own with no prefix after the first:
  //   "<x>ab cd<x>" with user-defined "<x>" -> "▁" <x> "ab▁cd" <x>
  void encode_sentence(std::string_view text, std::vector<int32_t>& out) const {
    std::string squeezed;
    if (remove_extra_whitespaces_) {
      squeezed = remove_extra_whitespaces(text);
      text = squeezed;
    }
    if (text.empty()) return;
    bool prefix = add_dummy_prefix_;
    size_t start = 0;
    for (size_t pos = 0; pos < text.size();) {
      const auto* match = user_defined_.empty() ? nullptr : user_defined_.match(text, pos);
      if (match == nullptr) {
        ++pos;
        continue;
      }
      if (pos > start || prefix) bpe_.encode_text(text.substr(start, pos - start), prefix, out);
      prefix = false;
      out.push_back(match->second);
      pos += match->first.size();
      start = pos;
    }
    if (start < text.size()) bpe_.encode_text(text.substr(start), prefix, out);
  }

  BpeTokenizer bpe_;
  std::vector<SentencePieceModel::Piece> pieces_;
  std::string unk_surface_;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool own_rules_ = true;      // encode_sentence needed (see the class comment)
  PieceMatcher specials_;      // CONTROL and UNKNOWN pieces (kParse)
  PieceMatcher user_defined_;  // USER_DEFINED pieces
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(const fs::path& path) {
  const std::string where = path.string();
  SentencePieceModel model = parse_sentencepiece_model(read_file(path), where);
  BpeSpec spec = sentencepiece_bpe_spec(model, where);
  return std::make_unique<SentencePieceTokenizer>(std::move(model), std::move(spec));
}

}  // namespace longctx