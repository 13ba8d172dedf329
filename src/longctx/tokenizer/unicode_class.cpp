#include "longctx/tokenizer/unicode_class.h"

#include <unicode/uchar.h>

namespace longctx {

namespace {

CharClass classify_with_icu(char32_t c) {
  auto code = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(code, UCHAR_WHITE_SPACE)) return CharClass::kWhitespace;
  switch (u_charType(code)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return CharClass::kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

}  // namespace

// Letters A-Z a-z; digits 0-9; white space \t \n \v \f \r and ' ' (U+0009-000D, U+0020).
const CharClass kAsciiClass[128] = {
#define O CharClass::kOther
#define W CharClass::kWhitespace
#define L CharClass::kLetter
#define N CharClass::kNumber
    O, O, O, O, O, O, O, O, O, W, W, W, W, W, O, O,  // 0x00
    O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,  // 0x10
    W, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,  // 0x20
    N, N, N, N, N, N, N, N, N, N, O, O, O, O, O, O,  // 0x30
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,  // 0x40
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,  // 0x50
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,  // 0x60
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,  // 0x70
#undef O
#undef W
#undef L
#undef N
};

CharClass char_class_slow(char32_t c) {
  return classify_with_icu(c);
}

}  // namespace longctx
