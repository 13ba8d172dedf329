// BpeTokenizer: the one BPE tokenizer behind every file format we load (HF tokenizer.json,
// tiktoken rank files, SentencePiece .model files). A loader fills a BpeSpec; this class
// encodes and decodes.
//
// Two alphabets cover LLaMA-family models:
//   kBytes  byte-level BPE (Llama-3, Qwen2/3, GPT-2): text is cut by a pre-tokenizer regex,
//           each piece's bytes are the initial symbols; vocabulary entries are raw bytes.
//   kChars  SentencePiece-style BPE (Llama-2, Mistral, TinyLlama, Gemma-3): spaces become
//           U+2581 "▁", a "▁" may be prepended, characters are the initial symbols, and a
//           character missing from the vocabulary falls back to its UTF-8 bytes as <0xXX>.
//
// Added tokens (<s>, <|begin_of_text|>, ...) are cut out of the text before anything else:
// non-special ones always, special ones only with SpecialTokens::kParse (HF's default);
// with kAsText (the default here) special-token text is ordinary text, so a document holding
// "</s>" never produces an end-of-sequence id.
//
// Encoding is thread-safe; each thread keeps its own cache of encoded pieces (PieceCache).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "longctx/tokenizer/bpe.h"
#include "longctx/tokenizer/pretokenizer.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

enum class BpeAlphabet { kBytes, kChars };

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
};

// One decoder step of the HF decoder pipeline for kChars tokenizers.
struct DecoderStep {
  enum class Kind { kReplace, kByteFallback, kFuse, kStrip } kind = Kind::kFuse;
  std::string pattern;  // kReplace
  std::string content;  // kReplace: replacement; kStrip: the character stripped
  int start = 0;        // kStrip: how many to strip from the start
  int stop = 0;         // kStrip: how many to strip from the end
};

struct BpeSpec {
  BpeAlphabet alphabet = BpeAlphabet::kBytes;
  Vocabulary vocab;  // token bytes -> id (kChars: UTF-8 text with "▁")
  MergeTable merges;
  std::vector<AddedToken> added;
  RegexPattern pattern = RegexPattern::kLlama3;  // kBytes
  bool ignore_merges = false;  // a piece found whole in the vocabulary is one token
  bool nfc = false;            // NFC-normalise text first (Qwen2/3)
  // kChars normalizer: prepend "▁" to each text segment; replace ' ' by "▁".
  bool prepend_marker = false;
  bool replace_spaces = false;
  bool byte_fallback = false;
  int32_t unk_id = -1;
  bool fuse_unk = false;
  std::vector<DecoderStep> decode_steps;  // kChars
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  std::string description;
};

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec);
  ~BpeTokenizer() override;

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t bos_id() const override { return spec_.bos_id; }
  int32_t eos_id() const override { return spec_.eos_id; }
  size_t vocab_size() const override { return vocab_size_; }
  std::string description() const override { return spec_.description; }
  std::optional<int32_t> token_id(std::string_view token) const override;

  // Encodes `text` (valid UTF-8) as one segment, appending to `out`: no added-token matching
  // and no normalisation beyond the alphabet's; kChars: `prepend_marker` puts a "▁" before it,
  // even before empty text. For loaders whose rules for cutting text differ from HF's
  // (SentencePiece's user-defined pieces, sentencepiece_model.h).
  void encode_text(std::string_view text, bool prepend_marker, std::vector<int32_t>& out) const;

 private:
  struct Cache;
  Cache& thread_cache() const;
  void encode_segment(std::string_view text, std::vector<int32_t>& out, Cache& cache) const;
  // kChars: calls on_piece(piece, first) for each piece of `text` (see the .cpp).
  template <typename OnPiece>
  void split_at_markers(std::string_view text, OnPiece on_piece) const;
  // `piece` is raw text; kChars: `prepend_marker` puts a "▁" before it (normalizer Prepend).
  void encode_piece(std::string_view piece, bool prepend_marker, std::vector<int32_t>& out,
                    Cache& cache) const;
  void bpe_piece(std::string_view piece, bool prepend_marker, std::vector<int32_t>& out,
                 std::vector<int32_t>& symbols) const;
  // Cuts `text` at added tokens; calls on_text for text between them.
  template <typename OnText>
  void split_added(std::string_view text, SpecialTokens special, std::vector<int32_t>& out,
                   OnText on_text) const;

  BpeSpec spec_;
  size_t vocab_size_ = 0;
  std::vector<int32_t> ascii_ids_;        // kChars: raw ASCII character -> symbol id, or -1
  std::vector<int32_t> byte_ids_;         // kBytes: byte -> id; kChars: byte -> <0xXX> id
  std::vector<std::string> added_by_id_;  // id -> added token content ("" if none)
  std::vector<bool> is_added_;
  // Added tokens indexed by their first two bytes, longest first.
  std::vector<std::vector<size_t>> added_by_prefix_;
  std::vector<bool> added_first_byte_;
  // kChars: how split_at_markers treats a byte of raw text (0: plain), and the non-ASCII
  // characters that some token holds right before a "▁".
  static constexpr uint8_t kIsMarker = 1, kJoinsMarker = 2, kIsolated = 4, kNonAscii = 8;
  std::vector<uint8_t> byte_kind_;
  std::vector<std::string> joins_marker_other_;
  bool cut_at_markers_ = false;
  uint64_t instance_ = 0;
};

}  // namespace longctx
