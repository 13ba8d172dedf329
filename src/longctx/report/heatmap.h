// The needle-in-a-haystack heatmap (Figure 1 of Fu et al. 2024) as SVG. Each panel has
// context length on x (one column per distinct length, ascending), depth percent on y (one row
// per distinct depth, 0% at the top), cells coloured red -> yellow -> green by score, a white
// dashed line at the training length, and the title on top; a colour bar sits on the right of
// the figure. Cells lie on whole pixels (heatmap_layout), so the PNG that svg_to_png()
// (raster.h) draws at scale 1 has each cell as a solid block of its colour.
//
//   HeatmapPanel panel{.title = "Llama-2-7B-80K, acc 88.0", .train_length = 80000};
//   for (const NeedleResult& r : results) panel.cells.push_back({r.length, r.depth, r.score});
//   std::string svg = heatmap_svg({&panel, 1});
//   write_file_atomic("needle.svg", svg);
//   write_file_atomic("needle.png", svg_to_png(svg, 2));
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace longctx {

struct HeatmapCell {
  int64_t length = 0;  // context length, tokens
  double depth = 0;    // needle depth, percent (0 = start of the context)
  double score = 0;    // 0..1
};

struct HeatmapPanel {
  std::string title;  // e.g. "Llama-2-7B-80K, acc 88.0"
  std::vector<HeatmapCell> cells;
  std::optional<int64_t> train_length;  // tokens; draws the dashed line when inside the x range
};

// Where one panel's grid lies, in pixels of the whole figure (origin top left).
struct HeatmapPanelLayout {
  int grid_x = 0, grid_y = 0;     // top-left corner of the cell grid
  int cell_w = 0, cell_h = 0;     // every cell is cell_w x cell_h pixels
  std::vector<int64_t> lengths;   // distinct lengths, ascending: column i
  std::vector<double> depths;     // distinct depths, ascending: row j (row 0 at the top)
  std::vector<double> scores;     // [depth row][length column], mean score; NaN where no result
  std::optional<double> train_x;  // x of the training-length line, when drawn
  int grid_width() const { return cell_w * static_cast<int>(lengths.size()); }
  int grid_height() const { return cell_h * static_cast<int>(depths.size()); }
};

struct HeatmapLayout {
  int width = 0, height = 0;  // pixels
  std::vector<HeatmapPanelLayout> panels;
  int bar_x = 0, bar_y = 0, bar_w = 0, bar_h = 0;  // colour bar: score 1 at top, 0 at bottom
};

// Lays panels out in rows of `columns` (0: all in one row up to 3, then wrap). Throws Error
// when there are no panels, a panel has no cells, a score is not finite or columns < 0.
HeatmapLayout heatmap_layout(std::span<const HeatmapPanel> panels, int columns = 0);

std::string heatmap_svg(std::span<const HeatmapPanel> panels, int columns = 0);

// The colormap: red #F0496E (0) -> yellow #EBB839 (0.5) -> green #0CD79F (1), linear in RGB,
// score clamped to [0, 1], channels rounded to nearest.
std::array<uint8_t, 3> heatmap_color(double score);

// The dashed line at train_x: two pixels wide, dashes of kHeatmapDashOn pixels every
// kHeatmapDashPeriod, starting at the grid top.
inline constexpr int kHeatmapDashOn = 6;
inline constexpr int kHeatmapDashPeriod = 10;

}  // namespace longctx
