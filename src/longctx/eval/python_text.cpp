#include "longctx/eval/python_text.h"

#include <unicode/uchar.h>

#include "longctx/base/text.h"
#include "longctx/tokenizer/unicode_class.h"
#include "longctx/tokenizer/utf8.h"

namespace longctx {

bool is_python_space(char32_t c) {
  return c < 128 ? is_ascii_space(static_cast<char>(c)) : char_class(c) == CharClass::kWhitespace;
}

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t c = decode_utf8(text, i);
    if (c < 128) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    } else {
      append_utf8(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
    }
  }
  return out;
}

std::vector<std::string> python_split(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    if (is_python_space(decode_utf8(text, i))) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.append(text.substr(start, i - start));
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string_view python_strip(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end) {
    size_t next = begin;
    if (!is_python_space(decode_utf8(text, next))) break;
    begin = next;
  }
  // Backwards: find the start of the last code point (UTF-8 continuation bytes are 10xxxxxx).
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t probe = start;
    if (!is_python_space(decode_utf8(text, probe)) || probe != end) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

}  // namespace longctx
