// Test doubles shared by the evaluation tests (test code only, header-only): a tokenizer whose
// ids can be worked out by hand, so that expected prompts, splits and truncations are written
// in the tests rather than computed by the code under test.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx::test {

// One id per byte (byte + 3), BOS 1, EOS 2; with merge_space_capital, a space followed by an
// ASCII capital letter is one id (300 + letter), as "▁A" is one piece in LLaMA's vocabulary.
//   encode("Hi A") == {'H'+3, 'i'+3, 300+'A'}   (merging on)
class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(bool merge_space_capital = true) : merge_(merge_space_capital) {}
  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, SpecialTokens) const override {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < text.size(); ++i) {
      if (merge_ && text[i] == ' ' && i + 1 < text.size() && text[i + 1] >= 'A' &&
          text[i + 1] <= 'Z') {
        ids.push_back(300 + text[i + 1]);
        ++i;
        continue;
      }
      ids.push_back(static_cast<unsigned char>(text[i]) + 3);
    }
    return ids;
  }
  std::optional<int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id >= 300) {
        out += ' ';
        out += static_cast<char>(id - 300);
      } else if (id >= 3) {
        out += static_cast<char>(id - 3);
      }
    }
    return out;
  }
  int32_t bos_id() const override { return 1; }
  int32_t eos_id() const override { return 2; }
  size_t vocab_size() const override { return 400; }
  std::string description() const override { return "bytes"; }

 private:
  bool merge_;
};

// ids of `text` under ByteTokenizer(merge) with BOS first: what the tests expect by hand.
inline std::vector<int32_t> byte_ids(std::string_view text, bool merge = true) {
  std::vector<int32_t> ids = {1};
  std::vector<int32_t> body = ByteTokenizer(merge).encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

}  // namespace longctx::test
