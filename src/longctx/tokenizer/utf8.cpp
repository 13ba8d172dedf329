#include "longctx/tokenizer/utf8.h"

#include <simdjson.h>

namespace longctx {

char32_t decode_utf8(std::string_view text, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  // Lead byte: number of continuation bytes and the valid range of the first one
  // (Unicode Table 3-7, well-formed UTF-8 byte sequences).
  int length = 0;
  unsigned char low = 0x80, high = 0xBF;
  char32_t c = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 1;
    c = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 2;
    c = b0 & 0x0F;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 3;
    c = b0 & 0x07;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    ++pos;  // 0x80-0xC1, 0xF5-0xFF: never a lead byte
    return kReplacementCharacter;
  }
  size_t i = pos + 1;
  for (int k = 0; k < length; ++k, ++i) {
    if (i >= text.size()) {
      pos = i;  // a truncated sequence at the end: one replacement for the maximal subpart
      return kReplacementCharacter;
    }
    unsigned char b = byte(i);
    if (b < low || b > high) {
      pos = i;  // the maximal subpart ends before this byte, which starts afresh
      return kReplacementCharacter;
    }
    low = 0x80;
    high = 0xBF;
    c = (c << 6) | (b & 0x3F);
  }
  pos = i;
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_valid_utf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

std::string repair_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    char32_t c = decode_utf8(text, pos);
    if (c == kReplacementCharacter &&
        !(pos - start == 3 && text.substr(start, 3) == "\xEF\xBF\xBD")) {
      append_utf8(out, kReplacementCharacter);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

}  // namespace longctx
