#include "longctx/report/bar_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "longctx/base/error.h"
#include "longctx/report/chart.h"
#include "longctx/report/svg.h"

namespace longctx {
namespace {

// Pixels: bars of kBarWidth, kGroupGap between groups, the plot kPlotHeight tall.
constexpr double kBarWidth = 16, kGroupGap = 14, kPlotHeight = 220;
constexpr double kMarginLeft = 58, kMarginRight = 16, kTitleHeight = 28, kMarginBottom = 40;
constexpr double kMinWidth = 420;

void validate(const BarChart& chart) {
  if (chart.categories.empty() || chart.series.empty()) {
    throw Error(
        fmt::format("bar chart \"{}\": {} categories and {} series; expected at least one "
                    "of each",
                    chart.title, chart.categories.size(), chart.series.size()));
  }
  for (const BarSeries& s : chart.series) {
    if (s.values.size() != chart.categories.size()) {
      throw Error(fmt::format("bar chart \"{}\": series \"{}\" has {} values for {} categories",
                              chart.title, s.label, s.values.size(), chart.categories.size()));
    }
    for (double v : s.values) {
      if (std::isinf(v) || v < 0) {
        throw Error(
            fmt::format("bar chart \"{}\": series \"{}\" has value {}; expected a "
                        "share >= 0",
                        chart.title, s.label, v));
      }
    }
  }
}

}  // namespace

std::string bar_chart_svg(const BarChart& chart) {
  validate(chart);
  const size_t n_series = chart.series.size(), n_categories = chart.categories.size();
  // Groups at least kGroupGap apart, wider when few groups would leave the minimum width empty.
  const double bars_width = kBarWidth * static_cast<double>(n_series);
  const double plot_width = std::max((bars_width + kGroupGap) * static_cast<double>(n_categories),
                                     kMinWidth - kMarginLeft - kMarginRight);
  const double group_width = plot_width / static_cast<double>(n_categories);
  const double width = kMarginLeft + plot_width + kMarginRight;

  std::vector<LegendItem> legend;
  for (size_t s = 0; s < n_series; ++s) {
    const BarSeries& series = chart.series[s];
    legend.push_back(
        {series.label, series.color.empty() ? std::string(chart_color(s)) : series.color});
  }
  const double plot_top = kTitleHeight + legend_height(width - kMarginLeft, legend) + 12;
  const double height = plot_top + kPlotHeight + kMarginBottom;
  const double base_y = plot_top + kPlotHeight;

  Svg svg(width, height);
  svg.text(width / 2, 18, chart.title, {.size = 14, .anchor = "middle", .weight = "bold"});
  draw_legend(svg, kMarginLeft, kTitleHeight, width - kMarginLeft, legend);

  double max_value = 0;
  for (const BarSeries& s : chart.series)
    for (double v : s.values)
      if (!std::isnan(v)) max_value = std::max(max_value, v);
  const std::vector<double> ticks = nice_ticks(0, max_value > 0 ? max_value : 0.01, 5);
  const double top = ticks.back(), step = ticks.size() > 1 ? ticks[1] - ticks[0] : top;
  for (double tick : ticks) {
    double y = base_y - kPlotHeight * tick / top;
    svg.line(kMarginLeft, y, kMarginLeft + plot_width, y, tick == 0 ? "#999999" : "#e4e4e4");
    svg.text(kMarginLeft - 6, y + 3, format_tick(tick, TickFormat::kPercent, step),
             {.size = 10, .anchor = "end", .color = "#555555"});
  }
  svg.text(16, plot_top + kPlotHeight / 2, chart.y_label,
           {.size = 11, .anchor = "middle", .rotate = -90});

  for (size_t c = 0; c < n_categories; ++c) {
    const double x0 =
        kMarginLeft + group_width * static_cast<double>(c) + (group_width - bars_width) / 2;
    svg.text(x0 + bars_width / 2, base_y + 15, chart.categories[c],
             {.size = 10, .anchor = "middle"});
    for (size_t s = 0; s < n_series; ++s) {
      double v = chart.series[s].values[c];
      if (std::isnan(v)) continue;
      double h = kPlotHeight * v / top;
      svg.rect(x0 + kBarWidth * static_cast<double>(s), base_y - h, kBarWidth - 2, h,
               legend[s].color,
               fmt::format("{} {}: {:.2f}%", chart.series[s].label, chart.categories[c], v * 100));
    }
  }
  return svg.str();
}

}  // namespace longctx
