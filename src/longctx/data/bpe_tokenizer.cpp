#include "longctx/data/bpe_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cstring>

#include "longctx/base/error.h"
#include "longctx/data/utf8.h"

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

// Per-thread cache of encoded pieces. It belongs to one tokenizer instance at a time and is
// cleared when another instance uses the thread, or when it grows past its bound.
// Entries are found by a 64-bit hash of the piece and confirmed by comparing the bytes, so a
// lookup allocates nothing.
struct BpeTokenizer::Cache {
  struct Entry {
    std::string piece;
    uint32_t first = 0;  // ids[first, first + count) in `ids`
    uint32_t count = 0;
  };
  uint64_t owner = 0;
  FlatMap64 index;  // hash -> entry
  std::vector<Entry> entries;
  std::vector<int32_t> ids;
  std::vector<std::string_view> scratch;
  static constexpr size_t kMaxEntries = 1 << 18;
  static constexpr size_t kMaxPieceBytes = 256;  // longer pieces are not cached

  void clear() {
    index = FlatMap64{};
    entries.clear();
    ids.clear();
  }
  static uint64_t hash(std::string_view piece) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ piece.size();
    size_t i = 0;
    for (; i + 8 <= piece.size(); i += 8) {
      uint64_t word;
      std::memcpy(&word, piece.data() + i, 8);
      h = (h ^ word) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, piece.data() + i, piece.size() - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h == ~uint64_t{0} ? 0 : h;
  }
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
    ascii_ids_.assign(128, -1);
    for (int c = 0; c < 128; ++c) {
      ascii_ids_[static_cast<size_t>(c)] = spec_.vocab.find(std::string(1, static_cast<char>(c)));
    }
    for (size_t id = 0; id < spec_.vocab.id_limit(); ++id) {
      int b = parse_byte_token(spec_.vocab.token(static_cast<int32_t>(id)));
      if (b >= 0) byte_ids_[static_cast<size_t>(b)] = static_cast<int32_t>(id);
    }
    // Pieces may be cut before a "▁" that follows another character only if no token holds
    // such a pair: then no merge can ever join symbols across that point.
    chunk_at_markers_ = true;
    for (size_t id = 0; id < spec_.vocab.id_limit() && chunk_at_markers_; ++id) {
      const std::string& t = spec_.vocab.token(static_cast<int32_t>(id));
      for (size_t pos = t.find(kMarker, 1); pos != std::string::npos;
           pos = t.find(kMarker, pos + 1)) {
        if (pos < kMarker.size() || t.compare(pos - kMarker.size(), kMarker.size(), kMarker) != 0) {
          chunk_at_markers_ = false;
          break;
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

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, SpecialTokens special) const {
  thread_local Cache cache;
  if (cache.owner != instance_) {
    cache.clear();
    cache.owner = instance_;
  }
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
    std::vector<std::string_view>& pieces = cache.scratch;
    pieces.clear();
    split_pretokens(text, spec_.pattern, pieces);
    for (std::string_view piece : pieces) encode_piece(piece, out, cache);
    pieces.clear();
    return;
  }
  // SentencePiece-style normalizer: "▁" first, spaces as "▁".
  std::string normalized;
  normalized.reserve(text.size() + 16);
  if (spec_.prepend_marker && !text.empty()) normalized += kMarker;
  for (char c : text) {
    if (c == ' ' && spec_.replace_spaces) {
      normalized += kMarker;
    } else {
      normalized += c;
    }
  }
  std::string_view all = normalized;
  if (!chunk_at_markers_) {
    bpe_piece(all, out);
    return;
  }
  // Cut before each "▁" that follows a character other than "▁".
  size_t start = 0, pos = 0;
  bool previous_is_marker = false;
  while (pos < all.size()) {
    bool is_marker = all.compare(pos, kMarker.size(), kMarker) == 0;
    if (is_marker && !previous_is_marker && pos > start) {
      encode_piece(all.substr(start, pos - start), out, cache);
      start = pos;
    }
    previous_is_marker = is_marker;
    pos += is_marker ? kMarker.size() : utf8_length(static_cast<unsigned char>(all[pos]));
  }
  if (start < all.size()) encode_piece(all.substr(start), out, cache);
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out,
                                Cache& cache) const {
  if (spec_.ignore_merges) {
    // Most pieces of ordinary text are whole tokens: one lookup, no cache.
    int32_t whole = spec_.vocab.find(piece);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  if (piece.size() > Cache::kMaxPieceBytes) {
    bpe_piece(piece, out);
    return;
  }
  uint64_t h = Cache::hash(piece);
  uint64_t slot;
  if (cache.index.find(h, slot)) {
    const Cache::Entry& entry = cache.entries[slot];
    if (entry.piece == piece) {
      auto first = cache.ids.begin() + entry.first;
      out.insert(out.end(), first, first + entry.count);
      return;
    }
  }
  size_t before = out.size();
  bpe_piece(piece, out);
  if (cache.entries.size() >= Cache::kMaxEntries) cache.clear();
  if (!cache.index.find(h, slot)) {
    cache.index.insert(h, cache.entries.size());
    cache.entries.push_back(Cache::Entry{std::string(piece),
                                         static_cast<uint32_t>(cache.ids.size()),
                                         static_cast<uint32_t>(out.size() - before)});
    cache.ids.insert(cache.ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
  }
}

void BpeTokenizer::bpe_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  if (spec_.alphabet == BpeAlphabet::kBytes) {
    for (char c : piece) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  } else {
    bool previous_unk = false;
    for (size_t pos = 0; pos < piece.size();) {
      size_t length =
          std::min(utf8_length(static_cast<unsigned char>(piece[pos])), piece.size() - pos);
      int32_t id = spec_.vocab.find(piece.substr(pos, length));
      if (id >= 0) {
        symbols.push_back(id);
        previous_unk = false;
      } else {
        bool all_bytes = spec_.byte_fallback;
        for (size_t k = 0; k < length && all_bytes; ++k) {
          all_bytes = byte_ids_[static_cast<unsigned char>(piece[pos + k])] >= 0;
        }
        if (all_bytes) {
          for (size_t k = 0; k < length; ++k) {
            symbols.push_back(byte_ids_[static_cast<unsigned char>(piece[pos + k])]);
          }
          previous_unk = false;
        } else {
          if (spec_.unk_id < 0) {
            throw Error(fmt::format("{}: character not in the vocabulary and no unknown token",
                                    spec_.description));
          }
          if (!(spec_.fuse_unk && previous_unk)) symbols.push_back(spec_.unk_id);
          previous_unk = true;
        }
      }
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
  for (const DecodeStep& step : spec_.decode_steps) {
    switch (step.kind) {
      case DecodeStep::Kind::kReplace:
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
      case DecodeStep::Kind::kByteFallback: {
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
      case DecodeStep::Kind::kFuse: {
        std::string all;
        for (const std::string& p : pieces) all += p;
        pieces.assign(1, std::move(all));
        break;
      }
      case DecodeStep::Kind::kStrip:
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
