#include "longctx/tokenizer/bpe.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <queue>

#include "longctx/base/error.h"

namespace longctx {

void FlatMap64::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  size_ = 0;
  for (const Slot& slot : old) {
    if (slot.key != kEmpty) insert(slot.key, slot.value);
  }
}

void FlatMap64::insert(uint64_t key, uint64_t value) {
  if ((size_ + 1) * 2 > slots_.size()) grow();  // load factor <= 0.5
  size_t mask = slots_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.key == key) {
      slot.value = value;
      return;
    }
    if (slot.key == kEmpty) {
      slot = Slot{key, value};
      ++size_;
      return;
    }
  }
}

void MergeTable::add(int32_t left, int32_t right, int32_t rank, int32_t result) {
  uint64_t existing;
  if (pairs_.find(key(left, right), existing)) return;
  for (int32_t id : {left, right}) {
    if (static_cast<size_t>(id) >= in_pair_.size()) in_pair_.resize(static_cast<size_t>(id) + 1);
    in_pair_[static_cast<size_t>(id)] = true;
  }
  pairs_.insert(key(left, right), (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) |
                                      static_cast<uint32_t>(result));
}

void MergeTable::apply(std::vector<int32_t>& symbols) const {
  if (symbols.size() < 2) return;
  if (symbols.size() <= 64) {
    apply_small(symbols);
  } else {
    apply_large(symbols);
  }
}

void MergeTable::apply_small(std::vector<int32_t>& symbols) const {
  // Keep the rank and result of every adjacent pair; each step merges the lowest-ranked pair
  // (strict '<' keeps the leftmost) and looks up only the two pairs it changed.
  constexpr int32_t kNever = std::numeric_limits<int32_t>::max();
  size_t n = symbols.size();
  int32_t ranks[64], results[64];
  auto look = [&](size_t i) {
    if (!find(symbols[i], symbols[i + 1], ranks[i], results[i])) ranks[i] = kNever;
  };
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  while (n > 1) {
    int32_t best_rank = kNever;
    size_t best = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best_rank) {
        best_rank = ranks[i];
        best = i;
      }
    }
    if (best_rank == kNever) break;
    symbols[best] = results[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      symbols[i] = symbols[i + 1];
      ranks[i] = ranks[i + 1];
      results[i] = results[i + 1];
    }
    --n;
    if (best + 1 < n) look(best);
    if (best > 0) look(best - 1);
  }
  symbols.resize(n);
}

void MergeTable::apply_large(std::vector<int32_t>& symbols) const {
  // Symbols form a doubly linked list over their original positions; the heap holds candidate
  // pairs ordered by (rank, position of the left symbol). An entry is stale when either symbol
  // changed since it was pushed; stale entries are skipped when popped.
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left;
    int32_t right;
    int32_t result;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    prev[static_cast<size_t>(i)] = i - 1;
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
  }
  std::vector<Candidate> storage;
  storage.reserve(static_cast<size_t>(n));
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap(std::greater<>{},
                                                                              std::move(storage));
  auto push = [&](int32_t pos) {
    if (pos < 0) return;
    int32_t right_pos = next[static_cast<size_t>(pos)];
    if (right_pos < 0) return;
    int32_t rank, result;
    int32_t left = symbols[static_cast<size_t>(pos)],
            right = symbols[static_cast<size_t>(right_pos)];
    if (find(left, right, rank, result)) heap.push(Candidate{rank, pos, left, right, result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> alive(static_cast<size_t>(n), true);
  while (!heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    auto pos = static_cast<size_t>(top.pos);
    if (!alive[pos] || symbols[pos] != top.left) continue;
    int32_t right_pos = next[pos];
    if (right_pos < 0 || symbols[static_cast<size_t>(right_pos)] != top.right) continue;
    symbols[pos] = top.result;
    auto r = static_cast<size_t>(right_pos);
    alive[r] = false;
    next[pos] = next[r];
    if (next[r] >= 0) prev[static_cast<size_t>(next[r])] = top.pos;
    push(prev[pos]);
    push(top.pos);
  }
  size_t out = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (alive[i]) symbols[out++] = symbols[i];
  }
  symbols.resize(out);
}

void PieceCache::insert(std::string_view piece, uint8_t tag, std::span<const int32_t> ids) {
  if (piece.size() > kMaxPieceBytes || ids.empty() || ids.size() > kMaxIds) return;
  if (slots_.empty() || (++inserted_ > slots_.size() / 2 && slots_.size() < kMaxSlots)) {
    // Grow by 4x, dropping what was cached: a cache may forget.
    slots_.assign(slots_.empty() ? kFirstSlots : slots_.size() * 4, Slot{});
    shift_ = 64 - std::countr_zero(slots_.size());
    inserted_ = 0;
  }
  Slot& slot = slots_[hash(piece) >> shift_];
  slot.size = static_cast<uint8_t>(piece.size());
  slot.tag = tag;
  slot.count = static_cast<uint8_t>(ids.size());
  std::memcpy(slot.key, piece.data(), piece.size());
  std::memcpy(slot.ids, ids.data(), ids.size() * sizeof(int32_t));
}

uint64_t Vocabulary::hash(std::string_view s) {
  // FNV-1a, then a final mix; vocabularies hold short strings.
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  h ^= h >> 29;
  return h == ~uint64_t{0} ? 0 : h;
}

void Vocabulary::add(std::string token, int32_t id) {
  if (id < 0) throw Error("negative token id in vocabulary");
  auto index = static_cast<size_t>(id);
  if (index >= tokens_.size()) {
    tokens_.resize(index + 1);
    next_.resize(index + 1, -1);
  }
  uint64_t h = hash(token);
  tokens_[index] = std::move(token);
  ++count_;
  uint64_t head;
  if (by_hash_.find(h, head)) next_[index] = static_cast<int32_t>(head);
  by_hash_.insert(h, static_cast<uint64_t>(index));
}

int32_t Vocabulary::find(std::string_view token) const {
  uint64_t head;
  if (!by_hash_.find(hash(token), head)) return -1;
  for (auto id = static_cast<int32_t>(head); id >= 0; id = next_[static_cast<size_t>(id)]) {
    if (tokens_[static_cast<size_t>(id)] == token) return id;
  }
  return -1;
}

}  // namespace longctx
