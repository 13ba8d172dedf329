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

}  // namespace longctx
