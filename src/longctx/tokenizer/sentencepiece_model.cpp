#include "longctx/tokenizer/sentencepiece_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "longctx/base/error.h"

namespace longctx {

namespace {

using PieceType = SentencePieceModel::PieceType;

constexpr std::string_view kMarker = "\xE2\x96\x81";  // "▁", SentencePiece's escaped space
constexpr const char* kHint =
    "supported: SentencePiece BPE models with identity normalization (Llama-2, Mistral, "
    "TinyLlama); a model directory's tokenizer.json is another way in";

// --- Protobuf wire format ----------------------------------------------------------------
// A message is a run of fields, each a varint key (field number << 3 | wire type) and a value:
// wire type 0 a varint, 1 eight bytes, 2 a varint length then that many bytes, 5 four bytes.
// A varint is 7 bits per byte, least significant first, the high bit set on all but the last
// (300 = 0xAC 0x02). Fields may come in any order and repeat; unknown ones are skipped.
class WireReader {
 public:
  enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

  WireReader(std::string_view bytes, std::string message, const std::string& where)
      : bytes_(bytes), message_(std::move(message)), where_(where) {}

  // The next field's number and wire type; false at the end of the message.
  bool next(uint32_t& field, uint32_t& wire_type) {
    if (pos_ >= bytes_.size()) return false;
    uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wire_type = static_cast<uint32_t>(key & 7);
    if (field == 0) fail("field number 0");
    if (wire_type != kVarint && wire_type != kFixed64 && wire_type != kLength &&
        wire_type != kFixed32) {
      fail(fmt::format("field {} has wire type {} (groups and unknown types are not read)", field,
                       wire_type));
    }
    field_ = field;
    wire_type_ = wire_type;
    return true;
  }

  uint64_t read_varint(const char* name) {
    expect(kVarint, name);
    return varint();
  }
  int32_t read_int32(const char* name) {
    // Negative int32 values are written as 64-bit two's complement.
    return static_cast<int32_t>(static_cast<int64_t>(read_varint(name)));
  }
  bool read_bool(const char* name) { return read_varint(name) != 0; }
  std::string_view read_bytes(const char* name) {
    expect(kLength, name);
    uint64_t length = varint();
    if (length > bytes_.size() - pos_) fail(fmt::format("{} runs past the end", name));
    std::string_view out = bytes_.substr(pos_, length);
    pos_ += length;
    return out;
  }
  float read_float(const char* name) {
    expect(kFixed32, name);
    if (bytes_.size() - pos_ < 4) fail(fmt::format("{} runs past the end", name));
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i)
      bits |= uint32_t{static_cast<unsigned char>(bytes_[pos_++])} << (8 * i);
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  void skip() {
    switch (wire_type_) {
      case kVarint:
        varint();
        break;
      case kLength:
        read_bytes("a field");
        break;
      case kFixed64:
      case kFixed32: {
        size_t size = wire_type_ == kFixed64 ? 8 : 4;
        if (bytes_.size() - pos_ < size) fail(fmt::format("field {} runs past the end", field_));
        pos_ += size;
        break;
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: neither a SentencePiece model nor a tiktoken rank file: {} at "
                            "byte {} of {}",
                            where_, what, pos_, message_),
                "pass a tokenizer.json, a SentencePiece .model or a tiktoken rank file");
  }

 private:
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) fail("truncated varint");
      auto byte = static_cast<unsigned char>(bytes_[pos_++]);
      value |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    fail("varint longer than 10 bytes");
  }
  void expect(uint32_t wire_type, const char* name) const {
    if (wire_type_ != wire_type) {
      fail(fmt::format("{} (field {}) has wire type {}, expected {}", name, field_, wire_type_,
                       wire_type));
    }
  }

  std::string_view bytes_;
  std::string message_;
  const std::string& where_;
  size_t pos_ = 0;
  uint32_t field_ = 0, wire_type_ = 0;
};

void parse_piece(std::string_view bytes, const std::string& where, SentencePieceModel& model) {
  WireReader r(bytes, fmt::format("ModelProto.pieces[{}]", model.pieces.size()), where);
  SentencePieceModel::Piece piece;
  uint32_t field, wire_type;
  while (r.next(field, wire_type)) {
    if (field == 1) {
      piece.text = std::string(r.read_bytes("piece"));
    } else if (field == 2) {
      piece.score = r.read_float("score");
    } else if (field == 3) {
      piece.type = static_cast<PieceType>(r.read_int32("type"));
    } else {
      r.skip();
    }
  }
  model.pieces.push_back(std::move(piece));
}

void parse_trainer_spec(std::string_view bytes, const std::string& where,
                        SentencePieceModel& model) {
  WireReader r(bytes, "ModelProto.trainer_spec", where);
  uint32_t field, wire_type;
  while (r.next(field, wire_type)) {
    if (field == 3)
      model.model_type = r.read_int32("model_type");
    else if (field == 24)
      model.treat_whitespace_as_suffix = r.read_bool("treat_whitespace_as_suffix");
    else if (field == 35)
      model.byte_fallback = r.read_bool("byte_fallback");
    else if (field == 41)
      model.bos_id = r.read_int32("bos_id");
    else if (field == 42)
      model.eos_id = r.read_int32("eos_id");
    else if (field == 44)
      model.unk_surface = r.read_bytes("unk_surface");
    else if (field == 46)
      model.bos_piece = r.read_bytes("bos_piece");
    else if (field == 47)
      model.eos_piece = r.read_bytes("eos_piece");
    else
      r.skip();
  }
}

// normalizer_spec (3) and denormalizer_spec (5) are both NormalizerSpec messages; of the
// denormalizer only its rules matter (none are supported).
void parse_normalizer_spec(std::string_view bytes, const std::string& where,
                           SentencePieceModel& model) {
  WireReader r(bytes, "ModelProto.normalizer_spec", where);
  uint32_t field, wire_type;
  while (r.next(field, wire_type)) {
    if (field == 1)
      model.normalizer_name = r.read_bytes("name");
    else if (field == 2)
      model.precompiled_charsmap = r.read_bytes("precompiled_charsmap");
    else if (field == 3)
      model.add_dummy_prefix = r.read_bool("add_dummy_prefix");
    else if (field == 4)
      model.remove_extra_whitespaces = r.read_bool("remove_extra_whitespaces");
    else if (field == 5)
      model.escape_whitespaces = r.read_bool("escape_whitespaces");
    else
      r.skip();
  }
}

void parse_denormalizer_spec(std::string_view bytes, const std::string& where,
                             SentencePieceModel& model) {
  WireReader r(bytes, "ModelProto.denormalizer_spec", where);
  uint32_t field, wire_type;
  while (r.next(field, wire_type)) {
    if (field == 2)
      model.denormalizer_charsmap = r.read_bytes("precompiled_charsmap");
    else
      r.skip();
  }
}

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

std::string model_type_name(int32_t type) {
  static const char* kNames[] = {"UNIGRAM", "BPE", "WORD", "CHAR"};
  return type >= 1 && type <= 4 ? kNames[type - 1] : "unknown";
}

[[noreturn]] void unsupported(const std::string& where, const std::string& what) {
  throw Error(fmt::format("{}: {}", where, what), kHint);
}

}  // namespace

int SentencePieceModel::byte_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // SentencePiece writes upper case
  };
  int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& where) {
  SentencePieceModel model;
  WireReader r(bytes, "ModelProto", where);
  uint32_t field, wire_type;
  while (r.next(field, wire_type)) {
    if (field == 1)
      parse_piece(r.read_bytes("pieces"), where, model);
    else if (field == 2)
      parse_trainer_spec(r.read_bytes("trainer_spec"), where, model);
    else if (field == 3)
      parse_normalizer_spec(r.read_bytes("normalizer_spec"), where, model);
    else if (field == 5)
      parse_denormalizer_spec(r.read_bytes("denormalizer_spec"), where, model);
    else
      r.skip();
  }
  if (model.pieces.empty()) r.fail("no pieces (ModelProto.pieces is empty)");
  return model;
}

BpeSpec sentencepiece_bpe_spec(const SentencePieceModel& model, const std::string& where) {
  auto fail = [&](const std::string& what) { unsupported(where, what); };
  // What changes the computation and is not implemented.
  if (model.model_type != SentencePieceModel::kBpe) {
    fail(fmt::format("trainer_spec.model_type is {} ({}); only BPE (2) models are supported",
                     model_type_name(model.model_type), model.model_type));
  }
  if (!model.precompiled_charsmap.empty()) {
    fail(
        fmt::format("normalizer_spec.precompiled_charsmap is not empty: the normalizer '{}' "
                    "rewrites text before tokenizing; only identity normalization is supported",
                    model.normalizer_name));
  }
  if (!model.denormalizer_charsmap.empty())
    fail("denormalizer_spec.precompiled_charsmap is not empty: denormalizing is not supported");
  if (!model.escape_whitespaces)
    fail("normalizer_spec.escape_whitespaces is false: spaces must be escaped as \"▁\"");
  if (model.treat_whitespace_as_suffix)
    fail("trainer_spec.treat_whitespace_as_suffix is true, which is not supported");

  BpeSpec spec;
  spec.alphabet = BpeAlphabet::kChars;
  spec.prepend_marker = model.add_dummy_prefix;
  spec.replace_spaces = true;
  spec.byte_fallback = model.byte_fallback;
  spec.fuse_unk = true;  // a run of unknown characters is one <unk>
  spec.description = "sentencepiece:" + where;
  std::vector<bool> byte_seen(256, false);
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    const SentencePieceModel::Piece& piece = model.pieces[i];
    const auto id = static_cast<int32_t>(i);
    const std::string name = fmt::format("pieces[{}] '{}'", id, piece.text);
    if (piece.text.empty()) fail(fmt::format("pieces[{}] is empty", id));
    if (spec.vocab.find(piece.text) >= 0) fail(name + " appears twice");
    if (std::isnan(piece.score)) fail(name + " has a NaN score");
    spec.vocab.add(piece.text, id);
    switch (piece.type) {
      case PieceType::kNormal:
        break;
      case PieceType::kUnknown:
        if (spec.unk_id >= 0) fail(name + " is a second UNKNOWN piece");
        if (utf8_length(static_cast<unsigned char>(piece.text[0])) == piece.text.size())
          fail(name + ": an UNKNOWN piece of one character is not supported");
        spec.unk_id = id;
        spec.added.push_back({piece.text, id, /*special=*/true});
        break;
      case PieceType::kControl:
        spec.added.push_back({piece.text, id, /*special=*/true});
        break;
      case PieceType::kUserDefined:
        // Matched in the raw text; one holding a space or "▁" would match the escaped text.
        if (piece.text.find(' ') != std::string::npos ||
            piece.text.find(kMarker) != std::string::npos) {
          fail(name + ": a USER_DEFINED piece holding a space or \"▁\" is not supported");
        }
        spec.added.push_back({piece.text, id, /*special=*/false});
        break;
      case PieceType::kByte: {
        int b = SentencePieceModel::byte_value(piece.text);
        if (!model.byte_fallback)
          fail(name + " is a BYTE piece but trainer_spec.byte_fallback is false");
        if (b < 0) fail(name + " is a BYTE piece but not <0xXX>");
        byte_seen[static_cast<size_t>(b)] = true;
        break;
      }
      case PieceType::kUnused:
        fail(name +
             " is UNUSED, which is not supported (libsentencepiece merges into it, then "
             "splits it again)");
        break;
      default:
        fail(fmt::format("{} has type {}, not a SentencePiece piece type", name,
                         static_cast<int>(piece.type)));
    }
  }
  if (spec.unk_id < 0) fail("no piece has type UNKNOWN (libsentencepiece needs one)");
  if (model.byte_fallback &&
      std::find(byte_seen.begin(), byte_seen.end(), false) != byte_seen.end())
    fail("trainer_spec.byte_fallback is true but some of the 256 BYTE pieces are missing");

  // Merges. libsentencepiece joins two adjacent symbols whenever the joined text is a NORMAL
  // piece, highest score first; a symbol is a character or a NORMAL piece. So every split of
  // a NORMAL piece into two NORMAL pieces is a merge, ranked by the piece's score: equal scores
  // share a rank, and BpeTokenizer takes the leftmost of equal ranks as libsentencepiece does.
  // (HF's converter orders equal scores by id instead; they differ only on such ties.) A NORMAL
  // piece holding a character that is not a NORMAL piece of its own would be reachable in
  // libsentencepiece but not here (the character falls back to bytes first): refused.
  auto is_normal = [&](int32_t id) {
    return id >= 0 && model.pieces[static_cast<size_t>(id)].type == PieceType::kNormal;
  };
  std::vector<float> scores;
  for (const auto& piece : model.pieces) {
    if (piece.type == PieceType::kNormal) scores.push_back(piece.score);
  }
  std::sort(scores.begin(), scores.end(), std::greater<>());
  scores.erase(std::unique(scores.begin(), scores.end()), scores.end());
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    const SentencePieceModel::Piece& piece = model.pieces[i];
    const std::string& text = piece.text;
    if (piece.type != PieceType::kNormal ||
        utf8_length(static_cast<unsigned char>(text[0])) >= text.size()) {
      continue;
    }
    auto rank = static_cast<int32_t>(
        std::lower_bound(scores.begin(), scores.end(), piece.score, std::greater<>()) -
        scores.begin());
    for (size_t cut = 0; cut < text.size();) {
      size_t next = std::min(text.size(), cut + utf8_length(static_cast<unsigned char>(text[cut])));
      if (!is_normal(spec.vocab.find(std::string_view(text).substr(cut, next - cut)))) {
        fail(fmt::format("pieces[{}] '{}' holds '{}', which is not a NORMAL piece: not supported",
                         i, text, text.substr(cut, next - cut)));
      }
      if (cut > 0) {
        int32_t left = spec.vocab.find(std::string_view(text).substr(0, cut));
        int32_t right = spec.vocab.find(std::string_view(text).substr(cut));
        if (is_normal(left) && is_normal(right))
          spec.merges.add(left, right, rank, static_cast<int32_t>(i));
      }
      cut = next;
    }
  }

  // HF's decoder for such models (BpeTokenizer alone); the tokenizer of a .model file decodes
  // by libsentencepiece's rules instead (SentencePieceTokenizer::decode).
  spec.decode_steps = {
      {.kind = DecoderStep::Kind::kReplace, .pattern = std::string(kMarker), .content = " "},
      {.kind = DecoderStep::Kind::kByteFallback},
      {.kind = DecoderStep::Kind::kFuse},
      {.kind = DecoderStep::Kind::kStrip, .content = " ", .start = 1, .stop = 0},
  };

  // bos/eos as libsentencepiece finds them: the piece named in trainer_spec, if CONTROL.
  auto control_id = [&](const std::string& name, int32_t id_field) {
    int32_t id = spec.vocab.find(name);
    if (id >= 0 && model.pieces[static_cast<size_t>(id)].type == PieceType::kControl) return id;
    if (id_field >= 0 && static_cast<size_t>(id_field) < model.pieces.size() &&
        model.pieces[static_cast<size_t>(id_field)].type == PieceType::kControl) {
      return id_field;
    }
    return -1;
  };
  spec.bos_id = control_id(model.bos_piece, model.bos_id);
  spec.eos_id = control_id(model.eos_piece, model.eos_id);
  return spec;
}

}  // namespace longctx
