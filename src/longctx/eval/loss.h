// Next-token loss by domain and context position: the paper's Table 5 and Figures 3-4
// (RECIPE.md section 4), from per-token losses of packed rows. No libtorch: the losses come
// from eval/token_losses.h (or from a trainer that computed them anyway).
//
// A row of T tokens gives T - 1 losses; the token at row position p (1 <= p < T, predicted
// from positions < p) counts for the domain of the span holding it and for the bucket holding
// its position: the row position p (the paper's meaning, packed rows without document masking)
// or, with LossPosition::kDocument, its position inside its span, i.e. how many tokens of its
// own document precede it in the row:
//
//   row of 8, spans C4 [0, 3) Book [3, 8), buckets 0,4,8:
//     position p       1  2  3  4  5  6  7
//     domain           C4 C4 Bk Bk Bk Bk Bk
//     row bucket       0  0  0  1  1  1  1      (0 = [0, 4), 1 = [4, 8))
//     document bucket  0  0  0  0  0  0  1      (p - 3 for the Book span)
//
// Per cell (domain x bucket, plus "all" over the domains): the mean loss, the token count and
// a 95% interval from a bootstrap over rows (rows drawn with replacement, the cell's summed
// loss over its summed tokens; seeded, so the same data gives the same interval). Loss@n: the
// mean loss of the tokens at row positions [1, n) of rows at least n long (all rows when n <=
// T), per domain and for all. The curve: mean loss of all domains in log-spaced position bins.
//
//   LossAccumulator acc(data.domains(), data.seq_len(), settings);
//   acc.add_row(data.spans(row), token_losses);     // once per row, in dataset order
//   LossResult r = acc.result();
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/dataset/training_data.h"

namespace longctx {

enum class LossPosition { kRow, kDocument };
std::string_view loss_position_name(LossPosition position);  // "row" | "document"
LossPosition parse_loss_position(std::string_view text);     // throws Error naming --position

struct LossSettings {
  // Bucket i is positions [bounds[i], bounds[i+1]); positions outside all buckets count only
  // in Loss@n and the curve.
  std::vector<int64_t> bucket_bounds_tokens = {0, 4096, 131072};
  LossPosition position = LossPosition::kRow;
  std::vector<int64_t> loss_at_tokens = {1024, 16384, 32768, 65536, 131072};
  int curve_bins_per_octave = 4;
  int bootstrap_samples = 1000;  // 0: no intervals
  uint64_t seed = 0;
  // Throws Error naming the field: bounds not rising from >= 0, loss_at not positive, ...
  void validate() const;
};

// "0,4096,131072", "0,4K,128K" (K = 1024) or "1K,16K": whole numbers of tokens, >= 0. Throws
// Error naming `flag` and the bad item.
std::vector<int64_t> parse_token_list(std::string_view text, std::string_view flag);
// 131072 -> "128K", 4096 -> "4K", 1000 -> "1000", 1536 -> "1536".
std::string token_label(int64_t tokens);
// "0-4K", "4K-128K".
std::string bucket_label(int64_t from_tokens, int64_t to_tokens);

struct LossStat {
  double mean_loss = 0;  // nats; NaN when tokens == 0
  uint64_t tokens = 0;
  uint64_t rows = 0;               // rows with at least one of the tokens
  double ci_low = 0, ci_high = 0;  // 95% bootstrap interval (NaN without one)
};

struct LossCell {
  std::string domain;  // a dataset domain, or "all"
  int64_t from = 0, to = 0;
  LossStat stat;
};

struct LossAtN {
  std::string domain;
  int64_t n = 0;
  LossStat stat;  // tokens 0 when no row is n long
};

struct CurveBin {
  int64_t from = 0, to = 0;  // positions [from, to)
  double mean_loss = 0;
  uint64_t tokens = 0;
};

inline constexpr std::string_view kAllDomains = "all";

struct LossResult {
  LossSettings settings;
  uint32_t seq_len = 0;
  uint64_t rows = 0;
  uint64_t tokens = 0;               // losses counted: rows x (seq_len - 1)
  std::vector<std::string> domains;  // the dataset's, then "all" (unless the one domain is "all")
  std::vector<LossCell> cells;       // by domain, then bucket
  std::vector<LossAtN> loss_at;      // by domain, then n
  std::vector<CurveBin> curve;       // all domains; bins with tokens only

  const LossCell* cell(std::string_view domain, int64_t from, int64_t to) const;
  const LossAtN* at(std::string_view domain, int64_t n) const;
};

class LossAccumulator {
 public:
  // Throws Error when the settings are invalid, seq_len < 2, or one of several domains is named
  // "all".
  LossAccumulator(std::vector<std::string> domains, uint32_t seq_len, LossSettings settings);
  // One row: spans tile [0, seq_len) in order; token_losses[p - 1] is the loss of the token at
  // position p. Rows are numbered in the order added. Throws Error on a span of an unknown
  // domain, spans that do not tile the row, the wrong number of losses or a loss that is not
  // finite.
  void add_row(std::span<const RowSpan> spans, std::span<const float> token_losses);
  uint64_t rows() const { return rows_; }
  // Means, counts, Loss@n, the curve, and the bootstrap intervals (settings.bootstrap_samples
  // resamples of the rows added so far).
  LossResult result() const;

 private:
  size_t columns() const { return buckets_ + settings_.loss_at_tokens.size(); }

  std::vector<std::string> domains_;
  bool only_all_ = false;  // the dataset's one domain is "all": no second "all"
  uint32_t seq_len_;
  LossSettings settings_;
  size_t buckets_;
  std::vector<int8_t> bucket_of_;  // [seq_len]: the bucket of a position, -1 outside
  std::vector<int64_t> curve_edges_;
  std::vector<uint16_t> bin_of_;  // [seq_len]: the curve bin of a position
  uint64_t rows_ = 0;
  // Per row, per cell ((domains + all) x (buckets, then loss_at)): summed loss and tokens.
  std::vector<double> row_sums_;
  std::vector<uint32_t> row_tokens_;
  std::vector<double> curve_sums_;
  std::vector<uint64_t> curve_tokens_;
};

}  // namespace longctx
