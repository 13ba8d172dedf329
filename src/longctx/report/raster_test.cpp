#include "longctx/report/raster.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "longctx/report/svg.h"
#include "support/png_reader.h"

namespace longctx {
namespace {

using testing::Rgb;
using testing::RgbImage;

size_t dark_pixels(const RgbImage& image, int x0, int y0, int x1, int y1) {
  size_t n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      Rgb c = image.at(x, y);
      n += (c[0] < 100 && c[1] < 100 && c[2] < 100) ? 1 : 0;
    }
  return n;
}

TEST(SvgToPng, DrawsShapesAndKeepsText) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  Svg svg(200, 100);
  svg.rect(10, 10, 40, 30, "#0CD79F");
  svg.text(100, 60, "Token Limit", {.size = 14, .anchor = "start"});
  RgbImage image = testing::decode_png(svg_to_png(svg.str()));
  ASSERT_EQ(image.width, 200);
  ASSERT_EQ(image.height, 100);
  EXPECT_EQ(image.at(30, 25), (Rgb{0x0C, 0xD7, 0x9F}));  // inside the rect
  EXPECT_EQ(image.at(5, 5), (Rgb{255, 255, 255}));       // the white background
  // The text's glyphs: dark pixels in the box right of x = 100 above the baseline y = 60, none
  // left of the text's start below the rect.
  EXPECT_GT(dark_pixels(image, 100, 45, 200, 62), 40u);
  EXPECT_EQ(dark_pixels(image, 0, 45, 95, 100), 0u);
}

TEST(SvgToPng, ScaleMultipliesEverySide) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  Svg svg(120, 50);
  svg.rect(0, 0, 60, 50, "#F0496E");
  RgbImage image = testing::decode_png(svg_to_png(svg.str(), 2.5));
  EXPECT_EQ(image.width, 300);
  EXPECT_EQ(image.height, 125);
  EXPECT_EQ(image.at(100, 60), (Rgb{0xF0, 0x49, 0x6E}));  // left half, scaled
  EXPECT_EQ(image.at(200, 60), (Rgb{255, 255, 255}));
}

TEST(SvgToPng, RejectsWhatItCannotDraw) {
  if (!png_rasterisation_available()) GTEST_SKIP() << "this build has no librsvg";
  EXPECT_THROW(svg_to_png("not svg at all"), Error);
  EXPECT_THROW(svg_to_png("<svg xmlns=\"http://www.w3.org/2000/svg\"><rect"), Error);
  EXPECT_THROW(svg_to_png(Svg(10, 10).str(), 0), Error);
  EXPECT_THROW(svg_to_png(Svg(10, 10).str(), 9), Error);
  EXPECT_THROW(svg_to_png(Svg(20000, 10).str()), Error);  // over 16384 pixels wide
}

}  // namespace
}  // namespace longctx
