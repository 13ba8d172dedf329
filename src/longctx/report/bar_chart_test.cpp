#include "longctx/report/bar_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "longctx/base/error.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

using testing::svg_number;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

BarChart three_domains() {
  return {.title = "mix <a>: domain shares",
          .categories = {"CC", "C4", "Book"},
          .series = {{.label = "target", .values = {0.5, 0.3, 0.2}, .color = "#9E9E9E"},
                     {.label = "after", .values = {0.55, 0.25, kNaN}, .color = ""}}};
}

TEST(BarChart, BarHeightsAreProportionalToSharesOnOneBaseline) {
  std::string svg = bar_chart_svg(three_domains());
  double h_cc = svg_number(svg, "target CC: 50.00%", "height");
  double h_c4 = svg_number(svg, "target C4: 30.00%", "height");
  double h_after = svg_number(svg, "after CC: 55.00%", "height");
  ASSERT_FALSE(std::isnan(h_cc));
  ASSERT_FALSE(std::isnan(h_c4));
  ASSERT_FALSE(std::isnan(h_after));
  EXPECT_NEAR(h_c4 / h_cc, 0.3 / 0.5, 1e-3);
  EXPECT_NEAR(h_after / h_cc, 0.55 / 0.5, 1e-3);
  // Every bar stands on the same baseline.
  double base = svg_number(svg, "target CC: 50.00%", "y") + h_cc;
  EXPECT_NEAR(svg_number(svg, "target C4: 30.00%", "y") + h_c4, base, 0.01);
  EXPECT_NEAR(svg_number(svg, "after CC: 55.00%", "y") + h_after, base, 0.01);
  // Bars of one group sit side by side, the group's bars in series order.
  EXPECT_LT(svg_number(svg, "target CC: 50.00%", "x"), svg_number(svg, "after CC: 55.00%", "x"));
  EXPECT_LT(svg_number(svg, "after CC: 55.00%", "x"), svg_number(svg, "target C4: 30.00%", "x"));
  // A NaN draws no bar; an explicit colour is kept.
  EXPECT_EQ(svg.find("after Book"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#9E9E9E\"><title>target CC"), std::string::npos);
}

TEST(BarChart, AxisTopIsANiceTickAboveTheLargestShare) {
  std::string svg = bar_chart_svg(three_domains());
  // The largest share, 0.55, is under the 60% tick; bar heights follow the axis: the tick's
  // line lies at baseline - h * 0.6 / 0.55 for the 55% bar.
  bool found = false;
  double tick_y = 0;
  for (const testing::SvgText& t : testing::svg_texts(svg)) {
    if (t.text == "60%") {
      found = true;
      tick_y = t.y - 3;  // labels sit 3 px below their line
    }
    EXPECT_NE(t.text, "70%");
  }
  ASSERT_TRUE(found);
  double h = svg_number(svg, "after CC: 55.00%", "height");
  double base = svg_number(svg, "after CC: 55.00%", "y") + h;
  EXPECT_NEAR(base - tick_y, h * 0.6 / 0.55, 0.05);
  EXPECT_NE(svg.find(">mix &lt;a&gt;: domain shares</text>"), std::string::npos);
  EXPECT_NE(svg.find(">share of tokens</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Book</text>"), std::string::npos);
}

TEST(BarChart, RejectsMismatchedOrBadValues) {
  BarChart chart = three_domains();
  chart.series[1].values.pop_back();
  EXPECT_THROW(bar_chart_svg(chart), Error);
  chart = three_domains();
  chart.series[0].values[0] = -0.1;
  EXPECT_THROW(bar_chart_svg(chart), Error);
  chart.series[0].values[0] = INFINITY;
  EXPECT_THROW(bar_chart_svg(chart), Error);
  EXPECT_THROW(bar_chart_svg({.title = "empty", .categories = {}, .series = {}}), Error);
  // All zero still draws (an empty mixture), with a small axis.
  chart = three_domains();
  chart.series = {{.label = "after", .values = {0, 0, 0}, .color = ""}};
  EXPECT_NE(bar_chart_svg(chart).find("after CC: 0.00%"), std::string::npos);
}

}  // namespace
}  // namespace longctx
