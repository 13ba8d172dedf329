// UTF-8: decoding one code point at a time, and repairing invalid input. Tokenizers see only
// valid UTF-8: invalid bytes are replaced by U+FFFD following the Unicode "maximal subpart"
// practice (the one Python's bytes.decode("utf-8", "replace") and the WHATWG decoder use), so
// "a\xF0\x9F\x98b" becomes "a\uFFFDb" and "\xC0\xAF" becomes "\uFFFD\uFFFD".
//
//   size_t i = 0; char32_t c = decode_utf8(text, i);   // advances i; U+FFFD on a bad byte
//   std::string clean = repair_utf8(bytes);             // unchanged when already valid
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace longctx {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Decodes the code point at `pos` and advances `pos` past it. On an ill-formed sequence it
// returns U+FFFD and advances past the maximal subpart (at least one byte).
char32_t decode_utf8(std::string_view text, size_t& pos);

// Appends the UTF-8 encoding of `c` to `out`.
void append_utf8(std::string& out, char32_t c);

// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

// `text` with every ill-formed subsequence replaced by U+FFFD.
std::string repair_utf8(std::string_view text);

}  // namespace longctx
