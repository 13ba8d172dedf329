#include "support/png_reader.h"

#include <zlib.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace longctx::testing {
namespace {

uint32_t be32(std::string_view bytes, size_t at) {
  if (at + 4 > bytes.size()) throw std::runtime_error("png: truncated file");
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

std::string inflate_all(const std::string& compressed) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw std::runtime_error("png: inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[65536];
  int status = Z_OK;
  while (status == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    status = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
    if (status == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  if (status != Z_STREAM_END) throw std::runtime_error("png: the IDAT stream is not valid zlib");
  return out;
}

int paeth(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

}  // namespace

Rgb RgbImage::at(int x, int y) const {
  if (x < 0 || y < 0 || x >= width || y >= height) {
    throw std::runtime_error("png: pixel (" + std::to_string(x) + ", " + std::to_string(y) +
                             ") outside the image");
  }
  const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
  return {p[0], p[1], p[2]};
}

RgbImage decode_png(std::string_view png) {
  static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (png.substr(0, 8) != kSignature) throw std::runtime_error("png: bad signature");
  uint32_t width = 0, height = 0;
  int depth = 0, color = -1, interlace = 0;
  std::vector<Rgb> palette;
  std::string idat;
  bool ended = false;
  for (size_t at = 8; at < png.size() && !ended;) {
    uint32_t length = be32(png, at);
    if (at + 12 + static_cast<size_t>(length) > png.size())
      throw std::runtime_error("png: chunk past the end of the file");
    std::string_view type = png.substr(at + 4, 4), data = png.substr(at + 8, length);
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), length + 4);
    if (crc != be32(png, at + 8 + length))
      throw std::runtime_error("png: CRC mismatch in chunk " + std::string(type));
    if (type == "IHDR") {
      if (length != 13) throw std::runtime_error("png: IHDR is not 13 bytes");
      width = be32(data, 0);
      height = be32(data, 4);
      depth = static_cast<uint8_t>(data[8]);
      color = static_cast<uint8_t>(data[9]);
      interlace = static_cast<uint8_t>(data[12]);
    } else if (type == "PLTE") {
      for (size_t i = 0; i + 2 < data.size(); i += 3)
        palette.push_back({static_cast<uint8_t>(data[i]), static_cast<uint8_t>(data[i + 1]),
                           static_cast<uint8_t>(data[i + 2])});
    } else if (type == "IDAT") {
      idat.append(data);
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + static_cast<size_t>(length);
  }
  if (color < 0) throw std::runtime_error("png: no IHDR chunk");
  if (depth != 8 || interlace != 0)
    throw std::runtime_error("png: only bit depth 8 without interlacing is supported");
  int channels = 0;
  switch (color) {
    case 0:
      channels = 1;
      break;
    case 2:
      channels = 3;
      break;
    case 3:
      channels = 1;
      break;
    case 4:
      channels = 2;
      break;
    case 6:
      channels = 4;
      break;
    default:
      throw std::runtime_error("png: unknown colour type " + std::to_string(color));
  }
  if (width == 0 || height == 0 || width > 65536 || height > 65536)
    throw std::runtime_error("png: image size out of range");
  const size_t stride = static_cast<size_t>(width) * channels;
  std::string raw = inflate_all(idat);
  if (raw.size() != (stride + 1) * height)
    throw std::runtime_error("png: the scanlines hold " + std::to_string(raw.size()) +
                             " bytes; expected " + std::to_string((stride + 1) * height));

  // Undo the filters in place: each byte is predicted from a (left), b (up), c (up-left).
  std::vector<uint8_t> pixels(stride * height);
  for (size_t y = 0; y < height; ++y) {
    int filter = static_cast<uint8_t>(raw[y * (stride + 1)]);
    const uint8_t* in = reinterpret_cast<const uint8_t*>(raw.data()) + y * (stride + 1) + 1;
    uint8_t* row = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= static_cast<size_t>(channels) ? row[i - channels] : 0;
      int b = up ? up[i] : 0;
      int c = up && i >= static_cast<size_t>(channels) ? up[i - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4:
          predicted = paeth(a, b, c);
          break;
        default:
          throw std::runtime_error("png: unknown filter " + std::to_string(filter));
      }
      row[i] = static_cast<uint8_t>(in[i] + predicted);
    }
  }

  RgbImage out{static_cast<int>(width), static_cast<int>(height), {}};
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t p = 0; p < static_cast<size_t>(width) * height; ++p) {
    const uint8_t* px = &pixels[p * channels];
    Rgb c{};
    if (color == 3) {
      if (px[0] >= palette.size()) throw std::runtime_error("png: palette index out of range");
      c = palette[px[0]];
    } else if (color == 0 || color == 4) {
      c = {px[0], px[0], px[0]};
    } else {
      c = {px[0], px[1], px[2]};
    }
    out.rgb[p * 3] = c[0], out.rgb[p * 3 + 1] = c[1], out.rgb[p * 3 + 2] = c[2];
  }
  return out;
}

}  // namespace longctx::testing
