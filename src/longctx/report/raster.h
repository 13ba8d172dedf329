// SVG to PNG through librsvg (Debian's librsvg2, the renderer behind rsvg-convert), so that a
// PNG copy of a figure keeps everything its SVG has: titles, axes, ticks, the colour bar. Our
// SVGs use only basic elements and the generic sans-serif family (svg.h), which librsvg and
// browsers resolve through the same fontconfig, so the PNG looks like the page's inline SVG.
//
//   write_file_atomic("heatmap.png", svg_to_png(heatmap_svg(panels), /*scale=*/2));
#pragma once

#include <string>
#include <string_view>

namespace longctx {

// The scale of every figure's PNG copy (needle heatmaps, the report's figures): twice the SVG's
// size, sharp enough to print.
inline constexpr double kFigurePngScale = 2;

// The PNG bytes (8-bit RGB, on white) of `svg` drawn at `scale` times its width and height
// attributes (pixels), each rounded up. Throws Error when librsvg cannot parse the document,
// it has no size in pixels, or the image would exceed 16384 pixels on a side; scale must lie
// in (0, 8].
// Throws Error too in a build without librsvg (png_rasterisation_available() is false there).
std::string svg_to_png(std::string_view svg, double scale = 1);

// Whether this build has librsvg. Without it (a GPU node without the library, say) figures are
// written as SVG only, and the commands that write PNG copies say so.
bool png_rasterisation_available();

}  // namespace longctx
