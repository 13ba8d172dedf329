// Byte-pair encoding: the merge loop shared by every BPE tokenizer we load. A word arrives as
// a sequence of initial symbol ids (bytes for byte-level BPE, characters for SentencePiece-style
// BPE); merges are applied lowest rank first, the leftmost pair on ties, which is what
// HF tokenizers, tiktoken (rank = the merged token's rank) and SentencePiece (rank = -score)
// all do. Short words use a simple scan; long ones a heap over a linked list, so a
// 10 MB word costs O(n log n), not O(n^2).
//
//   MergeTable merges;
//   merges.add(/*left=*/id_h, /*right=*/id_e, /*rank=*/0, /*result=*/id_he);
//   std::vector<int32_t> word{id_h, id_e, id_l};
//   merges.apply(word);   // {id_he, id_l}
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

// Open-addressing hash map from 64-bit keys to 64-bit values (keys never equal ~0).
class FlatMap64 {
 public:
  void insert(uint64_t key, uint64_t value);
  // Returns true and sets `value` when the key is present.
  bool find(uint64_t key, uint64_t& value) const {
    if (slots_.empty()) return false;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.key == key) {
        value = slot.value;
        return true;
      }
      if (slot.key == kEmpty) return false;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };
  static uint64_t mix(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return key;
  }
  void grow();

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

class MergeTable {
 public:
  // Adds "left right -> result" with priority `rank` (lower merges first). A pair added twice
  // keeps its first (lowest) rank.
  void add(int32_t left, int32_t right, int32_t rank, int32_t result);
  // Rank and result of a pair; false when the pair never merges.
  bool find(int32_t left, int32_t right, int32_t& rank, int32_t& result) const {
    uint64_t packed;
    if (!pairs_.find(key(left, right), packed)) return false;
    rank = static_cast<int32_t>(packed >> 32);
    result = static_cast<int32_t>(packed & 0xFFFFFFFFu);
    return true;
  }
  // True when `id` is the left or right part of some pair: a symbol that is neither never
  // changes, and no merge reaches across it.
  bool in_any_pair(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < in_pair_.size() &&
           in_pair_[static_cast<size_t>(id)];
  }
  // Merges `symbols` in place until no pair merges.
  void apply(std::vector<int32_t>& symbols) const;
  size_t size() const { return pairs_.size(); }

 private:
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void apply_small(std::vector<int32_t>& symbols) const;
  void apply_large(std::vector<int32_t>& symbols) const;

  FlatMap64 pairs_;
  std::vector<bool> in_pair_;  // id -> part of some pair
};

// A string -> id table for vocabularies (token bytes to id).
class Vocabulary {
 public:
  void add(std::string token, int32_t id);
  // The id of `token`, or -1.
  int32_t find(std::string_view token) const;
  // The bytes of token `id` ("" for ids never added).
  const std::string& token(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }
  size_t id_limit() const { return tokens_.size(); }  // one past the largest id
  size_t size() const { return count_; }

 private:
  static uint64_t hash(std::string_view s);
  FlatMap64 by_hash_;          // hash -> id (collisions chain through `next_`)
  std::vector<int32_t> next_;  // id -> next id with the same hash, or -1
  std::vector<std::string> tokens_;
  size_t count_ = 0;
};

// A bounded cache from short pieces of text to their ids, for one thread. Each piece lives in
// one 64-byte slot that holds its bytes and its ids, so a hit reads one cache line. It is
// direct-mapped: a piece takes the slot its hash names, replacing what was there. The table
// starts small and grows (emptied) as pieces arrive, up to kMaxSlots (8 MiB). `tag` tells apart
// equal bytes that encode differently (the piece that opens a SentencePiece-style segment gets
// a "▁" prepended).
//
//   PieceCache cache;
//   cache.insert(" hello", /*tag=*/0, ids);
//   std::span<const int32_t> hit = cache.find(" hello", 0);   // empty when absent
class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 29;
  static constexpr size_t kMaxIds = 8;

  std::span<const int32_t> find(std::string_view piece, uint8_t tag) const {
    if (slots_.empty() || piece.size() > kMaxPieceBytes) return {};
    const Slot& slot = slots_[hash(piece) >> shift_];
    if (slot.size != piece.size() || slot.tag != tag || slot.count == 0 ||
        std::memcmp(slot.key, piece.data(), piece.size()) != 0) {
      return {};
    }
    return {slot.ids, slot.count};
  }
  // Stores the ids of a piece; pieces longer than kMaxPieceBytes or with more than kMaxIds
  // ids are not kept.
  void insert(std::string_view piece, uint8_t tag, std::span<const int32_t> ids);
  void clear() { slots_.clear(), shift_ = 64, inserted_ = 0; }

 private:
  static constexpr size_t kFirstSlots = size_t{1} << 11;
  static constexpr size_t kMaxSlots = size_t{1} << 17;
  struct alignas(64) Slot {
    uint8_t size = 0;
    uint8_t tag = 0;
    uint8_t count = 0;  // 0: empty
    char key[kMaxPieceBytes] = {};
    int32_t ids[kMaxIds] = {};
  };
  static_assert(sizeof(Slot) == 64);
  static uint64_t hash(std::string_view piece) {
    // Whole 8-byte words, then the last 8 bytes (overlapping); shorter pieces from two
    // overlapping 4-byte loads or three bytes. Equal bytes give equal hashes; that is all a
    // cache that compares the bytes needs.
    const char* p = piece.data();
    size_t n = piece.size();
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, tail = 0;
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) {
        h = (h ^ load<uint64_t>(p + i)) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
      }
      tail = load<uint64_t>(p + n - 8);
    } else if (n >= 4) {
      tail = load<uint32_t>(p) | uint64_t{load<uint32_t>(p + n - 4)} << 32;
    } else if (n > 0) {
      tail = static_cast<unsigned char>(p[0]) |
             uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
             uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
    }
    return (h ^ tail) * 0x9E3779B97F4A7C15ULL;  // the slot is its top bits
  }
  template <typename T>
  static T load(const char* p) {
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
  }

  std::vector<Slot> slots_;
  int shift_ = 64;       // 64 - log2(slots)
  size_t inserted_ = 0;  // since the table last grew
};

}  // namespace longctx
