#include "longctx/report/mixture_panels.h"

#include <gtest/gtest.h>

#include <cmath>

#include "longctx/base/error.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

// A profile in the stats JSON layout with two domains and nine buckets: bucket b holds
// shares[b] of the tokens.
nlohmann::json profile(double cc_share, const std::vector<double>& shares) {
  nlohmann::json buckets = nlohmann::json::array();
  const char* labels[] = {"0-1K",   "1-2K",   "2-4K",    "4-8K", "8-16K",
                          "16-32K", "32-64K", "64-128K", "128K+"};
  for (const char* label : labels) buckets.push_back({{"label", label}});
  return {{"buckets", buckets},
          {"domains",
           {{{"name", "RedPajamaCommonCrawl"}, {"token_share", cc_share}},
            {{"name", "RedPajamaBook"}, {"token_share", 1 - cc_share}}}},
          {"total", {{"bucket_token_shares", shares}}}};
}

nlohmann::json mix_report(bool budgeted) {
  nlohmann::json cc = {{"name", "RedPajamaCommonCrawl"}, {"after_share", 0.52}};
  nlohmann::json book = {{"name", "RedPajamaBook"}, {"after_share", 0.48}};
  if (budgeted) {
    cc["target_share"] = 0.55;
    book["target_share"] = 0.45;
  }
  return {{"domains", {cc, book}},
          {"before", profile(0.8, {0.5, 0.2, 0.1, 0.1, 0.05, 0.05, 0, 0, 0})},
          {"after", profile(0.52, {0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0, 0})}};
}

TEST(MixDomainChart, TargetBeforeAfterPerDomainInShortNames) {
  BarChart chart = mix_domain_chart(mix_report(true), "per-source");
  EXPECT_EQ(chart.title, "per-source");
  EXPECT_EQ(chart.categories, (std::vector<std::string>{"CC", "Book"}));
  ASSERT_EQ(chart.series.size(), 3u);
  EXPECT_EQ(chart.series[0].label, "target");
  EXPECT_EQ(chart.series[0].values, (std::vector<double>{0.55, 0.45}));
  EXPECT_EQ(chart.series[1].label, "before");
  EXPECT_DOUBLE_EQ(chart.series[1].values[0], 0.8);
  EXPECT_DOUBLE_EQ(chart.series[1].values[1], 1 - 0.8);
  EXPECT_EQ(chart.series[2].label, "after");
  EXPECT_EQ(chart.series[2].values, (std::vector<double>{0.52, 0.48}));
  // Drawn, the target bar of CC is 0.55 / 0.45 as tall as Book's.
  std::string svg = bar_chart_svg(chart);
  EXPECT_NEAR(testing::svg_number(svg, "target CC: 55.00%", "height") /
                  testing::svg_number(svg, "target Book: 45.00%", "height"),
              0.55 / 0.45, 1e-3);
}

TEST(MixDomainChart, NoTargetSeriesForAnUnbudgetedStrategy) {
  BarChart chart = mix_domain_chart(mix_report(false), "original");
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].label, "before");
  EXPECT_EQ(chart.series[1].label, "after");
}

TEST(MixLengthChart, BucketSharesBeforeAndAfter) {
  BarChart chart = mix_length_chart(mix_report(true), "lengths");
  ASSERT_EQ(chart.categories.size(), 9u);
  EXPECT_EQ(chart.categories[3], "4-8K");
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_DOUBLE_EQ(chart.series[0].values[0], 0.5);
  EXPECT_DOUBLE_EQ(chart.series[1].values[6], 0.1);
  std::string svg = bar_chart_svg(chart);
  EXPECT_NEAR(testing::svg_number(svg, "after 4-8K: 20.00%", "height") /
                  testing::svg_number(svg, "before 4-8K: 10.00%", "height"),
              2.0, 1e-3);
}

TEST(MixPanels, MissingFieldsAreNamed) {
  nlohmann::json report = mix_report(true);
  report.erase("before");
  try {
    mix_domain_chart(report, "x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"before\""), std::string::npos) << e.what();
  }
  report = mix_report(true);
  report["domains"][0].erase("after_share");
  EXPECT_THROW(mix_domain_chart(report, "x"), Error);
}

TEST(SeriesFromStatsJson, DomainSharesAndTotalBuckets) {
  MixtureSeries s =
      series_from_stats_json("corpus", profile(0.7, {0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0, 0}));
  EXPECT_EQ(s.label, "corpus");
  ASSERT_EQ(s.domain_shares.size(), 2u);
  EXPECT_EQ(s.domain_shares[0].first, "RedPajamaCommonCrawl");
  EXPECT_DOUBLE_EQ(s.domain_shares[0].second, 0.7);
  EXPECT_DOUBLE_EQ(s.bucket_shares[0], 0.3);
  EXPECT_DOUBLE_EQ(s.bucket_shares[6], 0.1);
  EXPECT_THROW(series_from_stats_json("x", profile(0.7, {0.5, 0.5})), Error);  // 2 of 9 buckets
  EXPECT_EQ(short_domain_name("RedPajamaStackExchange"), "StackExchange");
  EXPECT_EQ(short_domain_name("my-domain"), "my-domain");
}

}  // namespace
}  // namespace longctx
