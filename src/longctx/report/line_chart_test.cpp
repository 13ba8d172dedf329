#include "longctx/report/line_chart.h"

#include <gtest/gtest.h>

#include <cmath>

#include "longctx/base/error.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

using testing::svg_element_with_title;
using testing::svg_points;

LineChart two_runs() {
  return {
      .title = "Training loss",
      .x_label = "tokens trained",
      .y_label = "loss (nats)",
      .x_format = TickFormat::kCount,
      .y_format = TickFormat::kNumber,
      .y_from_zero = false,
      .series = {{.label = "original", .points = {{256, 7.0}, {512, 6.5}, {768, 6.2}}, .color = ""},
                 {.label = "per-source", .points = {{256, 7.1}, {768, 6.0}}, .color = ""}}};
}

// The pixel x of a tick label's text (labels are centred on their tick).
double tick_x(const std::string& svg, const std::string& label) {
  for (const testing::SvgText& t : testing::svg_texts(svg))
    if (t.text == label) return t.x;
  return NAN;
}

TEST(LineChart, PointsArePlacedLinearlyOnTheAxes) {
  std::string svg = line_chart_svg(two_runs());
  std::vector<std::pair<double, double>> a = svg_points(svg_element_with_title(svg, "original"));
  ASSERT_EQ(a.size(), 3u);
  // x: 256 -> 512 -> 768 are equal steps; y: loss 7.0 -> 6.5 -> 6.2 falls 0.5 then 0.3.
  EXPECT_NEAR(a[1].first - a[0].first, a[2].first - a[1].first, 0.02);
  EXPECT_NEAR((a[2].second - a[1].second) / (a[1].second - a[0].second), 0.3 / 0.5, 1e-3);
  EXPECT_GT(a[2].second, a[0].second);  // lower loss is drawn lower (larger y)
  // The x ticks (0, 200, ..., 800 tokens) are on the same scale: 256 lies 0.28 of the way
  // from the 200 tick to the 400 tick.
  double x200 = tick_x(svg, "200"), x400 = tick_x(svg, "400");
  ASSERT_FALSE(std::isnan(x200));
  ASSERT_FALSE(std::isnan(x400));
  EXPECT_NEAR((a[0].first - x200) / (x400 - x200), (256.0 - 200) / 200, 1e-3);
  // The second series shares the axes: same x for the same tokens.
  std::vector<std::pair<double, double>> b = svg_points(svg_element_with_title(svg, "per-source"));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_NEAR(b[0].first, a[0].first, 0.01);
  EXPECT_NEAR(b[1].first, a[2].first, 0.01);
  EXPECT_LT(b[0].second, a[0].second);  // 7.1 above 7.0
  // Few points: each gets a dot with its values.
  EXPECT_NE(svg.find("<title>original: 512, 6.5</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">Training loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">tokens trained</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss (nats)</text>"), std::string::npos);
}

TEST(LineChart, ASinglePointIsADotAndManyPointsHaveNone) {
  LineChart one{.title = "lr",
                .x_label = "step",
                .y_label = "lr",
                .x_format = TickFormat::kCount,
                .y_format = TickFormat::kScientific,
                .y_from_zero = true,
                .series = {{.label = "run", .points = {{1, 2e-5}}, .color = ""}}};
  std::string svg = line_chart_svg(one);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
  EXPECT_EQ(testing::count_of(svg, "<circle"), 1u);
  EXPECT_NE(svg.find(">0</text>"), std::string::npos);  // y from zero
  EXPECT_NE(svg.find(">2e-5</text>"), std::string::npos);
  // x_whole: a 3-step run has ticks at whole steps only.
  LineChart steps = one;
  steps.x_whole = true;
  steps.series[0].points = {{1, 1e-3}, {2, 1e-3}, {3, 1e-3}};
  std::string steps_svg = line_chart_svg(steps);
  EXPECT_NE(steps_svg.find(">2</text>"), std::string::npos);
  EXPECT_EQ(steps_svg.find(">1.5</text>"), std::string::npos);
  steps.x_whole = false;
  EXPECT_NE(line_chart_svg(steps).find(">1.5</text>"), std::string::npos);

  LineChart many = one;
  many.series[0].points.clear();
  for (int i = 0; i <= static_cast<int>(kLineChartMarkerLimit); ++i)
    many.series[0].points.emplace_back(i, 1.0 / (1 + i));
  std::string long_svg = line_chart_svg(many);
  EXPECT_EQ(testing::count_of(long_svg, "<circle"), 0u);
  EXPECT_EQ(svg_points(svg_element_with_title(long_svg, "run")).size(), kLineChartMarkerLimit + 1);
}

TEST(LineChart, RejectsNoPointsAndNonFiniteValues) {
  LineChart chart = two_runs();
  chart.series[0].points[1].second = NAN;
  EXPECT_THROW(line_chart_svg(chart), Error);
  chart.series.clear();
  EXPECT_THROW(line_chart_svg(chart), Error);
  chart.series.push_back({.label = "empty", .points = {}, .color = ""});
  EXPECT_THROW(line_chart_svg(chart), Error);
}

}  // namespace
}  // namespace longctx
