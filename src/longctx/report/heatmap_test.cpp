#include "longctx/report/heatmap.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/report/raster.h"
#include "support/png_reader.h"

namespace longctx {
namespace {

using Rgb = std::array<uint8_t, 3>;

// 3 lengths x 2 depths; cell (length i, depth j) scores (i + 3j) / 5, so every cell differs.
// Results are given shuffled and (2000, 0) twice, to check sorting and averaging.
HeatmapPanel small_panel() {
  HeatmapPanel panel{.title = "Llama-2-7B-80K, acc 88.0", .cells = {}, .train_length = 3000};
  panel.cells = {
      {4000, 50, 1.0}, {1000, 0, 0.0},  {2000, 0, 0.1}, {4000, 0, 0.4},
      {1000, 50, 0.6}, {2000, 50, 0.8}, {2000, 0, 0.3},  // (2000, 0): mean 0.2
  };
  return panel;
}

using testing::RgbImage;

// The heatmap as librsvg draws its SVG, decoded by the tests' own PNG reader.
RgbImage raster(std::span<const HeatmapPanel> panels, double scale = 1) {
  return testing::decode_png(svg_to_png(heatmap_svg(panels), scale));
}

// Whether any pixel of the box [x0, x1) x [y0, y1) is dark (text is drawn in #222222).
bool has_dark_pixels(const RgbImage& image, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      Rgb c = image.at(x, y);
      if (c[0] < 128 && c[1] < 128 && c[2] < 128) return true;
    }
  return false;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// The y attribute of the rect whose title is `title`.
double rect_y(const std::string& svg, const std::string& title) {
  size_t end = svg.find("<title>" + title + "</title>");
  if (end == std::string::npos) return NAN;
  size_t start = svg.rfind("<rect ", end);
  size_t y = svg.find(" y=\"", start);
  return std::stod(svg.substr(y + 4));
}

TEST(HeatmapColor, StopsAndMidpoints) {
  EXPECT_EQ(heatmap_color(0.0), (Rgb{0xF0, 0x49, 0x6E}));
  EXPECT_EQ(heatmap_color(0.5), (Rgb{0xEB, 0xB8, 0x39}));
  EXPECT_EQ(heatmap_color(1.0), (Rgb{0x0C, 0xD7, 0x9F}));
  // Half way from red to yellow: (240+235)/2 = 237.5, (73+184)/2 = 128.5, (110+57)/2 = 83.5,
  // rounded half away from zero.
  EXPECT_EQ(heatmap_color(0.25), (Rgb{238, 129, 84}));
  // Half way from yellow to green: (235+12)/2 = 123.5, (184+215)/2 = 199.5, (57+159)/2 = 108.
  EXPECT_EQ(heatmap_color(0.75), (Rgb{124, 200, 108}));
  EXPECT_EQ(heatmap_color(-3.0), heatmap_color(0.0));  // clamped
  EXPECT_EQ(heatmap_color(7.0), heatmap_color(1.0));
  EXPECT_EQ(heatmap_color(NAN), heatmap_color(0.0));
}

TEST(HeatmapLayout, SortsLengthsAndDepthsAndAveragesRepeats) {
  HeatmapPanel panel = small_panel();
  HeatmapLayout layout = heatmap_layout({&panel, 1});
  ASSERT_EQ(layout.panels.size(), 1u);
  const HeatmapPanelLayout& p = layout.panels[0];
  EXPECT_EQ(p.lengths, (std::vector<int64_t>{1000, 2000, 4000}));
  EXPECT_EQ(p.depths, (std::vector<double>{0, 50}));
  ASSERT_EQ(p.scores.size(), 6u);
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(p.scores[j * 3 + i], (i + 3 * j) / 5.0);
  }
  // 400 / 3 = 133 pixels per column, 240 / 2 = 120 per row.
  EXPECT_EQ(p.cell_w, 133);
  EXPECT_EQ(p.cell_h, 120);
  // 3000 lies half way between the 2000 and 4000 columns: centre of column 1 plus half a cell.
  ASSERT_TRUE(p.train_x.has_value());
  EXPECT_DOUBLE_EQ(*p.train_x, 1.5 * 133 + 0.5 * 133);
}

TEST(HeatmapSvg, OneRectPerCellWithFillAndTitle) {
  HeatmapPanel panel = small_panel();
  std::string svg = heatmap_svg({&panel, 1});
  EXPECT_EQ(count(svg, "<title>"), 6u);
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 3; ++i) {
      double score = (i + 3 * j) / 5.0;
      Rgb c = heatmap_color(score);
      std::string title = fmt::format("length {}, depth {}%: score {:.3f}",
                                      std::array{1000, 2000, 4000}[i], j * 50, score);
      std::string rect =
          fmt::format("fill=\"#{:02X}{:02X}{:02X}\"><title>{}</title>", c[0], c[1], c[2], title);
      EXPECT_NE(svg.find(rect), std::string::npos) << rect;
    }
  }
  EXPECT_NE(svg.find("length 2000, depth 0%: score 0.200"), std::string::npos);  // the mean
  EXPECT_NE(svg.find(">Llama-2-7B-80K, acc 88.0</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Token Limit</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Depth Percent</text>"), std::string::npos);
  EXPECT_NE(svg.find(">1K</text>"), std::string::npos);
  EXPECT_NE(svg.find(">4K</text>"), std::string::npos);
}

TEST(HeatmapSvg, DepthZeroIsTheTopRow) {
  HeatmapPanel panel = small_panel();
  std::string svg = heatmap_svg({&panel, 1});
  double top = rect_y(svg, "length 1000, depth 0%: score 0.000");
  double bottom = rect_y(svg, "length 1000, depth 50%: score 0.600");
  EXPECT_EQ(top, 32);  // the grid starts below the title margin
  EXPECT_EQ(bottom, 32 + 120);
}

TEST(HeatmapSvg, TrainLinePresentOnlyInsideTheRange) {
  HeatmapPanel panel = small_panel();
  std::string with_line = heatmap_svg({&panel, 1});
  // Grid at x = 64; the line at 64 + 266 = 330, from the grid top (32) to its bottom (272).
  EXPECT_NE(with_line.find("<line x1=\"330.00\" y1=\"32.00\" x2=\"330.00\" y2=\"272.00\" "
                           "stroke=\"#ffffff\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>"),
            std::string::npos)
      << with_line;
  panel.train_length.reset();
  EXPECT_EQ(heatmap_svg({&panel, 1}).find("<line"), std::string::npos);
  panel.train_length = 128000;  // beyond the longest length
  EXPECT_EQ(heatmap_svg({&panel, 1}).find("<line"), std::string::npos);
  panel.train_length = 500;  // before the shortest
  EXPECT_EQ(heatmap_svg({&panel, 1}).find("<line"), std::string::npos);
  panel.train_length = 4000;  // on the last column: its centre
  EXPECT_NE(heatmap_svg({&panel, 1}).find("<line x1=\"396.50\""), std::string::npos);
}

TEST(HeatmapRaster, CellsAreSolidHeatmapColors) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  HeatmapPanel panel = small_panel();
  panel.train_length.reset();  // the dashed line is checked below
  HeatmapLayout layout = heatmap_layout({&panel, 1});
  RgbImage image = raster({&panel, 1});
  // One panel of 64 + 3*133 + 16 wide plus the colour bar (16 + 16 + 40); 32 + 240 + 48 high.
  EXPECT_EQ(image.width, 64 + 399 + 16 + 72);
  EXPECT_EQ(image.height, 32 + 240 + 48);
  ASSERT_EQ(image.width, layout.width);
  ASSERT_EQ(image.height, layout.height);
  const HeatmapPanelLayout& p = layout.panels[0];
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 3; ++i) {
      Rgb want = heatmap_color((i + 3 * j) / 5.0);
      int x0 = p.grid_x + i * p.cell_w, y0 = p.grid_y + j * p.cell_h;
      EXPECT_EQ(image.at(x0 + p.cell_w / 2, y0 + p.cell_h / 2), want) << i << "," << j;
      EXPECT_EQ(image.at(x0, y0), want);  // corners too: solid blocks
      EXPECT_EQ(image.at(x0 + p.cell_w - 1, y0 + p.cell_h - 1), want);
    }
  }
  EXPECT_EQ(image.at(p.grid_x - 1, p.grid_y), (Rgb{255, 255, 255}));  // background outside
}

TEST(HeatmapRaster, KeepsTitleTicksAndColourBar) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  HeatmapPanel panel = small_panel();
  HeatmapLayout layout = heatmap_layout({&panel, 1});
  RgbImage image = raster({&panel, 1});
  const HeatmapPanelLayout& p = layout.panels[0];
  // The title sits in the 32 pixels above the grid, the length ticks and "Token Limit" below
  // it, the depth ticks and "Depth Percent" to its left: text pixels in each band, none in
  // the blank strip between the grid's right edge and the colour bar.
  EXPECT_TRUE(has_dark_pixels(image, p.grid_x, 0, p.grid_x + p.grid_width(), p.grid_y));
  EXPECT_TRUE(has_dark_pixels(image, p.grid_x, p.grid_y + p.grid_height(),
                              p.grid_x + p.grid_width(), layout.height));
  EXPECT_TRUE(has_dark_pixels(image, 0, p.grid_y, p.grid_x, p.grid_y + p.grid_height()));
  EXPECT_FALSE(has_dark_pixels(image, p.grid_x + p.grid_width() + 2, p.grid_y, layout.bar_x - 2,
                               p.grid_y + p.grid_height()));
  // The colour bar: green at its top, red at its bottom, its labels to the right.
  EXPECT_EQ(image.at(layout.bar_x + layout.bar_w / 2, layout.bar_y + 1), heatmap_color(0.99));
  EXPECT_EQ(image.at(layout.bar_x + layout.bar_w / 2, layout.bar_y + layout.bar_h - 2),
            heatmap_color(0.01));
  EXPECT_TRUE(has_dark_pixels(image, layout.bar_x + layout.bar_w, layout.bar_y - 4, layout.width,
                              layout.bar_y + layout.bar_h + 4));
}

TEST(HeatmapRaster, ScaleTwoDoublesEverySide) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  HeatmapPanel panel = small_panel();
  HeatmapLayout layout = heatmap_layout({&panel, 1});
  RgbImage image = raster({&panel, 1}, 2);
  EXPECT_EQ(image.width, 2 * layout.width);
  EXPECT_EQ(image.height, 2 * layout.height);
  const HeatmapPanelLayout& p = layout.panels[0];
  // Cell (length 4000, depth 50) scores 1.0: its centre, in doubled coordinates.
  EXPECT_EQ(
      image.at(2 * (p.grid_x + 2 * p.cell_w + p.cell_w / 2), 2 * (p.grid_y + p.cell_h * 3 / 2)),
      heatmap_color(1.0));
}

TEST(HeatmapRaster, DashedTrainLineIsWhite) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  HeatmapPanel panel = small_panel();
  HeatmapLayout layout = heatmap_layout({&panel, 1});
  RgbImage image = raster({&panel, 1});
  const HeatmapPanelLayout& p = layout.panels[0];
  const int x = p.grid_x + 266;  // pixels 329 and 330 form the line
  const Rgb white{255, 255, 255};
  for (int y = p.grid_y; y < p.grid_y + p.grid_height(); ++y) {
    bool on = (y - p.grid_y) % kHeatmapDashPeriod < kHeatmapDashOn;
    int row = (y - p.grid_y) / p.cell_h;
    // Pixel x - 1 lies in column 1, pixel x in column 2.
    Rgb under_left = heatmap_color((1 + 3 * row) / 5.0);
    Rgb under_right = heatmap_color((2 + 3 * row) / 5.0);
    EXPECT_EQ(image.at(x - 1, y), on ? white : under_left) << y;
    EXPECT_EQ(image.at(x, y), on ? white : under_right) << y;
  }
  EXPECT_EQ(image.at(x + 1, p.grid_y), heatmap_color(0.4));  // only two pixels wide

  panel.train_length.reset();
  RgbImage plain = raster({&panel, 1});
  EXPECT_EQ(plain.at(x - 1, p.grid_y), heatmap_color(0.2));
  EXPECT_EQ(plain.at(x, p.grid_y), heatmap_color(0.4));
}

TEST(HeatmapMultiPanel, TwoPanelsSideBySide) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  HeatmapPanel a = small_panel();
  HeatmapPanel b{.title = "LongChat-v1.5-7B-32K, acc 18.0",
                 .cells = {{1000, 0, 1.0}, {8000, 0, 0.5}, {1000, 100, 0.25}, {8000, 100, 0.0}},
                 .train_length = std::nullopt};
  std::vector<HeatmapPanel> panels = {a, b};
  HeatmapLayout layout = heatmap_layout(panels);
  ASSERT_EQ(layout.panels.size(), 2u);
  // Slots are as wide as the widest panel: b's 2 columns of 200 give 64 + 400 + 16 = 480.
  EXPECT_EQ(layout.panels[0].grid_x, 64);
  EXPECT_EQ(layout.panels[1].grid_x, 480 + 64);
  EXPECT_EQ(layout.panels[1].grid_y, layout.panels[0].grid_y);
  EXPECT_EQ(layout.width, 2 * 480 + 72);

  std::string svg = heatmap_svg(panels);
  EXPECT_EQ(count(svg, "<title>"), 6u + 4u);
  EXPECT_NE(svg.find(">LongChat-v1.5-7B-32K, acc 18.0</text>"), std::string::npos);
  EXPECT_NE(svg.find("length 8000, depth 100%: score 0.000"), std::string::npos);
  EXPECT_EQ(count(svg, "<line"), 1u);  // only panel a has a training length

  RgbImage image = raster(panels);
  EXPECT_EQ(image.width, layout.width);
  EXPECT_EQ(image.height, layout.height);
  const HeatmapPanelLayout& p = layout.panels[1];
  const std::array<double, 4> scores = {1.0, 0.5, 0.25, 0.0};  // row-major, depth 0 first
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 2; ++i) {
      int cx = p.grid_x + i * p.cell_w + p.cell_w / 2, cy = p.grid_y + j * p.cell_h + p.cell_h / 2;
      EXPECT_EQ(image.at(cx, cy), heatmap_color(scores[j * 2 + i])) << i << "," << j;
    }
  }
  // Explicit columns: one per row stacks them.
  HeatmapLayout stacked = heatmap_layout(panels, 1);
  EXPECT_EQ(stacked.panels[1].grid_x, stacked.panels[0].grid_x);
  EXPECT_GT(stacked.panels[1].grid_y, stacked.panels[0].grid_y + 240);
}

TEST(HeatmapErrors, RejectsEmptyInput) {
  EXPECT_THROW(heatmap_svg({}), Error);
  HeatmapPanel empty{.title = "empty", .cells = {}, .train_length = std::nullopt};
  EXPECT_THROW(heatmap_svg({&empty, 1}), Error);
  HeatmapPanel nan_score{.title = "nan", .cells = {{1000, 0, NAN}}, .train_length = std::nullopt};
  EXPECT_THROW(heatmap_svg({&nan_score, 1}), Error);
  HeatmapPanel ok = small_panel();
  EXPECT_THROW(heatmap_svg({&ok, 1}, -1), Error);
}

}  // namespace
}  // namespace longctx
