// What the trainer reads: fixed-length rows of token ids from a `longctx mix` dataset directory
// or a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx), each row with the document
// pieces it holds, in a seeded order that a run can stop and resume at any row.
//
//   TrainingData data = TrainingData::open("mix-out", /*seq_len_tokens=*/0);  // dataset's
//   DataOrder order(data.rows(), /*seed=*/0, Shuffle::kRows);
//   std::vector<int32_t> ids(data.seq_len());
//   data.read_row(order.row_at(consumed), ids);
//   for (const RowSpan& s : data.spans(row)) data.domains()[s.domain];
//
// A Megatron dataset's sequences are read as one token stream cut into rows of seq_len:
// sequences [5, 3] into rows of 4 -> [s0 s0 s0 s0][s0 | s1 s1 s1]; the last partial row is
// dropped, as mix does. Its spans carry domain 0 ("all") unless a sidecar gives names.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace longctx {

class PackedDataset;
class MegatronDataset;

// One piece of one document inside a row: tokens [start, end) of the row.
struct RowSpan {
  uint32_t domain = 0;  // index into TrainingData::domains()
  uint32_t start = 0;
  uint32_t end = 0;
  bool document_start = false;  // the document's first token (its BOS, if any) is at `start`
};

class TrainingData {
 public:
  // `path`: a mix --out directory (has manifest.json), or a Megatron prefix (PATH.bin and
  // PATH.idx exist; PATH may also be given as PATH.bin or PATH.idx). seq_len_tokens: row length;
  // 0 takes a mix dataset's own; a Megatron dataset needs it. A mix dataset's rows are never
  // re-cut: a different seq_len is an error naming both lengths. Throws Error.
  static TrainingData open(const std::filesystem::path& path, uint32_t seq_len_tokens);
  ~TrainingData();
  TrainingData(TrainingData&&) noexcept;
  TrainingData& operator=(TrainingData&&) noexcept;

  std::string_view kind() const;  // "longctx-mix" | "megatron"
  uint64_t rows() const;
  uint32_t seq_len() const;
  const std::vector<std::string>& domains() const;
  // What the mix manifest records of its tokenizer: description, fingerprint (compare with
  // the model's tokenizer) and vocabulary size. Empty / 0 for Megatron datasets.
  std::string tokenizer() const;
  std::string tokenizer_fingerprint() const;
  uint64_t vocab_size() const;

  void read_row(uint64_t row, std::span<int32_t> tokens) const;  // seq_len() values
  std::vector<RowSpan> spans(uint64_t row) const;                // cover [0, seq_len()) in order
  // Document boundaries of a row for document-masked attention: 0 = b0 < ... < bn = seq_len,
  // a new document starting at every span with document_start (and at 0).
  std::vector<int64_t> document_bounds(uint64_t row) const;

 private:
  TrainingData();
  struct State;
  std::unique_ptr<State> state_;
};

enum class Shuffle { kNone, kRows };

// The order rows are trained in. Epoch e visits every row once, in a permutation drawn from
// (seed, e) by a fixed algorithm (splitmix64-seeded xoshiro256** and Fisher-Yates, so the order
// is the same on every platform and standard library); kNone keeps dataset order. A run's data
// position is one number, rows consumed, so resuming needs nothing else.
class DataOrder {
 public:
  DataOrder(uint64_t rows, uint64_t seed, Shuffle shuffle);
  uint64_t rows() const { return rows_; }
  // The row trained as the `consumed`-th (0-based) since the start of the run.
  uint64_t row_at(uint64_t consumed);
  uint64_t epoch_of(uint64_t consumed) const { return consumed / rows_; }

 private:
  uint64_t rows_, seed_;
  Shuffle shuffle_;
  uint64_t cached_epoch_ = UINT64_MAX;
  std::vector<uint64_t> permutation_;
};

// The generators behind DataOrder, public for their tests against the reference values.
// splitmix64: prng.di.unimi.it/splitmix64.c; it turns a seed into xoshiro's state.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();

 private:
  uint64_t state_;
};

// xoshiro256** 1.0: prng.di.unimi.it/xoshiro256starstar.c (Blackman and Vigna).
class Xoshiro256StarStar {
 public:
  explicit Xoshiro256StarStar(const std::array<uint64_t, 4>& state) : s_(state) {}
  static Xoshiro256StarStar from_seed(uint64_t seed);  // state: four splitmix64(seed) outputs
  uint64_t next();
  // Uniform in [0, bound), bound > 0, unbiased: outputs below 2^64 mod bound are drawn again,
  // so the rest are a whole number of copies of [0, bound).
  uint64_t below(uint64_t bound);

 private:
  std::array<uint64_t, 4> s_;
};

// Training loss by domain, from per-token losses and row spans. The loss at position i
// predicts token i + 1 and counts for the domain of the span holding token i + 1.
class DomainLoss {
 public:
  explicit DomainLoss(std::vector<std::string> domains);
  // token_losses: seq_len - 1 values (position i predicts token i + 1).
  void add(std::span<const RowSpan> spans, std::span<const float> token_losses);
  struct Entry {
    std::string domain;
    double loss_sum = 0;
    uint64_t tokens = 0;
    double mean() const { return tokens ? loss_sum / static_cast<double>(tokens) : 0.0; }
  };
  // Domains with at least one token, in domains() order.
  std::vector<Entry> entries() const;
  void reset();
  // Loss sums then token counts, one per domain, as doubles (counts stay exact below 2^53):
  // what data-parallel ranks add up before a report (set_totals takes the sum back).
  std::vector<double> totals() const;
  void set_totals(std::span<const double> totals);

 private:
  std::vector<std::string> domains_;
  std::vector<double> sums_;
  std::vector<uint64_t> counts_;
};

}  // namespace longctx
