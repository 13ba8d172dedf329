// Grouped vertical bars of shares, for the report's mixture panels: one group per category (a
// domain, a length bucket), one bar per series in each group (target / before / after), the
// y axis in percent from 0 to a nice tick at or above the largest share, a legend under the
// title. Every bar has a <title> with its exact value; a NaN value draws no bar (a series with
// no value there, e.g. no target for an unbudgeted strategy).
//
//   BarChart chart{.title = "per-source: domain shares", .categories = {"CC", "C4"},
//                  .series = {{.label = "target", .values = {0.534, 0.266}},
//                             {.label = "after", .values = {0.540, 0.260}}}};
//   std::string svg = bar_chart_svg(chart);
#pragma once

#include <string>
#include <vector>

namespace longctx {

struct BarSeries {
  std::string label;
  std::vector<double> values;  // one per category: a fraction of 1, or NaN for no bar
  std::string color;           // "#RRGGBB"; empty: chart_color(series index)
};

struct BarChart {
  std::string title;
  std::string y_label = "share of tokens";
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
};

// Throws Error when there are no categories or series, a series has the wrong number of
// values, or a value is negative or infinite.
std::string bar_chart_svg(const BarChart& chart);

}  // namespace longctx
