// Unicode character classes used by tokenizer pre-tokenizers: letters (\p{L}), numbers
// (\p{N}) and white space (\s, the White_Space property), as regular-expression engines define
// them. ASCII is answered from a table; other code points from ICU's character database.
//
//   CharClass k = char_class(U'é');   // CharClass::kLetter
#pragma once

#include <cstdint>

namespace longctx {

enum class CharClass : uint8_t {
  kLetter,      // general category L (Lu, Ll, Lt, Lm, Lo)
  kNumber,      // general category N (Nd, Nl, No)
  kWhitespace,  // White_Space property
  kOther,
};

// Classes of the 128 ASCII code points.
extern const CharClass kAsciiClass[128];

// Any code point outside ASCII, answered by ICU.
CharClass char_class_slow(char32_t c);

inline CharClass char_class(char32_t c) {
  return c < 128 ? kAsciiClass[c] : char_class_slow(c);
}

}  // namespace longctx
