#include "longctx/eval/loglikelihood.h"

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/base/text.h"

namespace longctx {
namespace {

// Bytes of white space at the end, as Python's str.rstrip() finds them (ASCII; Unicode white
// space at the end of a prompt does not occur in the harness's templates).
size_t trailing_space(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && is_ascii_space(text[text.size() - 1 - n])) ++n;
  return n;
}

std::vector<int32_t> with_bos(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<int32_t> ids;
  if (tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  std::vector<int32_t> body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

}  // namespace

LoglikelihoodRequest make_loglikelihood_request(const Tokenizer& tokenizer,
                                                std::string_view context,
                                                std::span<const std::string> continuations) {
  if (context.empty()) throw Error("a log-likelihood request needs a non-empty context");
  size_t spaces = trailing_space(context);
  std::string_view kept = context.substr(0, context.size() - spaces);
  std::string_view moved = context.substr(context.size() - spaces);
  LoglikelihoodRequest request;
  request.context = with_bos(tokenizer, kept);
  if (request.context.empty())
    throw Error("the context encodes to no token and the tokenizer has no BOS");
  for (const std::string& continuation : continuations) {
    std::vector<int32_t> whole =
        with_bos(tokenizer, std::string(kept) + std::string(moved) + continuation);
    if (whole.size() <= request.context.size())
      throw Error(fmt::format("the continuation '{}' adds no token to its context", continuation));
    request.continuations.emplace_back(
        whole.begin() + static_cast<std::ptrdiff_t>(request.context.size()), whole.end());
  }
  return request;
}

}  // namespace longctx
