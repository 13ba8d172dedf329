#include "longctx/eval/loss.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "longctx/base/error.h"
#include "longctx/base/text.h"

namespace longctx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy.percentile's default (linear) of sorted values, q in [0, 1].
double percentile(const std::vector<double>& sorted, double q) {
  double h = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(h));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Log-spaced edges over positions [0, seq_len): 0, 1, then round(2^(k / per_octave)) rising by
// at least 1, ending at seq_len. Per octave 1 and seq_len 10: 0 1 2 4 8 10.
std::vector<int64_t> curve_edges(uint32_t seq_len, int per_octave) {
  std::vector<int64_t> edges = {0, 1};
  for (int k = 1; edges.back() < seq_len; ++k) {
    auto e = static_cast<int64_t>(std::llround(std::pow(2.0, static_cast<double>(k) / per_octave)));
    e = std::min<int64_t>(std::max(e, edges.back() + 1), seq_len);
    edges.push_back(e);
  }
  return edges;
}

}  // namespace

std::string_view loss_position_name(LossPosition position) {
  return position == LossPosition::kRow ? "row" : "document";
}

LossPosition parse_loss_position(std::string_view text) {
  if (text == "row") return LossPosition::kRow;
  if (text == "document") return LossPosition::kDocument;
  throw Error(fmt::format("--position '{}': expected row or document", text));
}

void LossSettings::validate() const {
  if (bucket_bounds_tokens.size() < 2)
    throw Error(
        fmt::format("--buckets needs at least two bounds, got {}", bucket_bounds_tokens.size()),
        "e.g. --buckets 0,4096,131072 for the paper's 0-4K and 4K-128K");
  if (bucket_bounds_tokens.size() > 100)
    throw Error(fmt::format("--buckets has {} bounds; at most 100", bucket_bounds_tokens.size()));
  for (size_t i = 0; i < bucket_bounds_tokens.size(); ++i) {
    if (bucket_bounds_tokens[i] < 0 ||
        (i > 0 && bucket_bounds_tokens[i] <= bucket_bounds_tokens[i - 1]))
      throw Error(fmt::format("--buckets must rise strictly from 0 or more; bound {} is {}", i,
                              bucket_bounds_tokens[i]));
  }
  for (int64_t n : loss_at_tokens)
    if (n < 2) throw Error(fmt::format("--loss-at {}: each length must be at least 2 tokens", n));
  if (curve_bins_per_octave < 1 || curve_bins_per_octave > 64)
    throw Error(fmt::format("--curve-bins-per-octave must be 1-64, got {}", curve_bins_per_octave));
  if (bootstrap_samples < 0)
    throw Error(fmt::format("--bootstrap must be 0 or more, got {}", bootstrap_samples));
}

std::vector<int64_t> parse_token_list(std::string_view text, std::string_view flag) {
  std::vector<int64_t> out;
  for (const std::string& raw : split(text, ',')) {
    std::string item(trim_ascii_space(raw));
    int64_t unit = 1;
    if (!item.empty() && (item.back() == 'K' || item.back() == 'k')) {
      unit = 1024;
      item.pop_back();
    }
    size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 0 ||
        value > std::numeric_limits<int64_t>::max() / unit)
      throw Error(
          fmt::format("{} '{}': '{}' is not a whole number of tokens (K = 1024)", flag, text, raw));
    out.push_back(value * unit);
  }
  return out;
}

std::string token_label(int64_t tokens) {
  if (tokens > 0 && tokens % 1024 == 0) return fmt::format("{}K", tokens / 1024);
  return std::to_string(tokens);
}

std::string bucket_label(int64_t from_tokens, int64_t to_tokens) {
  return token_label(from_tokens) + "-" + token_label(to_tokens);
}

const LossCell* LossResult::cell(std::string_view domain, int64_t from, int64_t to) const {
  for (const LossCell& c : cells)
    if (c.domain == domain && c.from == from && c.to == to) return &c;
  return nullptr;
}

const LossAtN* LossResult::at(std::string_view domain, int64_t n) const {
  for (const LossAtN& a : loss_at)
    if (a.domain == domain && a.n == n) return &a;
  return nullptr;
}

LossAccumulator::LossAccumulator(std::vector<std::string> domains, uint32_t seq_len,
                                 LossSettings settings)
    : domains_(std::move(domains)), seq_len_(seq_len), settings_(std::move(settings)) {
  settings_.validate();
  if (seq_len_ < 2) throw Error(fmt::format("rows of {} tokens have no loss to count", seq_len_));
  // "all" names the sum over the domains; a dataset whose one domain is "all" (a Megatron
  // dataset) is its own sum.
  only_all_ = domains_.size() == 1 && domains_[0] == kAllDomains;
  if (!only_all_ && std::find(domains_.begin(), domains_.end(), kAllDomains) != domains_.end())
    throw Error("the dataset has a domain named 'all', the name of the sum over its domains");
  buckets_ = settings_.bucket_bounds_tokens.size() - 1;
  bucket_of_.assign(seq_len_, -1);
  for (size_t b = 0; b < buckets_; ++b) {
    int64_t from = settings_.bucket_bounds_tokens[b], to = settings_.bucket_bounds_tokens[b + 1];
    for (int64_t p = from; p < std::min<int64_t>(to, seq_len_); ++p)
      bucket_of_[static_cast<size_t>(p)] = static_cast<int8_t>(b);
  }
  curve_edges_ = curve_edges(seq_len_, settings_.curve_bins_per_octave);
  bin_of_.assign(seq_len_, 0);
  for (size_t bin = 0; bin + 1 < curve_edges_.size(); ++bin)
    for (int64_t p = curve_edges_[bin]; p < curve_edges_[bin + 1]; ++p)
      bin_of_[static_cast<size_t>(p)] = static_cast<uint16_t>(bin);
  curve_sums_.assign(curve_edges_.size() - 1, 0.0);
  curve_tokens_.assign(curve_edges_.size() - 1, 0);
}

void LossAccumulator::add_row(std::span<const RowSpan> spans, std::span<const float> token_losses) {
  // Checked first, so that a bad row leaves the accumulator as it was.
  if (token_losses.size() != seq_len_ - 1)
    throw Error(fmt::format("row {}: {} losses for a row of {} tokens (expected {})", rows_,
                            token_losses.size(), seq_len_, seq_len_ - 1));
  const size_t width = columns(), domains = domains_.size();
  uint32_t covered = 0;
  for (const RowSpan& span : spans) {
    if (span.domain >= domains)
      throw Error(fmt::format("row {}: a span of domain {}, but the dataset has {} domains", rows_,
                              span.domain, domains));
    if (span.start != covered || span.end <= span.start || span.end > seq_len_)
      throw Error(fmt::format("row {}: span [{}, {}) does not continue the tiling at {}", rows_,
                              span.start, span.end, covered));
    covered = span.end;
  }
  if (covered != seq_len_)
    throw Error(fmt::format("row {}: spans cover [0, {}) of {} tokens", rows_, covered, seq_len_));
  for (size_t i = 0; i < token_losses.size(); ++i)
    if (!std::isfinite(token_losses[i]))
      throw Error(
          fmt::format("row {}: the loss at position {} is {}", rows_, i + 1, token_losses[i]),
          "the model's outputs overflowed; try --dtype float32");

  size_t base = row_sums_.size();
  row_sums_.resize(base + (domains + 1) * width, 0.0);
  row_tokens_.resize(base + (domains + 1) * width, 0);
  double* sums = row_sums_.data() + base;
  uint32_t* tokens = row_tokens_.data() + base;
  double* all_sums = sums + domains * width;
  uint32_t* all_tokens = tokens + domains * width;
  const std::vector<int64_t>& loss_at = settings_.loss_at_tokens;
  for (const RowSpan& span : spans) {
    double* domain_sums = sums + span.domain * width;
    uint32_t* domain_tokens = tokens + span.domain * width;
    for (uint32_t p = std::max<uint32_t>(span.start, 1); p < span.end; ++p) {
      double loss = token_losses[p - 1];
      uint32_t position = settings_.position == LossPosition::kRow ? p : p - span.start;
      int8_t bucket = bucket_of_[position];
      if (bucket >= 0) {
        domain_sums[bucket] += loss;
        ++domain_tokens[bucket];
        all_sums[bucket] += loss;
        ++all_tokens[bucket];
      }
      for (size_t j = 0; j < loss_at.size(); ++j) {
        if (p >= loss_at[j] || loss_at[j] > seq_len_) continue;
        domain_sums[buckets_ + j] += loss;
        ++domain_tokens[buckets_ + j];
        all_sums[buckets_ + j] += loss;
        ++all_tokens[buckets_ + j];
      }
      uint16_t bin = bin_of_[position];
      curve_sums_[bin] += loss;
      ++curve_tokens_[bin];
    }
  }
  ++rows_;
}

LossResult LossAccumulator::result() const {
  const size_t width = columns(), cells = (domains_.size() + 1) * width;
  const auto rows = static_cast<size_t>(rows_);
  // Totals and the rows that touch each cell.
  std::vector<double> sum(cells, 0.0);
  std::vector<uint64_t> tokens(cells, 0), touched(cells, 0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cells; ++c) {
      sum[c] += row_sums_[r * cells + c];
      tokens[c] += row_tokens_[r * cells + c];
      touched[c] += row_tokens_[r * cells + c] > 0 ? 1 : 0;
    }
  }
  // The bootstrap: each resample draws `rows` rows with replacement; a cell's value is its
  // summed loss over its summed tokens in the resample (resamples without its tokens left out).
  std::vector<std::vector<double>> draws(cells);
  Xoshiro256StarStar rng = Xoshiro256StarStar::from_seed(settings_.seed);
  std::vector<double> s(cells);
  std::vector<uint64_t> n(cells);
  for (int b = 0; b < settings_.bootstrap_samples && rows > 0; ++b) {
    std::fill(s.begin(), s.end(), 0.0);
    std::fill(n.begin(), n.end(), 0);
    for (size_t i = 0; i < rows; ++i) {
      auto r = static_cast<size_t>(rng.below(rows));
      const double* rs = row_sums_.data() + r * cells;
      const uint32_t* rt = row_tokens_.data() + r * cells;
      for (size_t c = 0; c < cells; ++c) {
        s[c] += rs[c];
        n[c] += rt[c];
      }
    }
    for (size_t c = 0; c < cells; ++c)
      if (n[c] > 0) draws[c].push_back(s[c] / static_cast<double>(n[c]));
  }
  auto stat_of = [&](size_t c) {
    LossStat st;
    st.tokens = tokens[c];
    st.rows = touched[c];
    st.mean_loss = tokens[c] ? sum[c] / static_cast<double>(tokens[c]) : kNaN;
    st.ci_low = st.ci_high = kNaN;
    if (!draws[c].empty()) {
      std::vector<double> sorted = draws[c];
      std::sort(sorted.begin(), sorted.end());
      st.ci_low = percentile(sorted, 0.025);
      st.ci_high = percentile(sorted, 0.975);
    }
    return st;
  };

  LossResult result;
  result.settings = settings_;
  result.seq_len = seq_len_;
  result.rows = rows_;
  result.tokens = rows_ * (seq_len_ - 1);
  result.domains = domains_;
  if (!only_all_) result.domains.emplace_back(kAllDomains);
  for (size_t d = 0; d < result.domains.size(); ++d) {
    for (size_t b = 0; b < buckets_; ++b)
      result.cells.push_back({result.domains[d], settings_.bucket_bounds_tokens[b],
                              settings_.bucket_bounds_tokens[b + 1], stat_of(d * width + b)});
    for (size_t j = 0; j < settings_.loss_at_tokens.size(); ++j)
      result.loss_at.push_back(
          {result.domains[d], settings_.loss_at_tokens[j], stat_of(d * width + buckets_ + j)});
  }
  for (size_t bin = 0; bin < curve_sums_.size(); ++bin) {
    if (curve_tokens_[bin] == 0) continue;
    result.curve.push_back({curve_edges_[bin], curve_edges_[bin + 1],
                            curve_sums_[bin] / static_cast<double>(curve_tokens_[bin]),
                            curve_tokens_[bin]});
  }
  return result;
}

}  // namespace longctx
