#include "longctx/tokenizer/bpe_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cstring>

#include "longctx/base/error.h"
#include "longctx/tokenizer/utf8.h"

namespace longctx {

namespace {

constexpr std::string_view kMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, "▁"

std::atomic<uint64_t> next_instance{1};

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw Error("ICU NFC normalizer is unavailable");
  icu::UnicodeString source = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (normalizer->isNormalized(source, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  icu::UnicodeString normalized = normalizer->normalize(source, status);
  if (U_FAILURE(status)) throw Error("NFC normalization failed");
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

// "<0x41>" -> 0x41, or -1.
int parse_byte_token(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(token[3]), lo = hex(token[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

// Per-thread scratch and cache of encoded pieces. It belongs to one tokenizer instance at a
// time and is emptied when another instance uses the thread.
struct BpeTokenizer::Cache {
  uint64_t owner = 0;
  PieceCache pieces;
  std::vector<std::string_view> pieces_of_segment;
  std::vector<int32_t> symbols;
};

BpeTokenizer::BpeTokenizer(BpeSpec spec) : spec_(std::move(spec)), instance_(next_instance++) {
  vocab_size_ = spec_.vocab.id_limit();
  for (const AddedToken& t : spec_.added) {
    vocab_size_ = std::max(vocab_size_, static_cast<size_t>(t.id) + 1);
  }
  added_by_id_.assign(vocab_size_, "");
  is_added_.assign(vocab_size_, false);
  for (const AddedToken& t : spec_.added) {
    added_by_id_[static_cast<size_t>(t.id)] = t.content;
    is_added_[static_cast<size_t>(t.id)] = true;
  }
  // Added tokens by their first two bytes, longest first (leftmost-longest matching).
  added_by_prefix_.assign(65536, {});
  added_first_byte_.assign(256, false);
  for (size_t i = 0; i < spec_.added.size(); ++i) {
    const std::string& c = spec_.added[i].content;
    if (c.empty()) continue;
    added_first_byte_[static_cast<unsigned char>(c[0])] = true;
    size_t key = static_cast<unsigned char>(c[0]) * 256u +
                 (c.size() > 1 ? static_cast<unsigned char>(c[1]) : 0u);
    added_by_prefix_[key].push_back(i);
  }
  for (auto& list : added_by_prefix_) {
    std::sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return spec_.added[a].content.size() > spec_.added[b].content.size();
    });
  }
  // Initial symbols for bytes.
  byte_ids_.assign(256, -1);
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    for (int b = 0; b < 256; ++b) {
      byte_ids_[static_cast<size_t>(b)] = spec_.vocab.find(std::string(1, static_cast<char>(b)));
      if (byte_ids_[static_cast<size_t>(b)] < 0) {
        throw Error(fmt::format("{}: byte-level vocabulary has no token for byte 0x{:02X}",
                                spec_.description, b));
      }
    }
  } else {
    // Initial symbols of ASCII characters as they appear in the raw text (a space is "▁" once
    // normalised); -1 sends a character to the general path (byte fallback, unknown).
    ascii_ids_.assign(128, -1);
    for (int c = 0; c < 128; ++c) {
      std::string normalized(1, static_cast<char>(c));
      if (c == ' ' && spec_.replace_spaces) normalized = kMarker;
      ascii_ids_[static_cast<size_t>(c)] = spec_.vocab.find(normalized);
    }
    for (size_t id = 0; id < spec_.vocab.id_limit(); ++id) {
      int b = parse_byte_token(spec_.vocab.token(static_cast<int32_t>(id)));
      if (b >= 0) byte_ids_[static_cast<size_t>(b)] = static_cast<int32_t>(id);
    }
    // How split_at_markers treats each byte (0: a plain character). Isolated: an ASCII
    // character whose symbol takes part in no merge (Llama-2: digits, "\n", "\t" and the other
    // control characters, which fall back to <0xXX>), so nothing merges across it; the unknown
    // token never counts (fuse_unk joins neighbouring unknowns).
    // A "▁" that would be the unknown token is no place to cut (fuse_unk, again).
    cut_at_markers_ =
        spec_.vocab.find(kMarker) >= 0 ||
        (spec_.byte_fallback && std::all_of(kMarker.begin(), kMarker.end(), [&](char b) {
           return byte_ids_[static_cast<unsigned char>(b)] >= 0;
         }));
    byte_kind_.assign(256, 0);
    for (int c = 0; c < 256; ++c) {
      uint8_t& kind = byte_kind_[static_cast<size_t>(c)];
      if (c >= 0x80) {
        kind = kNonAscii;
      } else if (c == ' ' && spec_.replace_spaces) {
        kind = cut_at_markers_ ? kIsMarker : 0;
      } else {
        int32_t id = ascii_ids_[static_cast<size_t>(c)];
        if (id < 0 && spec_.byte_fallback) id = byte_ids_[static_cast<size_t>(c)];
        if (id >= 0 && !spec_.merges.in_any_pair(id)) kind = kIsolated;
      }
    }
    // The characters that some token joins to a following "▁" ("x▁" inside a token; Gemma-3
    // has one, ">▁</"). Text is cut into pieces before every other "▁" (split_at_markers).
    for (size_t id = 0; id < spec_.vocab.id_limit(); ++id) {
      const std::string& t = spec_.vocab.token(static_cast<int32_t>(id));
      for (size_t pos = t.find(kMarker, 1); pos != std::string::npos;
           pos = t.find(kMarker, pos + 1)) {
        size_t lead = pos - 1;
        while (lead > 0 && (static_cast<unsigned char>(t[lead]) & 0xC0) == 0x80) --lead;
        std::string_view before = std::string_view(t).substr(lead, pos - lead);
        if (before == kMarker) continue;
        if (before.size() == 1 && static_cast<unsigned char>(before[0]) < 0x80) {
          byte_kind_[static_cast<unsigned char>(before[0])] |= kJoinsMarker;
        } else if (std::find(joins_marker_other_.begin(), joins_marker_other_.end(), before) ==
                   joins_marker_other_.end()) {
          joins_marker_other_.emplace_back(before);
        }
      }
    }
  }
}

BpeTokenizer::~BpeTokenizer() = default;

std::optional<int32_t> BpeTokenizer::token_id(std::string_view token) const {
  for (const AddedToken& t : spec_.added) {
    if (t.content == token) return t.id;
  }
  int32_t id = spec_.vocab.find(token);
  if (id >= 0) return id;
  return std::nullopt;
}

template <typename OnText>
void BpeTokenizer::split_added(std::string_view text, SpecialTokens special,
                               std::vector<int32_t>& out, OnText on_text) const {
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    auto b0 = static_cast<unsigned char>(text[pos]);
    if (!added_first_byte_[b0]) {
      ++pos;
      continue;
    }
    size_t key =
        b0 * 256u + (pos + 1 < text.size() ? static_cast<unsigned char>(text[pos + 1]) : 0u);
    const AddedToken* match = nullptr;
    for (size_t index : added_by_prefix_[key]) {
      const AddedToken& t = spec_.added[index];
      if (t.special && special == SpecialTokens::kAsText) continue;
      if (text.compare(pos, t.content.size(), t.content) == 0) {
        match = &t;
        break;
      }
    }
    // A one-byte token is indexed under (byte, 0).
    if (match == nullptr && pos + 1 < text.size()) {
      for (size_t index : added_by_prefix_[b0 * 256u]) {
        const AddedToken& t = spec_.added[index];
        if (t.content.size() == 1 && !(t.special && special == SpecialTokens::kAsText)) {
          match = &t;
          break;
        }
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    if (pos > start) on_text(text.substr(start, pos - start));
    out.push_back(match->id);
    pos += match->content.size();
    start = pos;
  }
  if (start < text.size()) on_text(text.substr(start));
}

BpeTokenizer::Cache& BpeTokenizer::thread_cache() const {
  thread_local Cache cache;
  if (cache.owner != instance_) {
    cache.pieces.clear();
    cache.owner = instance_;
  }
  return cache;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, SpecialTokens special) const {
  Cache& cache = thread_cache();
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  if (spec_.nfc) {
    std::string normalized = nfc(text);
    if (normalized != text) {
      repaired = std::move(normalized);
      text = repaired;
    }
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  split_added(text, special, out,
              [&](std::string_view segment) { encode_segment(segment, out, cache); });
  return out;
}

void BpeTokenizer::encode_segment(std::string_view text, std::vector<int32_t>& out,
                                  Cache& cache) const {
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    // A batch of pieces at a time, so that a long document needs no list of all its pieces.
    std::vector<std::string_view>& pieces = cache.pieces_of_segment;
    for (size_t pos = 0; pos < text.size();) {
      pieces.clear();
      pos = split_pretokens(text, spec_.pattern, pieces, pos, /*max_pieces=*/4096);
      for (std::string_view piece : pieces)
        encode_piece(piece, /*prepend_marker=*/false, out, cache);
    }
    return;
  }
  split_at_markers(text, [&](std::string_view piece, bool first) {
    encode_piece(piece, first && spec_.prepend_marker, out, cache);
  });
}

void BpeTokenizer::encode_text(std::string_view text, bool prepend_marker,
                               std::vector<int32_t>& out) const {
  Cache& cache = thread_cache();
  if (spec_.alphabet == BpeAlphabet::kChars && prepend_marker && text.empty()) {
    bpe_piece(text, /*prepend_marker=*/true, out, cache.symbols);
    return;
  }
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    encode_segment(text, out, cache);
    return;
  }
  split_at_markers(text, [&](std::string_view piece, bool first) {
    encode_piece(piece, first && prepend_marker, out, cache);
  });
}

// SentencePiece-style: the normalizer turns spaces into "▁" (and may prepend one), then BPE
// sees the whole segment as one word. We never build the normalised text: we cut the raw text
// where no merge can reach across, so the pieces encode on their own (and repeat, so they are
// cached): before each "▁" (a space, or a literal U+2581) that follows a character no token
// joins to a following "▁", and around each character whose symbol takes part in no merge.
//   "The cat  sat 42" -> "The" (encoded as "▁The") | " cat" | "  sat" | " " | "4" | "2"
template <typename OnPiece>
void BpeTokenizer::split_at_markers(std::string_view text, OnPiece on_piece) const {
  size_t start = 0;
  bool joins_next = true;  // the previous character keeps a following "▁" in its piece
  bool after_isolated = false;
  for (size_t pos = 0; pos < text.size();) {
    // Letters and most punctuation: no cut before, none after.
    size_t plain = pos;
    while (pos < text.size() && byte_kind_[static_cast<unsigned char>(text[pos])] == 0) ++pos;
    if (pos > plain) joins_next = after_isolated = false;
    if (pos == text.size()) break;
    auto c = static_cast<unsigned char>(text[pos]);
    size_t length = std::min(utf8_length(c), text.size() - pos);
    uint8_t kind = byte_kind_[c];
    if (c == 0xE2 && cut_at_markers_ && text.compare(pos, length, kMarker) == 0) {
      kind = kIsMarker;
    } else if (c >= 0x80) {
      std::string_view character = text.substr(pos, length);
      kind = std::find(joins_marker_other_.begin(), joins_marker_other_.end(), character) !=
                     joins_marker_other_.end()
                 ? kJoinsMarker
                 : 0;
    }
    bool isolated = kind & kIsolated;
    if (pos > start && (((kind & kIsMarker) && !joins_next) || isolated || after_isolated)) {
      on_piece(text.substr(start, pos - start), /*first=*/start == 0);
      start = pos;
    }
    after_isolated = isolated;
    joins_next = kind & (kIsMarker | kJoinsMarker);
    pos += length;
  }
  if (start < text.size()) on_piece(text.substr(start), /*first=*/start == 0);
}

void BpeTokenizer::encode_piece(std::string_view piece, bool prepend_marker,
                                std::vector<int32_t>& out, Cache& cache) const {
  if (spec_.ignore_merges) {
    // Most pieces of ordinary text are whole tokens: one lookup, nothing cached.
    int32_t whole = spec_.vocab.find(piece);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  const auto tag = static_cast<uint8_t>(prepend_marker);
  std::span<const int32_t> hit = cache.pieces.find(piece, tag);
  if (!hit.empty()) {
    out.insert(out.end(), hit.begin(), hit.end());
    return;
  }
  size_t before = out.size();
  bpe_piece(piece, prepend_marker, out, cache.symbols);
  cache.pieces.insert(piece, tag, std::span<const int32_t>(out).subspan(before));
}

void BpeTokenizer::bpe_piece(std::string_view piece, bool prepend_marker, std::vector<int32_t>& out,
                             std::vector<int32_t>& symbols) const {
  symbols.clear();
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    for (char c : piece) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  } else {
    // One symbol per character of the normalised piece; a character missing from the
    // vocabulary becomes its bytes (byte fallback) or the unknown token.
    bool previous_unk = false;
    auto push_character = [&](std::string_view character) {
      int32_t id = spec_.vocab.find(character);
      if (id >= 0) {
        symbols.push_back(id);
        previous_unk = false;
        return;
      }
      bool all_bytes = spec_.byte_fallback;
      for (char b : character)
        all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(b)] >= 0;
      if (all_bytes) {
        for (char b : character) symbols.push_back(byte_ids_[static_cast<unsigned char>(b)]);
        previous_unk = false;
        return;
      }
      if (spec_.unk_id < 0) {
        throw Error(fmt::format("{}: character not in the vocabulary and no unknown token",
                                spec_.description));
      }
      if (!(spec_.fuse_unk && previous_unk)) symbols.push_back(spec_.unk_id);
      previous_unk = true;
    };
    if (prepend_marker) push_character(kMarker);
    for (size_t pos = 0; pos < piece.size();) {
      auto c = static_cast<unsigned char>(piece[pos]);
      if (c < 0x80 && ascii_ids_[c] >= 0) {
        symbols.push_back(ascii_ids_[c]);
        previous_unk = false;
        ++pos;
        continue;
      }
      size_t length = std::min(utf8_length(c), piece.size() - pos);
      push_character(c == ' ' && spec_.replace_spaces ? kMarker : piece.substr(pos, length));
      pos += length;
    }
  }
  spec_.merges.apply(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  auto text_of = [&](int32_t id) -> std::string {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size_) {
      throw Error(fmt::format("token id {} is outside the vocabulary (size {})", id, vocab_size_));
    }
    if (is_added_[static_cast<size_t>(id)]) return added_by_id_[static_cast<size_t>(id)];
    return spec_.vocab.token(id);
  };
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    std::string bytes;
    for (int32_t id : ids) bytes += text_of(id);
    return repair_utf8(bytes);  // like from_utf8_lossy
  }
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (int32_t id : ids) pieces.push_back(text_of(id));
  for (const DecoderStep& step : spec_.decode_steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kReplace:
        for (std::string& p : pieces) {
          std::string replaced;
          for (size_t pos = 0; pos < p.size();) {
            if (!step.pattern.empty() && p.compare(pos, step.pattern.size(), step.pattern) == 0) {
              replaced += step.content;
              pos += step.pattern.size();
            } else {
              replaced += p[pos++];
            }
          }
          p = std::move(replaced);
        }
        break;
      case DecoderStep::Kind::kByteFallback: {
        // Runs of <0xXX> tokens become their bytes when those form valid UTF-8, else one
        // U+FFFD per byte.
        std::vector<std::string> merged;
        std::string run;
        size_t run_count = 0;
        auto flush = [&] {
          if (run_count == 0) return;
          if (is_valid_utf8(run)) {
            merged.push_back(run);
          } else {
            for (size_t k = 0; k < run_count; ++k) merged.emplace_back("\xEF\xBF\xBD");
          }
          run.clear();
          run_count = 0;
        };
        for (std::string& p : pieces) {
          int b = parse_byte_token(p);
          if (b >= 0) {
            run += static_cast<char>(b);
            ++run_count;
          } else {
            flush();
            merged.push_back(std::move(p));
          }
        }
        flush();
        pieces = std::move(merged);
        break;
      }
      case DecoderStep::Kind::kFuse: {
        std::string all;
        for (const std::string& p : pieces) all += p;
        pieces.assign(1, std::move(all));
        break;
      }
      case DecoderStep::Kind::kStrip:
        for (size_t i = 0; i < pieces.size(); ++i) {
          std::string& p = pieces[i];
          for (int k = 0; k < step.start && p.compare(0, step.content.size(), step.content) == 0;
               ++k) {
            p.erase(0, step.content.size());
          }
          for (int k = 0;
               k < step.stop && p.size() >= step.content.size() &&
               p.compare(p.size() - step.content.size(), step.content.size(), step.content) == 0;
               ++k) {
            p.erase(p.size() - step.content.size());
          }
        }
        break;
    }
  }
  std::string all;
  for (const std::string& p : pieces) all += p;
  return all;
}

}  // namespace longctx
