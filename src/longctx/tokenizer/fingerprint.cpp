#include "longctx/tokenizer/fingerprint.h"

#include <fmt/format.h>

#include <cstdint>
#include <string_view>

namespace longctx {

std::string tokenizer_fingerprint(const Tokenizer& tokenizer) {
  // Prose, digits, whitespace runs, accents, CJK, Arabic, an emoji, code and special-token
  // look-alikes (plain text here): where tokenizers of one vocabulary size still differ.
  static constexpr std::string_view kProbe =
      "The quick brown fox jumps over the lazy dog. 1234567890 \t\n  Ünïcödé 中文 العربية "
      "🙂 "
      "def f(x):\n    return x ** 2  # comment\n</s> <s> <|endoftext|>";
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the ids and the vocabulary size
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (int32_t id : tokenizer.encode(kProbe)) mix(static_cast<uint32_t>(id));
  mix(tokenizer.vocab_size());
  mix(static_cast<uint32_t>(tokenizer.bos_id()));
  mix(static_cast<uint32_t>(tokenizer.eos_id()));
  return fmt::format("{:016x}", h);
}

}  // namespace longctx
