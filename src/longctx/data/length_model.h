// Length model: how many tokens a document has. Two modes, as in the recipe:
//   kEstimate  Unicode code points / 3.68, the reference code's rule (no tokenizer needed).
//              We keep floor(code_points / 3.68), computed exactly in integers, so that
//              "estimate >= 4096" agrees with the reference's float test for every document.
//   kTokens    exact, through a Tokenizer.
//
//   LengthModel lengths = LengthModel::estimate();
//   lengths.tokens("héllo") == 1   // 5 code points / 3.68 = 1.36 -> 1
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

enum class LengthMode { kEstimate, kTokens };

// Code points of valid UTF-8 text: bytes that are not continuation bytes (10xxxxxx).
uint64_t count_code_points(std::string_view utf8);

// floor(code_points / 3.68) = floor(code_points * 100 / 368), exact.
inline uint64_t estimate_tokens(uint64_t code_points) {
  return code_points * 100 / 368;
}

class LengthModel {
 public:
  static LengthModel estimate();
  static LengthModel tokens(std::shared_ptr<const Tokenizer> tokenizer);

  uint64_t tokens(std::string_view text) const;
  LengthMode mode() const { return mode_; }
  // "estimate (code points / 3.68)" or "tokens (sentencepiece:...)".
  std::string description() const;

 private:
  LengthMode mode_ = LengthMode::kEstimate;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace longctx
