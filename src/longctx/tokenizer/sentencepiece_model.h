// SentencePiece .model files, read natively (no libsentencepiece, no protobuf library). A
// .model is one ModelProto message (sentencepiece_model.proto) in the protobuf wire format:
//
//   ModelProto      1 pieces (repeated SentencePiece)  2 trainer_spec  3 normalizer_spec
//                   5 denormalizer_spec (a NormalizerSpec)
//   SentencePiece   1 piece (string)  2 score (float)  3 type (NORMAL 1, UNKNOWN 2, CONTROL 3,
//                   USER_DEFINED 4, UNUSED 5, BYTE 6; default NORMAL)
//   TrainerSpec     3 model_type (UNIGRAM 1 default, BPE 2, WORD 3, CHAR 4)
//                   24 treat_whitespace_as_suffix  35 byte_fallback  41/42 bos/eos id
//                   44 unk_surface (" ⁇ ")  46/47 bos/eos piece ("<s>", "</s>")
//   NormalizerSpec  1 name  2 precompiled_charsmap  3 add_dummy_prefix (default true)
//                   4 remove_extra_whitespaces (true)  5 escape_whitespaces (true)
//
// A BPE model becomes a BpeSpec the way HF's LlamaConverter turns it into a tokenizer.json:
// the pieces are the vocabulary, merges come from the scores, "▁" is prepended and spaces
// become "▁", characters missing from the vocabulary fall back to <0xXX> pieces. Where HF's
// conversion and libsentencepiece disagree, libsentencepiece (Debian's 0.1.97) is the
// reference, and the tokenizer gives its ids and its decoded text (see the .cpp):
//   - merges: libsentencepiece joins the adjacent pair whose joined piece scores highest, the
//     leftmost on ties; every split of a NORMAL piece into two NORMAL pieces is a merge, all
//     of them ranked by the piece's score (equal scores, equal ranks: BpeTokenizer then takes
//     the leftmost, as libsentencepiece does);
//   - remove_extra_whitespaces (leading and trailing spaces dropped, runs of spaces made one)
//     and USER_DEFINED pieces (never merged; no dummy prefix after them) are handled by the
//     tokenizer around BpeTokenizer;
//   - decode: control pieces are invisible, <unk> is trainer_spec.unk_surface, the "▁" that
//     opens the text is dropped, invalid <0xXX> bytes become one U+FFFD each.
// Anything that changes the computation and is not implemented (unigram/word/char models,
// normalization rules in a precompiled_charsmap, UNUSED pieces, ...) is an error naming the
// file and the field.
//
//   SentencePieceModel model = parse_sentencepiece_model(read_file(path), path.string());
//   BpeSpec spec = sentencepiece_bpe_spec(model, path.string());   // HF-equivalent alone
//   std::unique_ptr<Tokenizer> tok = load_sentencepiece_model(path);  // with the rules above
//
// load_sentencepiece_model (tokenizer_files.h) is in sentencepiece_tokenizer.cpp: the
// tokenizer that applies libsentencepiece's own rules around the BpeTokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/tokenizer/bpe_tokenizer.h"

namespace longctx {

struct SentencePieceModel {
  enum class PieceType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
  };
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };
  static constexpr int32_t kUnigram = 1, kBpe = 2;
  // A BYTE piece's byte: "<0x41>" -> 0x41; -1 for any other text.
  static int byte_value(std::string_view piece);

  std::vector<Piece> pieces;  // id -> piece
  // trainer_spec
  int32_t model_type = kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int32_t bos_id = 1, eos_id = 2;
  std::string bos_piece = "<s>", eos_piece = "</s>";
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  // normalizer_spec
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  // denormalizer_spec
  std::string denormalizer_charsmap;
};

// Parses a ModelProto. Throws Error, prefixed with `where` (the file), when the bytes are not
// a well-formed message or hold no pieces.
SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& where);

// The BpeSpec of a BPE model (HF's LlamaConverter, with the merges and unknowns of
// libsentencepiece). bos/eos: the CONTROL piece named trainer_spec.bos_piece ("<s>"), as
// libsentencepiece finds it, else the CONTROL piece at trainer_spec.bos_id, else -1. Throws Error
// naming `where` and the field when the model uses something that is not supported.
BpeSpec sentencepiece_bpe_spec(const SentencePieceModel& model, const std::string& where);

}  // namespace longctx
