// Greedy generation with prefix reuse (generation.h) on the debug model, CPU float32: reusing
// the previous call's keys and values gives exactly the tokens a fresh prefill gives.
#include "longctx/model/generation.h"

#include <gtest/gtest.h>

#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"

namespace longctx {
namespace {

std::vector<int32_t> counting(int n, int offset) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(3 + (i * 7 + offset) % 200);
  return ids;
}

TEST(Generation, PrefixReuseGivesTheSameTokensAsAFreshPrefill) {
  ModelConfig config = model_preset("debug");
  LlamaForCausalLM model = init_model(config, 5);
  model->eval();
  Generator reusing(model, 512, torch::kCPU, torch::kFloat);
  Generator fresh(model, 512, torch::kCPU, torch::kFloat);
  std::vector<int32_t> first = counting(150, 0);
  std::vector<int32_t> second = first;
  second.resize(100);  // shares 100 tokens with `first`, then differs
  for (int32_t id : counting(60, 1)) second.push_back(id);
  GenerationOptions options{.max_new_tokens = 12, .chunk_tokens = 32};

  GenerationResult a = reusing.generate(first, options);
  EXPECT_EQ(a.reused_tokens, 0);
  GenerationResult b = reusing.generate(second, options);
  EXPECT_EQ(b.reused_tokens, 100);
  GenerationResult b_fresh =
      fresh.generate(second, {.max_new_tokens = 12, .chunk_tokens = 32, .reuse_prefix = false});
  EXPECT_EQ(b_fresh.reused_tokens, 0);
  EXPECT_EQ(b.generated, b_fresh.generated);
  ASSERT_EQ(b.generated.size(), 12u);
  // The same prompt again: everything but its last token is reused.
  GenerationResult c = reusing.generate(second, options);
  EXPECT_EQ(c.reused_tokens, static_cast<int64_t>(second.size()) - 1);
  EXPECT_EQ(c.generated, b.generated);
  // Chunked prefill equals one pass.
  GenerationResult one =
      fresh.generate(second, {.max_new_tokens = 12, .chunk_tokens = 4096, .reuse_prefix = false});
  EXPECT_EQ(one.generated, b.generated);
  EXPECT_THROW(reusing.generate(counting(510, 0), options), std::exception);
}

}  // namespace
}  // namespace longctx
