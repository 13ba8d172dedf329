#include "longctx/dataset/training_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "longctx/base/error.h"
#include "longctx/dataset/megatron_dataset.h"
#include "longctx/dataset/packed_dataset.h"

namespace longctx {

namespace fs = std::filesystem;

struct TrainingData::State {
  std::string_view kind;
  uint32_t seq_len = 0;
  uint64_t rows = 0;
  std::vector<std::string> domains;
  std::string tokenizer, tokenizer_fingerprint;
  uint64_t vocab_size = 0;
  std::unique_ptr<PackedDataset> mix;         // kind "longctx-mix"
  std::unique_ptr<MegatronDataset> megatron;  // kind "megatron"
};

namespace {

// Checks, once at open, what spans() relies on: every row's spans tile [0, seq_len) in order
// and name a known domain.
void check_mix_spans(const PackedDataset& data) {
  const fs::path spans_path = data.dir() / kSpansBin;
  for (uint64_t row = 0; row < data.rows(); ++row) {
    uint32_t at = 0;
    for (const SpanRecord& s : data.spans(row)) {
      if (s.start != at || s.end <= s.start || s.domain >= data.domains().size()) {
        throw Error(fmt::format(
            "{}: row {} has a span [{}, {}) of domain {} where one starting "
            "at {} of a domain below {} was expected",
            spans_path.string(), row, s.start, s.end, s.domain, at, data.domains().size()));
      }
      at = s.end;
    }
    if (at != data.seq_len()) {
      throw Error(fmt::format("{}: the spans of row {} cover {} tokens, not the row's {}",
                              spans_path.string(), row, at, data.seq_len()));
    }
  }
}

std::string manifest_string(const nlohmann::json& manifest, const char* key) {
  auto it = manifest.find(key);
  return it != manifest.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// `path` with a .bin or .idx extension taken off: how a Megatron prefix may be written.
fs::path megatron_prefix(const fs::path& path) {
  if (path.extension() == ".bin" || path.extension() == ".idx") {
    fs::path prefix = path;
    return prefix.replace_extension();
  }
  return path;
}

}  // namespace

TrainingData::TrainingData() : state_(std::make_unique<State>()) {}
TrainingData::~TrainingData() = default;
TrainingData::TrainingData(TrainingData&&) noexcept = default;
TrainingData& TrainingData::operator=(TrainingData&&) noexcept = default;

TrainingData TrainingData::open(const fs::path& path, uint32_t seq_len_tokens) {
  TrainingData data;
  State& st = *data.state_;
  const fs::path prefix = megatron_prefix(path);
  const bool megatron =
      fs::exists(prefix.string() + ".bin") || fs::exists(prefix.string() + ".idx");
  // A mix --out directory, or an unfinished one (PackedDataset says how to resume it).
  if (fs::is_directory(path) &&
      (fs::exists(path / kManifestJson) || (!megatron && fs::exists(path / ".mix-state")))) {
    st.mix = std::make_unique<PackedDataset>(PackedDataset::open(path));
    const PackedDataset& mix = *st.mix;
    st.kind = "longctx-mix";
    if (seq_len_tokens != 0 && seq_len_tokens != mix.seq_len()) {
      throw Error(fmt::format("{} holds rows of {} tokens, but a sequence length of {} was asked "
                              "for (a mix dataset's rows are not re-cut)",
                              path.string(), mix.seq_len(), seq_len_tokens),
                  fmt::format("use --seq-len {} (the dataset's) or leave it out, or re-run "
                              "longctx mix with --seq-len {}",
                              mix.seq_len(), seq_len_tokens));
    }
    st.seq_len = mix.seq_len();
    st.rows = mix.rows();
    st.domains = mix.domains();
    st.tokenizer = manifest_string(mix.manifest(), "tokenizer");
    st.tokenizer_fingerprint = manifest_string(mix.manifest(), "tokenizer_fingerprint");
    auto vocab = mix.manifest().find("vocab_size");
    st.vocab_size =
        vocab != mix.manifest().end() && vocab->is_number_unsigned() ? vocab->get<uint64_t>() : 0;
    check_mix_spans(mix);
    if (st.rows == 0) {
      throw Error(fmt::format("{} has no rows", path.string()),
                  "re-run longctx mix with a larger budget or more input");
    }
  } else if (megatron) {
    st.megatron = std::make_unique<MegatronDataset>(MegatronDataset::open(prefix));
    st.kind = "megatron";
    if (seq_len_tokens == 0) {
      throw Error(fmt::format("{} is a Megatron dataset, which has no row length of its own",
                              prefix.string()),
                  "pass --seq-len N: its token stream is cut into rows of N tokens");
    }
    st.seq_len = seq_len_tokens;
    st.rows = st.megatron->total_tokens() / seq_len_tokens;
    st.domains = {"all"};
    if (st.rows == 0) {
      throw Error(fmt::format("{} holds {} tokens, less than one row of {}", prefix.string(),
                              st.megatron->total_tokens(), seq_len_tokens),
                  "pass a smaller --seq-len, or a larger dataset");
    }
  } else {
    throw Error(fmt::format("no training data at {}: looked for a longctx mix directory ({}) and "
                            "a Megatron dataset ({}.bin + {}.idx)",
                            path.string(), (path / kManifestJson).string(), prefix.string(),
                            prefix.string()),
                "pass the --out directory of longctx mix, or a Megatron prefix such as "
                "data/corpus_text_document");
  }
  return data;
}

std::string_view TrainingData::kind() const {
  return state_->kind;
}
uint64_t TrainingData::rows() const {
  return state_->rows;
}
uint32_t TrainingData::seq_len() const {
  return state_->seq_len;
}
const std::vector<std::string>& TrainingData::domains() const {
  return state_->domains;
}
std::string TrainingData::tokenizer() const {
  return state_->tokenizer;
}
std::string TrainingData::tokenizer_fingerprint() const {
  return state_->tokenizer_fingerprint;
}
uint64_t TrainingData::vocab_size() const {
  return state_->vocab_size;
}

void TrainingData::read_row(uint64_t row, std::span<int32_t> tokens) const {
  const State& st = *state_;
  if (row >= st.rows) throw Error(fmt::format("row {} out of range ({} rows)", row, st.rows));
  if (tokens.size() != st.seq_len) {
    throw Error(fmt::format("read_row: the output holds {} tokens, not seq_len {}", tokens.size(),
                            st.seq_len));
  }
  if (st.mix) {
    st.mix->read_row(row, tokens);
  } else {
    st.megatron->read_stream(row * st.seq_len, tokens);
  }
}

std::vector<RowSpan> TrainingData::spans(uint64_t row) const {
  const State& st = *state_;
  if (row >= st.rows) throw Error(fmt::format("row {} out of range ({} rows)", row, st.rows));
  std::vector<RowSpan> out;
  if (st.mix) {
    for (const SpanRecord& s : st.mix->spans(row))
      out.push_back(
          {.domain = s.domain, .start = s.start, .end = s.end, .document_start = s.offset == 0});
    return out;
  }
  // The pieces of the sequences that overlap the row's stretch [begin, end) of the stream:
  // sequences [5, 3] in rows of 4, row 1 = tokens [4, 8): s0 [4, 5) -> span [0, 1) continuing,
  // s1 [5, 8) -> span [1, 4) starting.
  const MegatronDataset& meg = *st.megatron;
  const uint64_t begin = row * st.seq_len, end = begin + st.seq_len;
  for (uint64_t s = meg.sequence_at(begin); s < meg.sequences(); ++s) {
    const uint64_t start = meg.sequence_start(s), stop = meg.sequence_start(s + 1);
    if (start >= end) break;
    if (stop == start) continue;  // an empty sequence holds no token
    const uint64_t from = std::max(start, begin), to = std::min(stop, end);
    out.push_back({.domain = 0,
                   .start = static_cast<uint32_t>(from - begin),
                   .end = static_cast<uint32_t>(to - begin),
                   .document_start = start >= begin});
  }
  return out;
}

std::vector<int64_t> TrainingData::document_bounds(uint64_t row) const {
  std::vector<int64_t> bounds = {0};
  for (const RowSpan& s : spans(row)) {
    if (s.document_start && s.start > 0) bounds.push_back(s.start);
  }
  bounds.push_back(state_->seq_len);
  return bounds;
}

// --- DataOrder -------------------------------------------------------------------------------

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

Xoshiro256StarStar Xoshiro256StarStar::from_seed(uint64_t seed) {
  SplitMix64 sm(seed);
  std::array<uint64_t, 4> state;
  for (uint64_t& word : state) word = sm.next();
  return Xoshiro256StarStar(state);
}

uint64_t Xoshiro256StarStar::next() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Xoshiro256StarStar::below(uint64_t bound) {
  if (bound == 0) throw Error("Xoshiro256StarStar::below: bound must be positive");
  // 2^64 mod bound, computed in 64 bits: (2^64 - bound) mod bound.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

DataOrder::DataOrder(uint64_t rows, uint64_t seed, Shuffle shuffle)
    : rows_(rows), seed_(seed), shuffle_(shuffle) {
  if (rows == 0) throw Error("DataOrder: the dataset has no rows");
}

uint64_t DataOrder::row_at(uint64_t consumed) {
  const uint64_t epoch = consumed / rows_, index = consumed % rows_;
  if (shuffle_ == Shuffle::kNone) return index;
  if (epoch != cached_epoch_) {
    // Epoch e of seed s: Fisher-Yates over 0..rows-1, drawing from xoshiro256** seeded with
    // splitmix64(s)'s first output + e. It depends on (seed, epoch) only, never on which rows
    // were asked for before, so a resumed run sees the same order.
    Xoshiro256StarStar rng = Xoshiro256StarStar::from_seed(SplitMix64(seed_).next() + epoch);
    permutation_.resize(rows_);
    std::iota(permutation_.begin(), permutation_.end(), uint64_t{0});
    for (uint64_t i = rows_ - 1; i > 0; --i)
      std::swap(permutation_[i], permutation_[rng.below(i + 1)]);
    cached_epoch_ = epoch;
  }
  return permutation_[index];
}

// --- DomainLoss ------------------------------------------------------------------------------

DomainLoss::DomainLoss(std::vector<std::string> domains)
    : domains_(std::move(domains)), sums_(domains_.size(), 0.0), counts_(domains_.size(), 0) {}

void DomainLoss::add(std::span<const RowSpan> spans, std::span<const float> token_losses) {
  if (spans.empty()) throw Error("DomainLoss::add: a row has no spans");
  const uint64_t seq_len = spans.back().end;
  if (token_losses.size() + 1 != seq_len) {
    throw Error(
        fmt::format("DomainLoss::add: {} losses for a row of {} tokens; expected {} "
                    "(position i predicts token i + 1)",
                    token_losses.size(), seq_len, seq_len - 1));
  }
  for (const RowSpan& s : spans) {
    if (s.end > seq_len || s.start > s.end) {
      throw Error(fmt::format("DomainLoss::add: span [{}, {}) outside the row of {} tokens",
                              s.start, s.end, seq_len));
    }
    if (s.domain >= domains_.size()) {
      throw Error(fmt::format("DomainLoss::add: span of domain {}, but there are {} domains",
                              s.domain, domains_.size()));
    }
    // Tokens t of the span, from 1 (token 0 is predicted by nothing): loss t - 1 predicts t.
    // spans [0,3) a, [3,6) b: losses 0,1 -> a; losses 2,3,4 -> b (loss 2 crosses the boundary).
    for (uint64_t t = std::max<uint64_t>(s.start, 1); t < s.end; ++t) {
      sums_[s.domain] += token_losses[t - 1];
      ++counts_[s.domain];
    }
  }
}

std::vector<DomainLoss::Entry> DomainLoss::entries() const {
  std::vector<Entry> out;
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (counts_[d] > 0) out.push_back({domains_[d], sums_[d], counts_[d]});
  }
  return out;
}

void DomainLoss::reset() {
  std::fill(sums_.begin(), sums_.end(), 0.0);
  std::fill(counts_.begin(), counts_.end(), 0);
}

std::vector<double> DomainLoss::totals() const {
  std::vector<double> out(sums_);
  for (uint64_t c : counts_) out.push_back(static_cast<double>(c));
  return out;
}

void DomainLoss::set_totals(std::span<const double> totals) {
  if (totals.size() != 2 * domains_.size())
    throw Error(fmt::format("DomainLoss::set_totals: {} values for {} domains", totals.size(),
                            domains_.size()));
  for (size_t d = 0; d < domains_.size(); ++d) {
    sums_[d] = totals[d];
    counts_[d] = static_cast<uint64_t>(totals[domains_.size() + d]);
  }
}

}  // namespace longctx
