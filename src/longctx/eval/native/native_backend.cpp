#include "longctx/eval/native/native_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "longctx/base/error.h"
#include "longctx/model/generation.h"

namespace longctx {
namespace {

// A position of a row whose log-softmax scores tokens: each (token, request, continuation).
struct Scored {
  int64_t position = 0;  // in the row's ids
  struct Target {
    int32_t token;
    size_t request, continuation;
  };
  std::vector<Target> targets;
};

// The ids after the shared prefix that one forward row runs, and what it scores.
struct Row {
  size_t request = 0;
  std::vector<int32_t> ids;
  std::vector<Scored> scored;
};

size_t common_prefix(std::span<const LoglikelihoodRequest> requests) {
  size_t n = requests[0].context.size() - 1;
  for (const LoglikelihoodRequest& r : requests) {
    n = std::min(n, r.context.size() - 1);
    size_t i = 0;
    while (i < n && r.context[i] == requests[0].context[i]) ++i;
    n = i;
  }
  return n;
}

std::vector<Row> rows_of(std::span<const LoglikelihoodRequest> requests, size_t prefix) {
  std::vector<Row> rows;
  for (size_t q = 0; q < requests.size(); ++q) {
    const LoglikelihoodRequest& r = requests[q];
    std::vector<int32_t> context(r.context.begin() + static_cast<std::ptrdiff_t>(prefix),
                                 r.context.end());
    auto last = static_cast<int64_t>(context.size()) - 1;  // predicts each continuation's first
    bool single = std::all_of(r.continuations.begin(), r.continuations.end(),
                              [](const auto& c) { return c.size() == 1; });
    if (single) {
      Row row{q, context, {{last, {}}}};
      for (size_t c = 0; c < r.continuations.size(); ++c)
        row.scored[0].targets.push_back({r.continuations[c][0], q, c});
      rows.push_back(std::move(row));
      continue;
    }
    for (size_t c = 0; c < r.continuations.size(); ++c) {
      const std::vector<int32_t>& cont = r.continuations[c];
      Row row{q, context, {}};
      row.ids.insert(row.ids.end(), cont.begin(), cont.end() - 1);
      for (size_t k = 0; k < cont.size(); ++k)
        row.scored.push_back({last + static_cast<int64_t>(k), {{cont[k], q, c}}});
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

torch::Tensor ids_tensor(const std::vector<int64_t>& ids, int64_t b, int64_t t,
                         torch::Device device) {
  return torch::tensor(ids, torch::kLong).view({b, t}).to(device);
}

}  // namespace

NativeLoglikelihood::NativeLoglikelihood(LlamaForCausalLM model, NativeLoglikelihoodOptions options)
    : model_(std::move(model)),
      options_(options),
      device_(model_->lm_head->weight.device()),
      dtype_(model_->lm_head->weight.scalar_type()) {
  if (options_.batch_rows < 1)
    throw Error(fmt::format("--batch must be at least 1, got {}", options_.batch_rows));
  const RopeParameters& rope = model_->config().rope;
  fixed_rope_ = rope.type != RopeType::kDynamic || rope.frozen_length_tokens.has_value();
}

void NativeLoglikelihood::score(std::span<const LoglikelihoodRequest> requests,
                                const LoglikelihoodDone& done) {
  if (requests.empty()) return;
  torch::NoGradGuard no_grad;
  const int64_t vocab = model_->config().vocab_size;
  for (const LoglikelihoodRequest& r : requests) {
    if (r.context.empty() || r.continuations.empty())
      throw Error("a log-likelihood request needs a context and at least one continuation");
    auto check = [&](const std::vector<int32_t>& ids) {
      for (int32_t id : ids)
        if (id < 0 || id >= vocab)
          throw Error(
              fmt::format("token id {} is outside the model's vocabulary of {}", id, vocab));
    };
    check(r.context);
    for (const auto& c : r.continuations) {
      if (c.empty()) throw Error("a continuation has no token");
      check(c);
    }
    requested_tokens_ += static_cast<int64_t>(r.context.size());
    for (const auto& c : r.continuations) requested_tokens_ += static_cast<int64_t>(c.size()) - 1;
  }

  // 1. The shared prefix, once per cache row.
  auto prefix = static_cast<int64_t>(fixed_rope_ ? common_prefix(requests) : 0);
  std::vector<Row> rows = rows_of(requests, static_cast<size_t>(prefix));
  const int64_t batch =
      fixed_rope_ ? std::min<int64_t>(options_.batch_rows, static_cast<int64_t>(rows.size())) : 1;
  size_t longest = 0;
  for (const Row& row : rows) longest = std::max(longest, row.ids.size());
  KvCache cache(model_->config(), batch, prefix + static_cast<int64_t>(longest), device_, dtype_);
  int64_t chunk = options_.chunk_tokens > 0
                      ? options_.chunk_tokens
                      : default_prefill_chunk(model_->config(), device_, dtype_,
                                              batch * (prefix + static_cast<int64_t>(longest)));
  if (prefix > 0) {
    const std::vector<int32_t>& first = requests[0].context;
    std::vector<int64_t> ids;
    for (int64_t b = 0; b < batch; ++b)
      ids.insert(ids.end(), first.begin(), first.begin() + prefix);
    torch::Tensor prefix_ids = ids_tensor(ids, batch, prefix, device_);  // [B, prefix]
    for (auto [start, end] : prefill_chunks(0, prefix, chunk))
      model_->prefill(prefix_ids.slice(1, start, end), start, cache, /*keep=*/0);
    computed_tokens_ += batch * prefix;
  }

  // 2-3. B rows at a time from the end of the prefix.
  std::vector<LoglikelihoodResult> results(requests.size());
  for (size_t q = 0; q < requests.size(); ++q)
    results[q].loglikelihoods.assign(requests[q].continuations.size(), 0.0);
  std::vector<size_t> rows_left(requests.size(), 0);
  for (const Row& row : rows) ++rows_left[row.request];
  for (size_t first = 0; first < rows.size(); first += static_cast<size_t>(batch)) {
    size_t count = std::min(rows.size() - first, static_cast<size_t>(batch));
    size_t length = 0;
    for (size_t i = 0; i < count; ++i) length = std::max(length, rows[first + i].ids.size());
    auto t = static_cast<int64_t>(length);
    std::vector<int64_t> ids(static_cast<size_t>(batch * t), 0);  // padding: id 0
    for (int64_t b = 0; b < batch; ++b) {
      const Row& row = rows[first + std::min(static_cast<size_t>(b), count - 1)];
      std::copy(row.ids.begin(), row.ids.end(), ids.begin() + b * t);
    }
    torch::Tensor row_ids = ids_tensor(ids, batch, t, device_);  // [B, t]
    computed_tokens_ += static_cast<int64_t>(count) * t;
    for (auto [start, end] : prefill_chunks(prefix, prefix + t, chunk)) {
      torch::Tensor hidden =
          model_->forward_hidden(row_ids.slice(1, start - prefix, end - prefix), start, &cache);
      // The scored positions inside this chunk, gathered: [M, d] -> log-softmax [M, V].
      std::vector<int64_t> b_index, p_index;
      std::vector<const Scored*> which;
      for (size_t i = 0; i < count; ++i) {
        for (const Scored& s : rows[first + i].scored) {
          if (prefix + s.position < start || prefix + s.position >= end) continue;
          b_index.push_back(static_cast<int64_t>(i));
          p_index.push_back(prefix + s.position - start);
          which.push_back(&s);
        }
      }
      if (which.empty()) continue;
      torch::Tensor picked = hidden.index(
          {torch::tensor(b_index).to(device_), torch::tensor(p_index).to(device_)});  // [M, d]
      torch::Tensor lp = torch::log_softmax(model_->logits(picked.unsqueeze(0)).to(torch::kFloat),
                                            -1)
                             .squeeze(0)
                             .to(torch::kCPU);  // [M, V]
      auto lp_rows = lp.accessor<float, 2>();
      for (size_t m = 0; m < which.size(); ++m)
        for (const Scored::Target& target : which[m]->targets)
          results[target.request].loglikelihoods[target.continuation] +=
              lp_rows[static_cast<int64_t>(m)][target.token];
    }
    for (size_t i = 0; i < count; ++i) {
      size_t q = rows[first + i].request;
      if (--rows_left[q] == 0) done(q, results[q]);
    }
  }
}

NativeAnswers::NativeAnswers(LlamaForCausalLM model, const Tokenizer& tokenizer,
                             NativeAnswersOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {}

void NativeAnswers::answer(std::span<const AnswerRequest> requests, const AnswerDone& done) {
  if (requests.empty()) return;
  torch::Device device = model_->lm_head->weight.device();
  torch::ScalarType dtype = model_->lm_head->weight.scalar_type();
  int64_t longest = 0;
  for (const AnswerRequest& r : requests)
    longest = std::max(longest, static_cast<int64_t>(r.prompt_ids.size()) + r.max_new_tokens);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].prompt_ids < requests[b].prompt_ids;
  });
  Generator generator(model_, longest, device, dtype);
  for (size_t i : order) {
    GenerationResult g = generator.generate(
        requests[i].prompt_ids,
        {.max_new_tokens = requests[i].max_new_tokens, .chunk_tokens = options_.chunk_tokens});
    Answer a;
    a.text = tokenizer_.decode(g.generated);
    a.prompt_tokens = g.prompt_tokens;
    a.reused_tokens = g.reused_tokens;
    a.seconds = g.total_seconds;
    done(i, a);
  }
}

}  // namespace longctx
