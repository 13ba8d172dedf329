// Line charts for the report's training curves: one line per series over shared linear axes
// with nice ticks (chart.h), the legend under the title. Both axes span their first to last
// tick, which cover every point, so a point's pixel position is linear in its value:
//   x_px = plot_left + plot_width * (x - first_x_tick) / (last_x_tick - first_x_tick)
// and y likewise, upwards. Series of at most kLineChartMarkerLimit points also get a dot at
// every point (a 3-step run still shows its steps), each with a <title> of its values.
//
//   LineChart chart{.title = "Training loss", .x_label = "tokens", .y_label = "loss (nats)",
//                   .x_format = TickFormat::kCount,
//                   .series = {{.label = "per-source", .points = {{256, 6.9}, {512, 6.4}}}}};
//   std::string svg = line_chart_svg(chart);
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "longctx/report/chart.h"

namespace longctx {

inline constexpr size_t kLineChartMarkerLimit = 60;

struct LineSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), in x order
  std::string color;                              // "#RRGGBB"; empty: chart_color(index)
};

struct LineChart {
  std::string title, x_label, y_label;
  TickFormat x_format = TickFormat::kNumber, y_format = TickFormat::kNumber;
  bool y_from_zero = false;  // the y axis starts at 0 (rates, learning rates)
  bool x_whole = false;      // x values are whole numbers (steps): ticks at least 1 apart
  std::vector<LineSeries> series;
};

// Throws Error when no series has a point or a coordinate is not finite.
std::string line_chart_svg(const LineChart& chart);

}  // namespace longctx
