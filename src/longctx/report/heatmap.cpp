#include "longctx/report/heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "longctx/base/error.h"
#include "longctx/report/svg.h"

namespace longctx {
namespace {

// Pixel budget of one panel: the grid is about kGridWidth x kGridHeight, with room around it
// for the title (top), depth ticks and label (left) and length ticks and label (bottom).
constexpr int kGridWidth = 400, kGridHeight = 240;
constexpr int kMinCell = 4;
constexpr int kMarginLeft = 64, kMarginTop = 32, kMarginRight = 16, kMarginBottom = 48;
constexpr int kBarGap = 16, kBarWidth = 16, kBarLabels = 40;
constexpr int kBarSteps = 50;  // strips drawn for the SVG colour bar

constexpr std::array<std::array<double, 3>, 3> kStops = {{
    {0xF0, 0x49, 0x6E},  // 0.0 red
    {0xEB, 0xB8, 0x39},  // 0.5 yellow
    {0x0C, 0xD7, 0x9F},  // 1.0 green
}};

std::string hex_color(double score) {
  std::array<uint8_t, 3> c = heatmap_color(score);
  return fmt::format("#{:02X}{:02X}{:02X}", c[0], c[1], c[2]);
}

// "1K", "128K"; lengths under 1000 as they are.
std::string length_label(int64_t length) {
  if (length < 1000) return fmt::format("{}", length);
  return fmt::format("{}K", std::llround(static_cast<double>(length) / 1000.0));
}

HeatmapPanelLayout layout_panel(const HeatmapPanel& panel) {
  HeatmapPanelLayout out;
  if (panel.cells.empty()) {
    throw Error(fmt::format("heatmap panel \"{}\" has no cells", panel.title),
                "pass at least one (length, depth, score) result per panel");
  }
  for (const HeatmapCell& cell : panel.cells) {
    if (!std::isfinite(cell.score) || !std::isfinite(cell.depth)) {
      throw Error(
          fmt::format("heatmap panel \"{}\": cell at length {} has score {} and depth {}; "
                      "expected finite numbers",
                      panel.title, cell.length, cell.score, cell.depth));
    }
    out.lengths.push_back(cell.length);
    out.depths.push_back(cell.depth);
  }
  std::sort(out.lengths.begin(), out.lengths.end());
  out.lengths.erase(std::unique(out.lengths.begin(), out.lengths.end()), out.lengths.end());
  std::sort(out.depths.begin(), out.depths.end());
  out.depths.erase(std::unique(out.depths.begin(), out.depths.end()), out.depths.end());
  const size_t n_len = out.lengths.size(), n_depth = out.depths.size();

  // Mean of the results that fall on each (depth, length) cell.
  std::vector<double> sum(n_len * n_depth, 0.0);
  std::vector<int> count(n_len * n_depth, 0);
  for (const HeatmapCell& cell : panel.cells) {
    size_t col =
        std::lower_bound(out.lengths.begin(), out.lengths.end(), cell.length) - out.lengths.begin();
    size_t row =
        std::lower_bound(out.depths.begin(), out.depths.end(), cell.depth) - out.depths.begin();
    sum[row * n_len + col] += cell.score;
    count[row * n_len + col] += 1;
  }
  out.scores.assign(n_len * n_depth, std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < sum.size(); ++i) {
    if (count[i] > 0) out.scores[i] = sum[i] / count[i];
  }

  out.cell_w = std::max(kMinCell, kGridWidth / static_cast<int>(n_len));
  out.cell_h = std::max(kMinCell, kGridHeight / static_cast<int>(n_depth));

  // The training-length line, interpolated by length between column centres: with columns at
  // 64K and 96K, 80K lands half way between their centres.
  if (panel.train_length) {
    const int64_t t = *panel.train_length;
    for (size_t i = 0; i < n_len; ++i) {
      double centre = (i + 0.5) * out.cell_w;
      if (out.lengths[i] == t) {
        out.train_x = centre;
        break;
      }
      if (i + 1 < n_len && out.lengths[i] < t && t < out.lengths[i + 1]) {
        double frac = static_cast<double>(t - out.lengths[i]) /
                      static_cast<double>(out.lengths[i + 1] - out.lengths[i]);
        out.train_x = centre + frac * out.cell_w;
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::array<uint8_t, 3> heatmap_color(double score) {
  double s = score > 0 ? std::min(score, 1.0) : 0.0;  // NaN maps to 0
  const std::array<double, 3>& lo = s < 0.5 ? kStops[0] : kStops[1];
  const std::array<double, 3>& hi = s < 0.5 ? kStops[1] : kStops[2];
  double t = s < 0.5 ? s * 2 : (s - 0.5) * 2;
  std::array<uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c) {
    out[c] = static_cast<uint8_t>(std::lround(lo[c] + t * (hi[c] - lo[c])));
  }
  return out;
}

HeatmapLayout heatmap_layout(std::span<const HeatmapPanel> panels, int columns) {
  if (panels.empty()) throw Error("heatmap: no panels to draw");
  if (columns < 0) throw Error(fmt::format("heatmap: columns is {}; expected >= 0", columns));
  const int n = static_cast<int>(panels.size());
  if (columns == 0) columns = std::min(n, 3);
  columns = std::min(columns, n);
  const int rows = (n + columns - 1) / columns;

  HeatmapLayout out;
  int slot_w = 0, slot_h = 0, max_grid_h = 0;
  for (const HeatmapPanel& panel : panels) {
    out.panels.push_back(layout_panel(panel));
    const HeatmapPanelLayout& p = out.panels.back();
    slot_w = std::max(slot_w, kMarginLeft + p.grid_width() + kMarginRight);
    slot_h = std::max(slot_h, kMarginTop + p.grid_height() + kMarginBottom);
    max_grid_h = std::max(max_grid_h, p.grid_height());
  }
  for (int i = 0; i < n; ++i) {
    out.panels[i].grid_x = (i % columns) * slot_w + kMarginLeft;
    out.panels[i].grid_y = (i / columns) * slot_h + kMarginTop;
  }
  out.bar_x = columns * slot_w + kBarGap;
  out.bar_y = kMarginTop;
  out.bar_w = kBarWidth;
  out.bar_h = max_grid_h;
  out.width = out.bar_x + kBarWidth + kBarLabels;
  out.height = rows * slot_h;
  return out;
}

std::string heatmap_svg(std::span<const HeatmapPanel> panels, int columns) {
  const HeatmapLayout layout = heatmap_layout(panels, columns);
  Svg svg(layout.width, layout.height);
  svg.set_crisp_edges();  // no seams between cells in a scaled-down figure
  for (size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanelLayout& p = layout.panels[k];
    const size_t n_len = p.lengths.size();
    const double gx = p.grid_x, gy = p.grid_y, gw = p.grid_width(), gh = p.grid_height();
    svg.text(gx + gw / 2, gy - 12, panels[k].title,
             {.size = 13, .anchor = "middle", .weight = "bold"});
    for (size_t row = 0; row < p.depths.size(); ++row) {
      for (size_t col = 0; col < n_len; ++col) {
        double score = p.scores[row * n_len + col];
        if (std::isnan(score)) continue;
        svg.rect(gx + col * p.cell_w, gy + row * p.cell_h, p.cell_w, p.cell_h, hex_color(score),
                 fmt::format("length {}, depth {:g}%: score {:.3f}", p.lengths[col], p.depths[row],
                             score));
      }
    }
    if (p.train_x) {
      svg.line(gx + *p.train_x, gy, gx + *p.train_x, gy + gh, "#ffffff", 2,
               fmt::format("{},{}", kHeatmapDashOn, kHeatmapDashPeriod - kHeatmapDashOn));
    }
    // Length ticks on about ten columns, always including the last.
    const size_t step = (n_len + 9) / 10;
    for (size_t col = 0; col < n_len; ++col) {
      bool last = col + 1 == n_len;
      if (!last && (col % step != 0 || n_len - 1 - col < (step + 1) / 2)) continue;
      svg.text(gx + (col + 0.5) * p.cell_w, gy + gh + 14, length_label(p.lengths[col]),
               {.size = 9, .anchor = "middle"});
    }
    for (size_t row = 0; row < p.depths.size(); ++row) {
      svg.text(gx - 4, gy + (row + 0.5) * p.cell_h + 3, fmt::format("{:.0f}", p.depths[row]),
               {.size = 9, .anchor = "end"});
    }
    svg.text(gx + gw / 2, gy + gh + 34, "Token Limit", {.size = 11, .anchor = "middle"});
    svg.text(gx - 36, gy + gh / 2, "Depth Percent",
             {.size = 11, .anchor = "middle", .rotate = -90});
  }
  // Colour bar: strips from score 1 (top) to 0 (bottom), labels on the right.
  const double strip_h = static_cast<double>(layout.bar_h) / kBarSteps;
  for (int i = 0; i < kBarSteps; ++i) {
    double score = 1.0 - (i + 0.5) / kBarSteps;
    // Each strip overlaps the next by half a pixel so no seams show between them.
    double overlap = i + 1 < kBarSteps ? 0.5 : 0.0;
    svg.rect(layout.bar_x, layout.bar_y + i * strip_h, layout.bar_w, strip_h + overlap,
             hex_color(score));
  }
  for (double score : {0.0, 0.5, 1.0}) {
    svg.text(layout.bar_x + layout.bar_w + 4, layout.bar_y + (1.0 - score) * layout.bar_h + 3,
             fmt::format("{:.1f}", score), {.size = 9});
  }
  svg.text(layout.bar_x + layout.bar_w / 2.0, layout.bar_y - 8, "Score",
           {.size = 10, .anchor = "middle"});
  return svg.str();
}

}  // namespace longctx
