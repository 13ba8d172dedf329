// Table 5's comparison, loss.json written and read back, and the colours of the text and SVG.
#include "longctx/report/loss_report.h"

#include <gtest/gtest.h>

#include <cmath>

#include "longctx/base/error.h"

namespace longctx {
namespace {

// Two domains, buckets [0, 4) and [4, 8), every loss `value` except Book's, which is
// `book`: rows of 8 with spans RedPajamaC4 [0, 3) and RedPajamaBook [3, 8).
LossResult result_of(float value, float book) {
  LossSettings s;
  s.bucket_bounds_tokens = {0, 4, 8};
  s.loss_at_tokens = {4, 8};
  s.bootstrap_samples = 50;
  LossAccumulator acc({"RedPajamaC4", "RedPajamaBook"}, 8, s);
  std::vector<RowSpan> spans = {{0, 0, 3, true}, {1, 3, 8, true}};
  std::vector<float> losses = {value, value, book, book, book, book, book};
  acc.add_row(spans, losses);
  acc.add_row(spans, losses);
  return acc.result();
}

TEST(LossReport, DeltasAreMarkedAsThePaperColoursThem) {
  EXPECT_EQ(delta_mark(0.011), DeltaMark::kWorse);
  EXPECT_EQ(delta_mark(-0.011), DeltaMark::kBetter);
  EXPECT_EQ(delta_mark(0.01), DeltaMark::kSame);
  EXPECT_EQ(delta_mark(-0.005), DeltaMark::kSame);
  EXPECT_EQ(delta_mark(std::nan("")), DeltaMark::kSame);
  LossResult ours = result_of(2.0f, 1.5f), base = result_of(2.02f, 1.49f);
  LossComparison cmp = compare_losses(ours, base, "base/loss.json");
  auto find = [&](const char* domain, int64_t from, int64_t to) {
    for (const LossDelta& d : cmp.cells)
      if (d.domain == domain && d.from == from && d.to == to) return d;
    ADD_FAILURE() << domain << " " << from;
    return LossDelta{};
  };
  // C4: 2.0 against 2.02 -> -0.02 better; Book: 1.5 against 1.49 -> +0.01, same.
  EXPECT_EQ(find("RedPajamaC4", 0, 4).mark, DeltaMark::kBetter);
  EXPECT_NEAR(find("RedPajamaC4", 0, 4).delta, -0.02, 1e-6);
  EXPECT_EQ(find("RedPajamaBook", 4, 8).mark, DeltaMark::kSame);
  // C4 has no tokens in [4, 8): no delta there.
  for (const LossDelta& d : cmp.cells) EXPECT_FALSE(d.domain == "RedPajamaC4" && d.from == 4);
  LossComparison worse = compare_losses(base, result_of(1.9f, 1.4f), "b");
  EXPECT_EQ(worse.cells.front().mark, DeltaMark::kWorse);
}

TEST(LossReport, LossJsonRoundTripsAndHoldsTheBaseline) {
  LossResult ours = result_of(2.0f, 1.5f), base = result_of(2.02f, 1.49f);
  LossComparison cmp = compare_losses(ours, base, "base/loss.json");
  nlohmann::json j = loss_result_json(ours, &cmp);
  EXPECT_EQ(j["format"], "longctx.eval-loss.v1");
  EXPECT_TRUE(j["table"][1]["mean_loss"].is_null());  // C4 in [4, 8): no tokens
  EXPECT_EQ(j["baseline"]["table"][0]["mark"], "better");
  LossResult back = parse_loss_json(nlohmann::json::parse(j.dump()), "x.json");
  ASSERT_EQ(back.cells.size(), ours.cells.size());
  for (size_t i = 0; i < ours.cells.size(); ++i) {
    EXPECT_EQ(back.cells[i].domain, ours.cells[i].domain);
    EXPECT_EQ(back.cells[i].stat.tokens, ours.cells[i].stat.tokens);
    if (ours.cells[i].stat.tokens) {
      EXPECT_DOUBLE_EQ(back.cells[i].stat.mean_loss, ours.cells[i].stat.mean_loss);
    }
  }
  EXPECT_EQ(back.loss_at.size(), ours.loss_at.size());
  EXPECT_EQ(back.curve.size(), ours.curve.size());
  EXPECT_EQ(back.settings.bucket_bounds_tokens, ours.settings.bucket_bounds_tokens);
  EXPECT_THROW(parse_loss_json(nlohmann::json{{"format", "other"}}, "x.json"), Error);
}

TEST(LossReport, TablesAndSvgShowTheMarksAndTheirColours) {
  LossResult ours = result_of(2.0f, 1.5f), base = result_of(2.03f, 1.45f);
  LossComparison cmp = compare_losses(ours, base, "orig");
  std::string plain = loss_tables_text(ours, &cmp, false);
  EXPECT_NE(plain.find("C4"), std::string::npos);  // the paper's short names
  EXPECT_NE(plain.find("-0.030 better"), std::string::npos) << plain;
  EXPECT_NE(plain.find("+0.050 worse"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\x1b["), std::string::npos);
  std::string coloured = loss_tables_text(ours, &cmp, true);
  EXPECT_NE(coloured.find("\x1b[31m+0.050 worse"), std::string::npos);
  EXPECT_NE(coloured.find("\x1b[32m-0.030 better"), std::string::npos);
  std::string svg = loss_svg(ours, &base, &cmp, "run vs orig");
  EXPECT_NE(svg.find("#F0496E"), std::string::npos);           // Book worse
  EXPECT_NE(svg.find("#0CD79F"), std::string::npos);           // C4 better
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // the baseline's curve
  EXPECT_NE(svg.find("run vs orig"), std::string::npos);
  std::string alone = loss_svg(ours, nullptr, nullptr, "run");
  EXPECT_EQ(alone.find("#F0496E"), std::string::npos);
}

}  // namespace
}  // namespace longctx
