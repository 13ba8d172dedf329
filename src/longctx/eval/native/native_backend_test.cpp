// Our model as a backend, against explicit computations on the CPU: each continuation's
// log-likelihood from one plain forward of (context + continuation)[:-1], as
// lm-evaluation-harness feeds it, and greedy answers from repeated plain forwards. Batching,
// the shared prefix, padding and the multi-token case must change nothing.
#include "longctx/eval/native/native_backend.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <random>

#include "longctx/base/error.h"
#include "support/eval_test_support.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"

namespace longctx {
namespace {

double explicit_loglikelihood(LlamaForCausalLM& model, const std::vector<int32_t>& context,
                              const std::vector<int32_t>& continuation) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids(context.begin(), context.end());
  ids.insert(ids.end(), continuation.begin(), continuation.end());
  ids.pop_back();
  torch::Tensor input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  torch::Tensor lp = torch::log_softmax(model->forward(input).to(torch::kFloat), -1)[0];
  double sum = 0;
  for (size_t k = 0; k < continuation.size(); ++k)
    sum += lp[static_cast<int64_t>(context.size() - 1 + k)][continuation[k]].item<double>();
  return sum;
}

// Six requests sharing a 30-id prefix, suffixes of 3-13 ids; continuations single ids for
// the even requests and 1-3 ids for the odd ones.
std::vector<LoglikelihoodRequest> requests() {
  std::mt19937 rng(11);
  auto id = [&] { return static_cast<int32_t>(3 + rng() % 250); };
  std::vector<int32_t> prefix = {1};
  for (int i = 0; i < 29; ++i) prefix.push_back(id());
  std::vector<LoglikelihoodRequest> out;
  for (int q = 0; q < 6; ++q) {
    LoglikelihoodRequest r;
    r.context = prefix;
    for (int i = 0; i < 3 + 2 * q; ++i) r.context.push_back(id());
    for (int c = 0; c < 4; ++c) {
      std::vector<int32_t> cont = {id()};
      if (q % 2 == 1)
        for (int k = 0; k < c % 3; ++k) cont.push_back(id());
      r.continuations.push_back(cont);
    }
    out.push_back(r);
  }
  return out;
}

void expect_explicit(LlamaForCausalLM& model, int64_t batch, int64_t chunk) {
  std::vector<LoglikelihoodRequest> rs = requests();
  NativeLoglikelihood backend(model, {.batch_rows = batch, .chunk_tokens = chunk});
  std::map<size_t, LoglikelihoodResult> results;
  backend.score(rs, [&](size_t i, const LoglikelihoodResult& r) {
    EXPECT_FALSE(results.count(i)) << "request " << i << " reported twice";
    results[i] = r;
  });
  ASSERT_EQ(results.size(), rs.size());
  for (size_t q = 0; q < rs.size(); ++q) {
    ASSERT_EQ(results[q].loglikelihoods.size(), 4u);
    for (size_t c = 0; c < 4; ++c)
      EXPECT_NEAR(results[q].loglikelihoods[c],
                  explicit_loglikelihood(model, rs[q].context, rs[q].continuations[c]), 5e-5)
          << "batch " << batch << " request " << q << " continuation " << c;
  }
}

TEST(NativeLoglikelihood, EqualsAnExplicitForwardForAnyBatchAndChunk) {
  LlamaForCausalLM model = init_model(model_preset("debug"), /*seed=*/4);
  expect_explicit(model, 1, 4096);
  expect_explicit(model, 3, 4096);
  expect_explicit(model, 8, 7);  // more rows than fit one batch, chunks of 7 positions
}

TEST(NativeLoglikelihood, ComputesTheSharedPrefixOncePerCacheRow) {
  LlamaForCausalLM model = init_model(model_preset("debug"), /*seed=*/4);
  std::vector<LoglikelihoodRequest> rs = requests();
  NativeLoglikelihood backend(model, {.batch_rows = 2, .chunk_tokens = 0});
  backend.score(rs, [](size_t, const LoglikelihoodResult&) {});
  // Rows: 3 single-id requests, and 4 rows for each of the 3 others: 15, in batches of 2 (the
  // last padded). Each batch runs as many positions as its longest row; the prefix (30 ids)
  // runs once in each of the 2 cache rows. So far fewer positions than 30 + suffix per request.
  EXPECT_GT(backend.requested_tokens(), 2 * backend.computed_tokens() / 3);
  EXPECT_LT(backend.computed_tokens(), backend.requested_tokens());
}

TEST(NativeLoglikelihood, DynamicNtkRowsRunAloneFromPositionZero) {
  ModelConfig config = model_preset("debug");
  config.max_position_embeddings = 16;  // the rows pass it, so the NTK base follows the length
  config.rope.max_position_embeddings = 16;
  config.rope.type = RopeType::kDynamic;
  config.rope.factor = 4.0;
  LlamaForCausalLM model = init_model(config, /*seed=*/5);
  expect_explicit(model, 4, 4096);
}

TEST(NativeLoglikelihood, IdsOutsideTheVocabularyAreAnError) {
  LlamaForCausalLM model = init_model(model_preset("debug"), /*seed=*/4);
  NativeLoglikelihood backend(model, {});
  std::vector<LoglikelihoodRequest> rs = {{{1, 2, 300}, {{5}}}};
  EXPECT_THROW(backend.score(rs, [](size_t, const LoglikelihoodResult&) {}), Error);
}

// Greedy by hand: the argmax of a plain forward of everything so far, until a stop id.
std::vector<int32_t> explicit_greedy(LlamaForCausalLM& model, std::vector<int32_t> ids, int n) {
  torch::NoGradGuard no_grad;
  std::vector<int32_t> out;
  const std::vector<int64_t>& stops = model->config().eos_token_ids;
  for (int i = 0; i < n; ++i) {
    torch::Tensor input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
    auto next = model->forward(input)[0][-1].argmax().item<int64_t>();
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) break;
    out.push_back(static_cast<int32_t>(next));
    ids.push_back(static_cast<int32_t>(next));
  }
  return out;
}

TEST(NativeAnswers, EqualExplicitGreedyDecodingAndReusePrefixes) {
  LlamaForCausalLM model = init_model(model_preset("debug"), /*seed=*/6);
  test::ByteTokenizer tokenizer(false);
  std::vector<AnswerRequest> requests = {
      {test::byte_ids("the same long book, question two"), "", 6},
      {test::byte_ids("another text"), "", 6},
      {test::byte_ids("the same long book, question one"), "", 6}};
  NativeAnswers backend(model, tokenizer, {.chunk_tokens = 8});
  std::map<size_t, Answer> answers;
  backend.answer(requests, [&](size_t i, const Answer& a) { answers[i] = a; });
  ASSERT_EQ(answers.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<int32_t> expected = explicit_greedy(model, requests[i].prompt_ids, 6);
    EXPECT_EQ(answers[i].text, tokenizer.decode(expected)) << i;
    EXPECT_EQ(answers[i].prompt_tokens, static_cast<int64_t>(requests[i].prompt_ids.size()));
  }
  // In id order, "...question two" follows "...question one" and reuses what they share.
  EXPECT_EQ(answers[0].reused_tokens,
            static_cast<int64_t>(std::string("the same long book, question t").size()));
}

}  // namespace
}  // namespace longctx
