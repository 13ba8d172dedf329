#include "longctx/tokenizer/pretokenizer.h"

#include "longctx/tokenizer/unicode_class.h"
#include "longctx/tokenizer/utf8.h"

namespace longctx {

namespace {

constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A decoded code point: its value, class and the byte offset just past it.
struct Cp {
  char32_t c = 0;
  CharClass cls = CharClass::kOther;
  size_t next = 0;
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  size_t size() const { return text_.size(); }

  Cp at(size_t pos) const {
    Cp cp;
    unsigned char b = static_cast<unsigned char>(text_[pos]);
    if (b < 0x80) {
      cp.c = b;
      cp.next = pos + 1;
    } else {
      cp.next = pos;
      cp.c = decode_utf8(text_, cp.next);
    }
    cp.cls = char_class(cp.c);
    return cp;
  }
  // End of the run of code points of class `cls` starting at `pos`.
  size_t skip(size_t pos, CharClass cls) const {
    while (pos < text_.size()) {
      Cp cp = at(pos);
      if (cp.cls != cls) break;
      pos = cp.next;
    }
    return pos;
  }
  // End of the run of '\r' / '\n' starting at `pos`.
  size_t skip_newlines(size_t pos) const {
    while (pos < text_.size() && (text_[pos] == '\r' || text_[pos] == '\n')) ++pos;
    return pos;
  }
  char byte(size_t pos) const { return text_[pos]; }

 private:
  std::string_view text_;
};

bool is_newline(char32_t c) {
  return c == '\r' || c == '\n';
}

// Case-insensitive ASCII letter test; 's' also matches U+017F LATIN SMALL LETTER LONG S,
// which case-folds to 's' in Unicode regular expressions.
bool letter_is(char32_t c, char lower, bool ignore_case) {
  if (c == static_cast<char32_t>(lower)) return true;
  if (!ignore_case) return false;
  if (c == static_cast<char32_t>(lower - 'a' + 'A')) return true;
  return lower == 's' && c == 0x017F;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at `pos` (which holds '\''); returns the end or 0.
size_t match_contraction(const Scanner& s, size_t pos, bool ignore_case) {
  size_t p1 = pos + 1;
  if (p1 >= s.size()) return 0;
  Cp c1 = s.at(p1);
  for (char single : {'s', 't', 'm', 'd'}) {
    if (letter_is(c1.c, single, ignore_case)) return c1.next;
  }
  if (c1.next >= s.size()) return 0;
  Cp c2 = s.at(c1.next);
  static constexpr char kPairs[][2] = {{'r', 'e'}, {'v', 'e'}, {'l', 'l'}};
  for (const auto& pair : kPairs) {
    if (letter_is(c1.c, pair[0], ignore_case) && letter_is(c2.c, pair[1], ignore_case)) {
      return c2.next;
    }
  }
  return 0;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ at `pos`, which holds white space.
size_t match_whitespace(const Scanner& s, size_t pos, bool newline_alternative) {
  size_t end = pos, last_newline_end = 0, last_start = pos;
  while (end < s.size()) {
    Cp cp = s.at(end);
    if (cp.cls != CharClass::kWhitespace) break;
    if (is_newline(cp.c)) last_newline_end = cp.next;
    last_start = end;
    end = cp.next;
  }
  if (newline_alternative && last_newline_end != 0) return last_newline_end;  // \s*[\r\n]+
  if (end == s.size()) return end;          // \s+(?!\S) at the end of the text
  if (last_start > pos) return last_start;  // \s+(?!\S): all but the last
  return end;                               // \s+
}

// One piece of the Llama-3 / Qwen2 pattern at `pos`; returns its end.
size_t match_llama3(const Scanner& s, size_t pos, size_t max_digits) {
  if (s.byte(pos) == '\'') {
    if (size_t end = match_contraction(s, pos, /*ignore_case=*/true)) return end;
  }
  Cp c0 = s.at(pos);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls == CharClass::kLetter) return s.skip(c0.next, CharClass::kLetter);
  if (c0.cls != CharClass::kNumber && !is_newline(c0.c) && c0.next < s.size()) {
    Cp c1 = s.at(c0.next);
    if (c1.cls == CharClass::kLetter) return s.skip(c1.next, CharClass::kLetter);
  }
  // \p{N}{1,max_digits}
  if (c0.cls == CharClass::kNumber) {
    size_t end = c0.next;
    for (size_t n = 1; n < max_digits && end < s.size(); ++n) {
      Cp cp = s.at(end);
      if (cp.cls != CharClass::kNumber) break;
      end = cp.next;
    }
    return end;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  if (c0.c == ' ' && c0.next < s.size() && s.at(c0.next).cls == CharClass::kOther) {
    return s.skip_newlines(s.skip(c0.next, CharClass::kOther));
  }
  if (c0.cls == CharClass::kOther) return s.skip_newlines(s.skip(pos, CharClass::kOther));
  return match_whitespace(s, pos, /*newline_alternative=*/true);
}

// One piece of the GPT-2 pattern at `pos`.
size_t match_gpt2(const Scanner& s, size_t pos) {
  if (s.byte(pos) == '\'') {
    if (size_t end = match_contraction(s, pos, /*ignore_case=*/false)) return end;
  }
  Cp c0 = s.at(pos);
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional space, then a run of one class.
  size_t start = pos;
  Cp first = c0;
  if (c0.c == ' ' && c0.next < s.size()) {
    Cp c1 = s.at(c0.next);
    if (c1.cls != CharClass::kWhitespace) {
      start = c0.next;
      first = c1;
    }
  }
  if (first.cls != CharClass::kWhitespace) return s.skip(start, first.cls);
  return match_whitespace(s, pos, /*newline_alternative=*/false);
}

}  // namespace

std::optional<RegexPattern> find_regex_pattern(std::string_view regex) {
  if (regex == kLlama3Regex) return RegexPattern::kLlama3;
  if (regex == kQwen2Regex) return RegexPattern::kQwen2;
  if (regex == kGpt2Regex) return RegexPattern::kGpt2;
  return std::nullopt;
}

void split_pretokens(std::string_view text, RegexPattern pattern,
                     std::vector<std::string_view>& out) {
  split_pretokens(text, pattern, out, 0, /*max_pieces=*/text.size());  // a piece is >= 1 byte
}

size_t split_pretokens(std::string_view text, RegexPattern pattern,
                       std::vector<std::string_view>& out, size_t pos, size_t max_pieces) {
  Scanner s(text);
  for (size_t pieces = 0; pos < text.size() && pieces < max_pieces; ++pieces) {
    size_t end = 0;
    switch (pattern) {
      case RegexPattern::kLlama3:
        end = match_llama3(s, pos, 3);
        break;
      case RegexPattern::kQwen2:
        end = match_llama3(s, pos, 1);
        break;
      case RegexPattern::kGpt2:
        end = match_gpt2(s, pos);
        break;
    }
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pos;
}

}  // namespace longctx
