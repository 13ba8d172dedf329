#include "longctx/report/line_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "longctx/base/error.h"
#include "longctx/report/svg.h"

namespace longctx {
namespace {

constexpr double kWidth = 560, kPlotHeight = 220;
constexpr double kMarginLeft = 64, kMarginRight = 20, kTitleHeight = 28, kMarginBottom = 42;

// x and y of every point; throws when there is none or one is not finite.
void bounds(const LineChart& chart, double& x_lo, double& x_hi, double& y_lo, double& y_hi) {
  bool any = false;
  for (const LineSeries& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        throw Error(
            fmt::format("line chart \"{}\": series \"{}\" has the point ({}, {}); "
                        "expected finite numbers",
                        chart.title, s.label, x, y));
      }
      x_lo = any ? std::min(x_lo, x) : x;
      x_hi = any ? std::max(x_hi, x) : x;
      y_lo = any ? std::min(y_lo, y) : y;
      y_hi = any ? std::max(y_hi, y) : y;
      any = true;
    }
  }
  if (!any) throw Error(fmt::format("line chart \"{}\": no series has a point", chart.title));
}

// A point's value for its tooltip: whole numbers in full (tokens, steps), others to 6 digits.
std::string exact(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.6g}", v);
}

}  // namespace

std::string line_chart_svg(const LineChart& chart) {
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  bounds(chart, x_lo, x_hi, y_lo, y_hi);
  if (chart.y_from_zero) y_lo = std::min(y_lo, 0.0);
  const std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 6, chart.x_whole ? 1 : 0);
  const std::vector<double> y_ticks = nice_ticks(y_lo, y_hi, 5);
  const double x0 = x_ticks.front(), x1 = x_ticks.back(), y0 = y_ticks.front(), y1 = y_ticks.back();
  const double x_step = x_ticks[1] - x_ticks[0], y_step = y_ticks[1] - y_ticks[0];

  std::vector<LegendItem> legend;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const LineSeries& series = chart.series[s];
    legend.push_back(
        {series.label, series.color.empty() ? std::string(chart_color(s)) : series.color});
  }
  const double plot_width = kWidth - kMarginLeft - kMarginRight;
  const double plot_top = kTitleHeight + legend_height(plot_width, legend) + 10;
  const double base_y = plot_top + kPlotHeight;
  auto px = [&](double x) { return kMarginLeft + plot_width * (x - x0) / (x1 - x0); };
  auto py = [&](double y) { return base_y - kPlotHeight * (y - y0) / (y1 - y0); };

  Svg svg(kWidth, base_y + kMarginBottom);
  svg.text(kWidth / 2, 18, chart.title, {.size = 14, .anchor = "middle", .weight = "bold"});
  draw_legend(svg, kMarginLeft, kTitleHeight, plot_width, legend);
  for (double t : y_ticks) {
    svg.line(kMarginLeft, py(t), kMarginLeft + plot_width, py(t), "#e4e4e4");
    svg.text(kMarginLeft - 6, py(t) + 3, format_tick(t, chart.y_format, y_step),
             {.size = 10, .anchor = "end", .color = "#555555"});
  }
  for (double t : x_ticks) {
    svg.line(px(t), base_y, px(t), base_y + 4, "#999999");
    svg.text(px(t), base_y + 15, format_tick(t, chart.x_format, x_step),
             {.size = 10, .anchor = "middle", .color = "#555555"});
  }
  svg.line(kMarginLeft, base_y, kMarginLeft + plot_width, base_y, "#999999");
  svg.line(kMarginLeft, plot_top, kMarginLeft, base_y, "#999999");
  svg.text(kMarginLeft + plot_width / 2, base_y + 33, chart.x_label,
           {.size = 11, .anchor = "middle"});
  svg.text(16, plot_top + kPlotHeight / 2, chart.y_label,
           {.size = 11, .anchor = "middle", .rotate = -90});

  for (size_t s = 0; s < chart.series.size(); ++s) {
    const LineSeries& series = chart.series[s];
    std::vector<std::pair<double, double>> pixels;
    for (const auto& [x, y] : series.points) pixels.emplace_back(px(x), py(y));
    if (pixels.size() > 1) svg.polyline(pixels, legend[s].color, 1.6, series.label);
    if (series.points.size() > kLineChartMarkerLimit) continue;
    for (size_t i = 0; i < pixels.size(); ++i) {
      svg.circle(pixels[i].first, pixels[i].second, 2.5, legend[s].color,
                 fmt::format("{}: {}, {:.6g}", series.label, exact(series.points[i].first),
                             series.points[i].second));
    }
  }
  return svg.str();
}

}  // namespace longctx
