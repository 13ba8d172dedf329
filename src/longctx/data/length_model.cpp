#include "longctx/data/length_model.h"

#include <fmt/format.h>

namespace longctx {

uint64_t count_code_points(std::string_view utf8) {
  // Written as a plain loop over bytes so that the compiler vectorises it.
  uint64_t count = 0;
  for (char c : utf8) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

LengthModel LengthModel::estimate() {
  return LengthModel{};
}

LengthModel LengthModel::tokens(std::shared_ptr<const Tokenizer> tokenizer) {
  LengthModel model;
  model.mode_ = LengthMode::kTokens;
  model.tokenizer_ = std::move(tokenizer);
  return model;
}

uint64_t LengthModel::tokens(std::string_view text) const {
  if (mode_ == LengthMode::kTokens) return tokenizer_->count(text);
  return estimate_tokens(count_code_points(text));
}

std::string LengthModel::description() const {
  if (mode_ == LengthMode::kTokens) return fmt::format("tokens ({})", tokenizer_->description());
  return "estimate (code points / 3.68)";
}

}  // namespace longctx
