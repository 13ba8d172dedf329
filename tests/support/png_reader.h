// A small independent PNG decoder for tests, written from the PNG specification (W3C, 2nd
// edition) and nothing in longctx: it checks what librsvg (report/raster.h) and Chromium's
// screenshots write. It reads non-interlaced images of bit depth 8 in colour types 0 (grey),
// 2 (RGB), 3 (palette), 4 (grey + alpha) and 6 (RGBA), inflates the IDAT stream with zlib,
// undoes the five scanline filters and returns RGB (alpha is dropped, not composited). It
// throws std::runtime_error on anything else or on a malformed file.
//
//   RgbImage image = decode_png(read_file("heatmap.png"));
//   EXPECT_EQ(image.at(10, 20), (Rgb{0xF0, 0x49, 0x6E}));
//
// Layout: an 8-byte signature 89 50 4E 47 0D 0A 1A 0A, then chunks of (uint32 big-endian
// length, 4-byte type, data, CRC-32). IHDR first: width, height (uint32), bit depth, colour
// type, compression 0, filter 0, interlace (0 here). PLTE: RGB triples. IDAT: the zlib stream
// of the scanlines, each one filter byte (0 none, 1 sub, 2 up, 3 average, 4 Paeth) followed by
// width x channels bytes. IEND last.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace longctx::testing {

using Rgb = std::array<uint8_t, 3>;

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
  Rgb at(int x, int y) const;
};

RgbImage decode_png(std::string_view png);

}  // namespace longctx::testing
