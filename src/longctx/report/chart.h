// Pieces shared by the report's charts (bar_chart.h, line_chart.h): the series colours,
// "nice" axis ticks and their labels, and the legend.
//
//   std::vector<double> ticks = nice_ticks(0, 0.534);        // 0, 0.1, ..., 0.6
//   format_tick(0.3, TickFormat::kPercent, 0.1) == "30%"
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longctx/report/svg.h"

namespace longctx {

// Series colours in order: blue, red, green, yellow (the heatmap's three and Figure 2's blue),
// then purple, brown, teal, grey. Series i takes chart_color(i), wrapping around.
inline constexpr std::array<std::string_view, 8> kChartPalette = {
    "#3B6FB6", "#F0496E", "#0CD79F", "#EBB839", "#7E57C2", "#8D6E63", "#00838F", "#9E9E9E"};
std::string_view chart_color(size_t series);

// Evenly spaced ticks at multiples of 1, 2 or 5 x 10^k that cover [lo, hi]: the first <= lo,
// the last >= hi, with at most `intervals` steps between them (Error when intervals < 1 or a
// bound is not finite). When lo == hi the range is widened by 10% of |lo| on each side (to
// [0, 1] when lo is 0).
// Steps below `min_step` are not used (1 for whole numbers such as training steps).
//   nice_ticks(0, 0.534) -> 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6
//   nice_ticks(2.31, 2.87) -> 2.3, 2.4, ..., 2.9
//   nice_ticks(1, 3, 6, 1) -> 1, 2, 3   (not 1, 1.5, 2, 2.5, 3)
std::vector<double> nice_ticks(double lo, double hi, int intervals = 6, double min_step = 0);

// How tick values read:
//   kNumber      "0.5", "12", "1500"      as many decimals as the step needs
//   kCount       "500K", "1.5M", "2B"     SI suffixes, for tokens and steps
//   kPercent     "25%", "2.5%"            a fraction shown as percent
//   kScientific  "0", "2e-5", "2.5e-5"    for learning rates
// Trailing zeros never show ("1.0M" reads "1M").
enum class TickFormat { kNumber, kCount, kPercent, kScientific };
std::string format_tick(double value, TickFormat format, double step);

// A legend: a 10 x 10 square in the series' colour and its label, items left to right from
// (x, y) (the top of the first line), wrapping past `max_width`. Returns the height used.
struct LegendItem {
  std::string label;
  std::string color;
};
double draw_legend(Svg& svg, double x, double y, double max_width,
                   const std::vector<LegendItem>& items);
// The height draw_legend() will use, without drawing.
double legend_height(double max_width, const std::vector<LegendItem>& items);

}  // namespace longctx
