#include "longctx/report/chart.h"

#include <gtest/gtest.h>

#include <cmath>

#include "longctx/base/error.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(NiceTicks, CoverTheRangeInStepsOfOneTwoOrFive) {
  expect_ticks(nice_ticks(0, 0.534), {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
  expect_ticks(nice_ticks(2.31, 2.87), {2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9});
  expect_ticks(nice_ticks(0, 768), {0, 200, 400, 600, 800});
  expect_ticks(nice_ticks(1, 3, 6), {1, 1.5, 2, 2.5, 3});
  expect_ticks(nice_ticks(1, 3, 6, 1), {1, 2, 3});  // whole steps only
  expect_ticks(nice_ticks(1, 1, 6, 1), {0, 1, 2});
  expect_ticks(nice_ticks(0, 0.6), {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6});  // 0.6 is a tick itself
  expect_ticks(nice_ticks(-3, 7, 5), {-5, 0, 5, 10});  // steps of 2 would need 6 intervals
  // A constant is widened by 10% each way; zero becomes [0, 1].
  expect_ticks(nice_ticks(2e-5, 2e-5, 5), {1.8e-5, 1.9e-5, 2e-5, 2.1e-5, 2.2e-5});
  expect_ticks(nice_ticks(0, 0, 5), {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  EXPECT_THROW(nice_ticks(0, NAN), Error);
  EXPECT_THROW(nice_ticks(0, 1, 0), Error);
}

TEST(FormatTick, EachFormatReadsAsWritten) {
  EXPECT_EQ(format_tick(0.5, TickFormat::kNumber, 0.5), "0.5");
  EXPECT_EQ(format_tick(2.3, TickFormat::kNumber, 0.1), "2.3");
  EXPECT_EQ(format_tick(2.0, TickFormat::kNumber, 0.1), "2");
  EXPECT_EQ(format_tick(1500, TickFormat::kNumber, 500), "1500");
  EXPECT_EQ(format_tick(0.3, TickFormat::kPercent, 0.1), "30%");
  EXPECT_EQ(format_tick(0.025, TickFormat::kPercent, 0.005), "2.5%");
  EXPECT_EQ(format_tick(1.5e6, TickFormat::kCount, 5e5), "1.5M");
  EXPECT_EQ(format_tick(1e6, TickFormat::kCount, 5e5), "1M");
  EXPECT_EQ(format_tick(500e3, TickFormat::kCount, 5e5), "500K");
  EXPECT_EQ(format_tick(2e9, TickFormat::kCount, 1e9), "2B");
  EXPECT_EQ(format_tick(600, TickFormat::kCount, 200), "600");
  EXPECT_EQ(format_tick(0, TickFormat::kScientific, 1e-5), "0");
  EXPECT_EQ(format_tick(2e-5, TickFormat::kScientific, 1e-5), "2e-5");
  EXPECT_EQ(format_tick(2.1e-5, TickFormat::kScientific, 1e-6), "2.1e-5");
  EXPECT_EQ(format_tick(3 * 0.1 - 0.3, TickFormat::kNumber, 0.1), "0");  // noise reads 0
}

TEST(Legend, ItemsInASquareOfTheirColourAndWrap) {
  Svg svg(200, 100);
  std::vector<LegendItem> items = {
      {"target", "#9E9E9E"}, {"before", "#3B6FB6"}, {"after", "#F0496E"}};
  // Each item is 16 + 6.5 per character + 14 wide: 69, 69, 62.5; 150 px fit two.
  double h = draw_legend(svg, 10, 20, 150, items);
  EXPECT_EQ(h, 32);
  EXPECT_EQ(legend_height(150, items), 32);
  EXPECT_EQ(legend_height(400, items), 16);
  EXPECT_EQ(legend_height(400, {}), 0);
  std::vector<testing::SvgText> texts = testing::svg_texts(svg.str());
  ASSERT_EQ(texts.size(), 3u);
  EXPECT_EQ(texts[0].text, "target");
  EXPECT_DOUBLE_EQ(texts[0].x, 10 + 14);
  EXPECT_DOUBLE_EQ(texts[1].x, 10 + 69 + 14);
  EXPECT_DOUBLE_EQ(texts[2].x, 10 + 14);  // wrapped to the second line
  EXPECT_DOUBLE_EQ(texts[2].y, texts[0].y + 16);
  EXPECT_NE(svg.str().find("fill=\"#F0496E\""), std::string::npos);
}

}  // namespace
}  // namespace longctx
