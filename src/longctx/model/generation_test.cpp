// Greedy generation with prefix reuse (generation.h) on the debug model, CPU float32: reusing
// the previous call's keys and values gives exactly the tokens a fresh prefill gives.
#include "longctx/model/generation.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/model/torch_compat.h"
#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::counting_ids;

TEST(Generation, PrefixReuseGivesTheSameTokensAsAFreshPrefill) {
  ModelConfig config = model_preset("debug");
  LlamaForCausalLM model = init_model(config, 5);
  model->eval();
  Generator reusing(model, 512, torch::kCPU, torch::kFloat);
  Generator fresh(model, 512, torch::kCPU, torch::kFloat);
  std::vector<int32_t> first = counting_ids(150, 0);
  std::vector<int32_t> second = first;
  second.resize(100);  // shares 100 tokens with `first`, then differs
  for (int32_t id : counting_ids(60, 1)) second.push_back(id);
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
  EXPECT_THROW(reusing.generate(counting_ids(510, 0), options), std::exception);
}

TEST(Generation, PrefillChunksEndAtMultiplesOfTheChunkWhateverTheReusedPrefix) {
  using Chunks = std::vector<std::pair<int64_t, int64_t>>;
  // After 5000 reused tokens: up to 8192 first, then whole chunks, then the tail.
  EXPECT_EQ(prefill_chunks(5000, 13000, 4096),
            (Chunks{{5000, 8192}, {8192, 12288}, {12288, 13000}}));
  // From 0 (no reuse), and from a multiple of the chunk: whole chunks from the start.
  EXPECT_EQ(prefill_chunks(0, 8192, 4096), (Chunks{{0, 4096}, {4096, 8192}}));
  EXPECT_EQ(prefill_chunks(4096, 9000, 4096), (Chunks{{4096, 8192}, {8192, 9000}}));
  // One token left (the same prompt again), and a prompt inside one chunk.
  EXPECT_EQ(prefill_chunks(8191, 8192, 4096), (Chunks{{8191, 8192}}));
  EXPECT_EQ(prefill_chunks(10, 100, 4096), (Chunks{{10, 100}}));
  EXPECT_TRUE(prefill_chunks(100, 100, 4096).empty());
  EXPECT_THROW(prefill_chunks(0, 100, 0), Error);
}

TEST(Generation, AutomaticPrefillChunkIsTheMostThatFitsInWholeChunks) {
  ModelConfig config = model_preset("tinyllama-1.1b");
  int64_t per_token = prefill_bytes_per_token(config, torch::kBFloat16);
  // Half the bytes in float32 precision: the estimate counts elements of the dtype.
  EXPECT_EQ(prefill_bytes_per_token(config, torch::kFloat), 2 * per_token);
  // The MLP is TinyLlama's widest point: [T, 2F] + [T, F] beside two [T, d] states.
  EXPECT_GE(per_token, 2 * (3 * config.intermediate_size + 2 * config.hidden_size));
  auto room_for = [&](int64_t tokens) {  // free bytes for exactly `tokens` with the margin
    return static_cast<uint64_t>(1.5 * static_cast<double>(per_token * tokens)) + 1;
  };
  // Room for the whole 128K prompt: one chunk of it, rounded up to whole units.
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 131072, room_for(131072)), 131072);
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 100000, room_for(131072)), 102400);
  // Room for 50,000 tokens: the whole units below it.
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 131072, room_for(50000)), 49152);
  // Less room than one unit, or none known: one unit.
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 131072, room_for(100)), kCpuPrefillChunk);
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 131072, 0), kCpuPrefillChunk);
  EXPECT_EQ(auto_prefill_chunk(config, torch::kBFloat16, 1, room_for(131072)), kCpuPrefillChunk);
}

TEST(Generation, DefaultChunkOnTheCpuGivesTheTokensOfExplicitChunks) {
  ModelConfig config = model_preset("debug");
  LlamaForCausalLM model = init_model(config, 5);
  model->eval();
  EXPECT_EQ(default_prefill_chunk(config, torch::kCPU, torch::kFloat, 100000), kCpuPrefillChunk);
  Generator generator(model, 5000, torch::kCPU, torch::kFloat);
  std::vector<int32_t> prompt = counting_ids(4500, 2);  // longer than one CPU chunk
  GenerationResult automatic =
      generator.generate(prompt, {.max_new_tokens = 4, .reuse_prefix = false});
  GenerationResult explicit_chunks = generator.generate(
      prompt, {.max_new_tokens = 4, .chunk_tokens = 1000, .reuse_prefix = false});
  EXPECT_EQ(automatic.generated, explicit_chunks.generated);
  EXPECT_THROW(generator.generate(prompt, {.max_new_tokens = 4, .chunk_tokens = -1}), Error);
}

TEST(Generation, MaskedAttentionInSplitsEqualsOneSoftmaxOverTheVisibleKeys) {
  torch::manual_seed(2);
  torch::Tensor q = torch::randn({1, 2, 3, 8}), k = torch::randn({1, 2, 32, 8}),
                v = torch::randn({1, 2, 32, 8});
  torch::Tensor visible = torch::arange(32) < 19;  // keys 19.. are stale
  // Reference: softmax over the 19 visible keys only.
  torch::Tensor ref =
      torch::softmax(torch::matmul(q, k.narrow(2, 0, 19).transpose(2, 3)) / std::sqrt(8.0), -1)
          .matmul(v.narrow(2, 0, 19));
  EXPECT_TRUE(torch::allclose(masked_attention(q, k, v, visible), ref, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(masked_attention(q, k, v, visible, /*split=*/8), ref, 1e-5, 1e-6));
}

// The reference: greedy decoding that runs the whole sequence through the model for every new
// token (no cache, no decode step, no windows).
std::vector<int32_t> greedy_by_recomputing(LlamaForCausalLM& model, std::vector<int32_t> ids,
                                           int steps) {
  torch::NoGradGuard no_grad;
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    torch::Tensor t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
    auto next = static_cast<int32_t>(model->forward(t)[0][-1].argmax().item<int64_t>());
    out.push_back(next);
    ids.push_back(next);
  }
  return out;
}

TEST(Generation, DecodingStepsGiveTheTokensOfAFullRecomputation) {
  ModelConfig config = model_preset("debug");  // 4 query heads over 2 key/value heads
  config.eos_token_ids.clear();
  LlamaForCausalLM model = init_model(config, 11);
  model->eval();
  // Windows of 64 in a cache of 300: steps before position 256 attend over a multiple of 64
  // with the rest masked, later ones over the whole cache.
  Generator generator(model, 300, torch::kCPU, torch::kFloat);
  GenerationOptions options{.max_new_tokens = 10, .chunk_tokens = 100, .decode_window = 64};
  std::vector<int32_t> long_prompt = counting_ids(251, 2);
  GenerationResult a = generator.generate(long_prompt, options);
  EXPECT_EQ(a.generated, greedy_by_recomputing(model, long_prompt, 10));
  // A short prompt after it: the cache still holds the long one's keys past the new positions,
  // which the mask must hide.
  std::vector<int32_t> short_prompt = counting_ids(40, 3);
  GenerationResult b = generator.generate(short_prompt, options);
  EXPECT_EQ(b.generated, greedy_by_recomputing(model, short_prompt, 10));
}

}  // namespace
}  // namespace longctx
