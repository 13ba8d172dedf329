// The loss accumulator on rows whose losses are their positions (loss[p - 1] = p), so every
// mean is worked out by hand; the bootstrap's intervals; the settings and labels.
#include "longctx/eval/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "longctx/base/error.h"

namespace longctx {
namespace {

// The header's example: a row of 8, spans C4 [0, 3) and Book [3, 8), losses 1..7.
const std::vector<RowSpan> kSpans = {{0, 0, 3, true}, {1, 3, 8, true}};
const std::vector<float> kLosses = {1, 2, 3, 4, 5, 6, 7};

LossSettings settings(LossPosition position = LossPosition::kRow) {
  LossSettings s;
  s.bucket_bounds_tokens = {0, 4, 8};
  s.position = position;
  s.loss_at_tokens = {4, 8, 16};
  s.curve_bins_per_octave = 1;
  s.bootstrap_samples = 200;
  return s;
}

TEST(Loss, RowPositionsByDomainAndBucket) {
  LossAccumulator acc({"C4", "Book"}, 8, settings());
  acc.add_row(kSpans, kLosses);
  LossResult r = acc.result();
  EXPECT_EQ(r.rows, 1u);
  EXPECT_EQ(r.tokens, 7u);
  EXPECT_EQ(r.domains, (std::vector<std::string>{"C4", "Book", "all"}));
  auto mean = [&](const char* d, int64_t from, int64_t to) { return r.cell(d, from, to)->stat; };
  EXPECT_DOUBLE_EQ(mean("C4", 0, 4).mean_loss, 1.5);  // positions 1, 2
  EXPECT_EQ(mean("C4", 0, 4).tokens, 2u);
  EXPECT_EQ(mean("C4", 4, 8).tokens, 0u);
  EXPECT_TRUE(std::isnan(mean("C4", 4, 8).mean_loss));
  EXPECT_DOUBLE_EQ(mean("Book", 0, 4).mean_loss, 3.0);  // position 3
  EXPECT_DOUBLE_EQ(mean("Book", 4, 8).mean_loss, 5.5);  // positions 4-7
  EXPECT_DOUBLE_EQ(mean("all", 0, 4).mean_loss, 2.0);
  EXPECT_EQ(mean("all", 4, 8).tokens, 4u);
  EXPECT_EQ(mean("all", 4, 8).rows, 1u);
  // One row: every resample is that row, so the interval is the mean.
  EXPECT_DOUBLE_EQ(mean("all", 4, 8).ci_low, 5.5);
  EXPECT_DOUBLE_EQ(mean("all", 4, 8).ci_high, 5.5);
}

TEST(Loss, DocumentPositionsCountFromTheSpansStart) {
  LossAccumulator acc({"C4", "Book"}, 8, settings(LossPosition::kDocument));
  acc.add_row(kSpans, kLosses);
  LossResult r = acc.result();
  // Book's tokens 3..7 sit at document positions 0..4: 0..3 in [0, 4), 4 in [4, 8).
  EXPECT_DOUBLE_EQ(r.cell("Book", 0, 4)->stat.mean_loss, 4.5);  // (3 + 4 + 5 + 6) / 4
  EXPECT_DOUBLE_EQ(r.cell("Book", 4, 8)->stat.mean_loss, 7.0);
  EXPECT_DOUBLE_EQ(r.cell("C4", 0, 4)->stat.mean_loss, 1.5);
  EXPECT_DOUBLE_EQ(r.cell("all", 0, 4)->stat.mean_loss, (1 + 2 + 3 + 4 + 5 + 6) / 6.0);
}

TEST(Loss, LossAtNAndTheCurve) {
  LossAccumulator acc({"C4", "Book"}, 8, settings());
  acc.add_row(kSpans, kLosses);
  LossResult r = acc.result();
  EXPECT_DOUBLE_EQ(r.at("all", 4)->stat.mean_loss, 2.0);  // positions 1-3
  EXPECT_DOUBLE_EQ(r.at("C4", 4)->stat.mean_loss, 1.5);
  EXPECT_DOUBLE_EQ(r.at("Book", 4)->stat.mean_loss, 3.0);
  EXPECT_DOUBLE_EQ(r.at("all", 8)->stat.mean_loss, 4.0);  // positions 1-7
  EXPECT_EQ(r.at("all", 16)->stat.tokens, 0u);            // no row is 16 long
  // Bins of one per octave: [1, 2), [2, 4), [4, 8).
  ASSERT_EQ(r.curve.size(), 3u);
  EXPECT_EQ(r.curve[0].from, 1);
  EXPECT_EQ(r.curve[0].to, 2);
  EXPECT_DOUBLE_EQ(r.curve[0].mean_loss, 1.0);
  EXPECT_DOUBLE_EQ(r.curve[1].mean_loss, 2.5);
  EXPECT_EQ(r.curve[2].from, 4);
  EXPECT_EQ(r.curve[2].to, 8);
  EXPECT_DOUBLE_EQ(r.curve[2].mean_loss, 5.5);
  EXPECT_EQ(r.curve[2].tokens, 4u);
}

TEST(Loss, TheBootstrapIntervalSpansTheRowsAndIsSeeded) {
  // Rows of loss 1 and loss 3: a resample's mean is 1, 2 or 3, and "both rows 1" (p = 1/4)
  // and "both rows 3" are far more common than the 2.5% tails.
  auto run = [](uint64_t seed) {
    LossSettings s = settings();
    s.bootstrap_samples = 400;
    s.seed = seed;
    LossAccumulator acc({"C4", "Book"}, 8, s);
    acc.add_row(kSpans, std::vector<float>(7, 1.0f));
    acc.add_row(kSpans, std::vector<float>(7, 3.0f));
    return acc.result();
  };
  LossResult r = run(0);
  const LossStat& all = r.cell("all", 4, 8)->stat;
  EXPECT_DOUBLE_EQ(all.mean_loss, 2.0);
  EXPECT_EQ(all.rows, 2u);
  EXPECT_DOUBLE_EQ(all.ci_low, 1.0);
  EXPECT_DOUBLE_EQ(all.ci_high, 3.0);
  // Seeded: the same seed gives the same intervals everywhere.
  LossResult again = run(0);
  for (size_t i = 0; i < r.cells.size(); ++i) {
    if (r.cells[i].stat.tokens == 0) continue;  // no interval (NaN)
    EXPECT_EQ(r.cells[i].stat.ci_low, again.cells[i].stat.ci_low);
    EXPECT_EQ(r.cells[i].stat.ci_high, again.cells[i].stat.ci_high);
  }
  LossSettings none = settings();
  none.bootstrap_samples = 0;
  LossAccumulator acc({"C4", "Book"}, 8, none);
  acc.add_row(kSpans, kLosses);
  EXPECT_TRUE(std::isnan(acc.result().cell("all", 0, 4)->stat.ci_low));
}

TEST(Loss, BadRowsAreErrorsThatNameTheRow) {
  LossAccumulator acc({"C4", "Book"}, 8, settings());
  std::vector<RowSpan> gap = {{0, 0, 3, true}, {1, 4, 8, true}};
  EXPECT_THROW(acc.add_row(gap, kLosses), Error);
  std::vector<RowSpan> unknown = {{0, 0, 3, true}, {5, 3, 8, true}};
  EXPECT_THROW(acc.add_row(unknown, kLosses), Error);
  EXPECT_THROW(acc.add_row(kSpans, std::vector<float>(8, 1.0f)), Error);
  std::vector<float> nan = kLosses;
  nan[4] = std::nanf("");
  try {
    acc.add_row(kSpans, nan);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position 5"), std::string::npos) << e.what();
  }
  std::vector<RowSpan> short_spans = {{0, 0, 3, true}};
  EXPECT_THROW(acc.add_row(short_spans, kLosses), Error);
}

TEST(Loss, SettingsListsAndLabels) {
  EXPECT_EQ(parse_token_list("0,4K,128K", "--buckets"), (std::vector<int64_t>{0, 4096, 131072}));
  EXPECT_EQ(parse_token_list("1k, 16K,1000", "--loss-at"),
            (std::vector<int64_t>{1024, 16384, 1000}));
  EXPECT_THROW(parse_token_list("0,x", "--buckets"), Error);
  EXPECT_THROW(parse_token_list("-1", "--buckets"), Error);
  EXPECT_THROW(parse_token_list("", "--buckets"), Error);
  EXPECT_EQ(token_label(131072), "128K");
  EXPECT_EQ(token_label(1000), "1000");
  EXPECT_EQ(token_label(0), "0");
  EXPECT_EQ(bucket_label(4096, 131072), "4K-128K");
  LossSettings s;
  s.bucket_bounds_tokens = {0, 4096, 4096};
  EXPECT_THROW(s.validate(), Error);
  s.bucket_bounds_tokens = {0};
  EXPECT_THROW(s.validate(), Error);
  EXPECT_NO_THROW(LossSettings().validate());
  EXPECT_EQ(parse_loss_position("document"), LossPosition::kDocument);
  EXPECT_THROW(parse_loss_position("token"), Error);
}

}  // namespace
}  // namespace longctx
