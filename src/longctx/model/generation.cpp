#include "longctx/model/generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "longctx/base/error.h"
#include "longctx/model/device.h"

namespace longctx {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Generator::Generator(LlamaForCausalLM model, int64_t max_tokens, torch::Device device,
                     torch::ScalarType dtype)
    : model_(std::move(model)),
      device_(device),
      cache_(model_->config(), 1, max_tokens, device, dtype) {}

GenerationResult Generator::generate(const std::vector<int32_t>& prompt,
                                     const GenerationOptions& options) {
  if (prompt.empty()) throw Error("the prompt is empty");
  auto t = static_cast<int64_t>(prompt.size());
  if (t + options.max_new_tokens > cache_.max_tokens()) {
    throw Error(fmt::format("{} prompt tokens + {} new tokens exceed the KV cache of {}", t,
                            options.max_new_tokens, cache_.max_tokens()));
  }
  torch::NoGradGuard no_grad;
  GenerationResult result;
  result.prompt_tokens = t;
  auto started = std::chrono::steady_clock::now();

  // Positions [0, reuse) keep the keys/values of the previous call's identical tokens; at
  // least the last prompt token runs again, for its hidden state.
  bool reusable = model_->config().rope.type != RopeType::kDynamic ||
                  model_->config().rope.frozen_length_tokens.has_value();
  int64_t reuse = 0;
  if (options.reuse_prefix && reusable) {
    auto limit = static_cast<int64_t>(std::min(cached_.size(), prompt.size() - 1));
    while (reuse < limit &&
           cached_[static_cast<size_t>(reuse)] == prompt[static_cast<size_t>(reuse)])
      ++reuse;
  }
  result.reused_tokens = reuse;
  cached_.assign(prompt.begin(), prompt.end());

  torch::Tensor ids = torch::tensor(std::vector<int64_t>(prompt.begin() + reuse, prompt.end()),
                                    torch::kLong)
                          .unsqueeze(0)
                          .to(device_);  // [1, T - reuse]
  torch::Tensor last;                    // [1, 1, d]: hidden state of the newest token
  for (int64_t start = reuse; start < t; start += options.chunk_tokens) {
    int64_t end = std::min(start + options.chunk_tokens, t);
    last = model_->forward_hidden(ids.slice(1, start - reuse, end - reuse), start, &cache_)
               .slice(1, -1);
  }
  synchronize(device_);
  result.prefill_seconds = seconds_since(started);

  const std::vector<int64_t>& stops = model_->config().eos_token_ids;
  result.stop_reason = "max_new_tokens";
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    auto next = model_->logits(last).argmax(-1).item<int64_t>();  // greedy
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) {
      result.stop_reason = "stop_token";
      break;
    }
    result.generated.push_back(static_cast<int32_t>(next));
    if (i + 1 == options.max_new_tokens) break;
    torch::Tensor step = torch::full({1, 1}, next, torch::dtype(torch::kLong).device(device_));
    last = model_->forward_hidden(step, t + i, &cache_);
    cached_.push_back(static_cast<int32_t>(next));
  }
  result.total_seconds = seconds_since(started);
  return result;
}

}  // namespace longctx
