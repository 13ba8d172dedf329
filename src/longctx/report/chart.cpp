#include "longctx/report/chart.h"

#include <fmt/format.h>

#include <cmath>

#include "longctx/base/error.h"

namespace longctx {
namespace {

// "1.50" -> "1.5", "2.00" -> "2", "10" -> "10".
std::string trim_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// Decimals needed to tell ticks `step` apart: step 0.05 -> 2, step 5 -> 0.
int decimals_for(double step) {
  if (!(step > 0)) return 0;
  return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
}

constexpr double kLegendLine = 16;  // pixels per legend line

// Where each legend item goes, relative to the legend's top left: left to right, wrapping.
std::vector<std::pair<double, double>> legend_positions(double max_width,
                                                        const std::vector<LegendItem>& items) {
  constexpr double kCharWidth = 6.5;  // about 11 px sans-serif
  std::vector<std::pair<double, double>> out;
  double at = 0, line_y = 0;
  for (const LegendItem& item : items) {
    double w = 16 + kCharWidth * static_cast<double>(item.label.size()) + 14;
    if (at > 0 && at + w > max_width) {
      at = 0;
      line_y += kLegendLine;
    }
    out.emplace_back(at, line_y);
    at += w;
  }
  return out;
}

}  // namespace

std::string_view chart_color(size_t series) {
  return kChartPalette[series % kChartPalette.size()];
}

std::vector<double> nice_ticks(double lo, double hi, int intervals, double min_step) {
  if (intervals < 1) throw Error(fmt::format("nice_ticks: {} intervals; expected >= 1", intervals));
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    throw Error(fmt::format("nice_ticks: range [{}, {}] is not finite", lo, hi));
  }
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi && lo == 0) {
    hi = 1;
  } else if (lo == hi) {
    const double pad = std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / intervals;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  int first = 0, last = 0;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = std::max(m * magnitude, min_step);
    // A tiny tolerance so that 0.6 / 0.1 = 5.999... still counts as 6.
    first = static_cast<int>(std::floor(lo / step + 1e-9));
    last = static_cast<int>(std::ceil(hi / step - 1e-9));
    if (last - first <= intervals) break;
  }
  std::vector<double> ticks;
  for (int i = first; i <= last; ++i) ticks.push_back(i * step);
  return ticks;
}

std::string format_tick(double value, TickFormat format, double step) {
  if (std::abs(value) < step * 1e-6) value = 0;  // -0 and rounding noise read "0"
  switch (format) {
    case TickFormat::kNumber:
      return trim_zeros(fmt::format("{:.{}f}", value, decimals_for(step)));
    case TickFormat::kPercent:
      return trim_zeros(fmt::format("{:.{}f}", value * 100, decimals_for(step * 100))) + "%";
    case TickFormat::kCount: {
      double a = std::abs(value);
      double unit = a >= 1e9 ? 1e9 : a >= 1e6 ? 1e6 : a >= 1e3 ? 1e3 : 1;
      const char* suffix = unit == 1e9 ? "B" : unit == 1e6 ? "M" : unit == 1e3 ? "K" : "";
      return trim_zeros(fmt::format("{:.{}f}", value / unit, decimals_for(step / unit))) + suffix;
    }
    case TickFormat::kScientific: {
      if (value == 0) return "0";
      int exponent = static_cast<int>(std::floor(std::log10(std::abs(value)) + 1e-9));
      int decimals = std::max(0, exponent - static_cast<int>(std::floor(std::log10(step) + 1e-9)));
      std::string mantissa =
          trim_zeros(fmt::format("{:.{}f}", value / std::pow(10.0, exponent), decimals));
      return fmt::format("{}e{}", mantissa, exponent);
    }
  }
  return "";
}

double draw_legend(Svg& svg, double x, double y, double max_width,
                   const std::vector<LegendItem>& items) {
  std::vector<std::pair<double, double>> at = legend_positions(max_width, items);
  for (size_t i = 0; i < items.size(); ++i) {
    svg.rect(x + at[i].first, y + at[i].second + 1, 10, 10, items[i].color);
    svg.text(x + at[i].first + 14, y + at[i].second + 10, items[i].label, {.size = 11});
  }
  return legend_height(max_width, items);
}

double legend_height(double max_width, const std::vector<LegendItem>& items) {
  if (items.empty()) return 0;
  return legend_positions(max_width, items).back().second + kLegendLine;
}

}  // namespace longctx
