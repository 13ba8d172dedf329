// Generation on CUDA in bfloat16 (ctest label gpu; skipped without a CUDA device): a prefill in
// chunks after cached keys (Flash attention, its causal mask aligned bottom-right) against one
// pass and against float32 on the CPU, also as Generator runs it (LlamaForCausalLM::prefill);
// decoding through CUDA graphs against the same steps run one op at a time.
#include <gtest/gtest.h>

#include <cstdio>

#include "longctx/model/checkpoint.h"
#include "longctx/model/generation.h"
#include "longctx/model/presets.h"
#include "longctx/runtime/device.h"
#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::counting_ids;
using test::relative_error;

ModelConfig small_gqa_config() {
  ModelConfig c = model_preset("debug");
  c.hidden_size = 512;  // 8 heads of 64 (Flash's head sizes) over 2 key/value heads
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.rope.head_dim = 64;
  c.intermediate_size = 1024;
  c.num_hidden_layers = 3;
  c.eos_token_ids.clear();
  return c;
}

TEST(GenerationGpu, ChunkedPrefillAfterCachedKeysMatchesOnePass) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  ModelConfig config = small_gqa_config();
  LlamaForCausalLM cpu = init_model(config, 3);
  cpu->eval();
  std::vector<int32_t> prompt = counting_ids(3000, 1);
  torch::Tensor ids =
      torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).unsqueeze(0);
  torch::Tensor truth = cpu->forward_hidden(ids);  // float32, one pass, no cache

  LlamaForCausalLM gpu = init_model(config, 3);
  gpu->to(torch::kCUDA, torch::kBFloat16);
  gpu->fuse_projections();
  gpu->eval();
  torch::Tensor cuda_ids = ids.to(torch::kCUDA);
  KvCache one_cache(config, 1, 4096, torch::kCUDA, torch::kBFloat16);
  torch::Tensor one = gpu->forward_hidden(cuda_ids, 0, &one_cache).to(torch::kCPU, torch::kFloat);
  KvCache chunk_cache(config, 1, 4096, torch::kCUDA, torch::kBFloat16);
  std::vector<torch::Tensor> pieces;
  for (int64_t start = 0; start < 3000; start += 700) {  // uneven chunks, the last one short
    int64_t end = std::min<int64_t>(start + 700, 3000);
    pieces.push_back(gpu->forward_hidden(cuda_ids.slice(1, start, end), start, &chunk_cache));
  }
  torch::Tensor chunked = torch::cat(pieces, 1).to(torch::kCPU, torch::kFloat);
  double one_error = relative_error(one, truth), chunked_error = relative_error(chunked, truth);
  EXPECT_LT(one_error, 2e-2);
  EXPECT_LT(chunked_error, 2e-2);
  EXPECT_LT(chunked_error, 1.5 * one_error + 1e-3) << "one pass: " << one_error;

  // As Generator prefills: the last layer queried at the prompt's last position only (the
  // chunks before it keep nothing, their last-layer keys/values still cached).
  KvCache prefill_cache(config, 1, 4096, torch::kCUDA, torch::kBFloat16);
  torch::Tensor last;
  for (int64_t start = 0; start < 3000; start += 700) {
    int64_t end = std::min<int64_t>(start + 700, 3000);
    last = gpu->prefill(cuda_ids.slice(1, start, end), start, prefill_cache, end == 3000 ? 1 : 0);
  }
  double last_error = relative_error(last.to(torch::kCPU, torch::kFloat), truth.slice(1, -1));
  double one_last_error = relative_error(one.slice(1, -1), truth.slice(1, -1));
  EXPECT_LT(last_error, 2e-2);
  EXPECT_LT(last_error, 2 * one_last_error + 5e-3) << "one pass, last row: " << one_last_error;
}

TEST(GenerationGpu, CudaGraphDecodingGivesTheTokensOfEagerDecoding) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ModelConfig config = small_gqa_config();
  LlamaForCausalLM model = init_model(config, 4);
  model->to(torch::kCUDA, torch::kBFloat16);
  model->fuse_projections();
  model->eval();
  Generator graphs(model, 1200, torch::kCUDA, torch::kBFloat16);
  Generator eager(model, 1200, torch::kCUDA, torch::kBFloat16);
  // Windows of 256: the first prompt's steps cross from the window [0, 1024) to the whole
  // cache; the second, shorter prompt replays graphs captured for the first one's windows.
  for (int n : {1015, 500, 1010}) {
    SCOPED_TRACE(n);
    std::vector<int32_t> prompt = counting_ids(n, n);
    GenerationOptions options{.max_new_tokens = 20, .chunk_tokens = 512, .decode_window = 256};
    GenerationResult a = graphs.generate(prompt, options);
    options.cuda_graphs = false;
    GenerationResult b = eager.generate(prompt, options);
    ASSERT_EQ(a.generated.size(), 20u);
    EXPECT_EQ(a.generated, b.generated);
  }
}

// The automatic prefill chunk (auto_prefill_chunk) trusts prefill_bytes_per_token, with a 1.5x
// margin, to say what one prefill forward holds beyond the weights and the cache. Measured here
// for both presets' widths (two layers: the peak is one layer's), one cuDNN call and 64K blocks.
TEST(GenerationGpu, PrefillStaysInsideItsEstimatedMemory) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::Device cuda(torch::kCUDA);
  for (const char* preset : {"tinyllama-1.1b", "llama3-8b"}) {
    ModelConfig config = model_preset(preset);
    config.num_hidden_layers = 2;
    set_context_length(config, 131072);
    LlamaForCausalLM model(config, torch::dtype(torch::kBFloat16).device(cuda));
    for (auto& p : model->parameters()) p.normal_(0.0, 0.02);
    model->fuse_projections();
    model->eval();
    for (int64_t t : {30000, 69632}) {
      SCOPED_TRACE(std::string(preset) + " " + std::to_string(t));
      KvCache cache(config, 1, t, cuda, torch::kBFloat16);
      torch::Tensor ids =
          torch::randint(3, config.vocab_size, {1, t}, torch::dtype(torch::kLong).device(cuda));
      synchronize(cuda);
      reset_peak_memory(cuda);
      uint64_t before = peak_memory_bytes(cuda);  // what is allocated now
      torch::Tensor last = model->prefill(ids, 0, cache, 1);
      synchronize(cuda);
      double used = static_cast<double>(peak_memory_bytes(cuda) - before);
      double estimate = static_cast<double>(prefill_bytes_per_token(config, torch::kBFloat16)) * t;
      std::printf("%s, %lld tokens: prefill held %.2f GiB, estimate %.2f GiB (%.2fx)\n", preset,
                  static_cast<long long>(t), used / (1 << 30), estimate / (1 << 30),
                  used / estimate);
      EXPECT_LE(used, 1.5 * estimate);  // the margin auto_prefill_chunk leaves
      EXPECT_GE(used, 0.5 * estimate);  // and not so loose that chunks come out far too small
      EXPECT_EQ(last.size(1), 1);
    }
  }
}

// free_memory_bytes counts memory the caching allocator holds unused as free: a freed tensor
// stays cached, and must not shrink the next automatic chunk.
TEST(GenerationGpu, FreeMemoryCountsWhatTheAllocatorHoldsUnused) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::Device cuda(torch::kCUDA);
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  auto free_gib = [&] { return static_cast<double>(free_memory_bytes(cuda)) / kGiB; };
  double before = free_gib();
  ASSERT_GT(before, 1.5);
  EXPECT_LE(before, static_cast<double>(total_memory_bytes(cuda)) / kGiB);
  double during = 0;
  {
    torch::Tensor block = torch::empty({1 << 30}, torch::dtype(torch::kUInt8).device(cuda));
    during = free_gib();
  }
  double after = free_gib();  // the block is back in the allocator's cache
  EXPECT_NEAR(before - during, 1.0, 0.05);
  EXPECT_NEAR(after, before, 0.05);
}

// With room on the card, generate's default chunk is the whole prompt, computed as one
// explicit chunk of it is.
TEST(GenerationGpu, DefaultChunkIsTheWholePromptWhenItFits) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ModelConfig config = small_gqa_config();
  set_context_length(config, 16384);
  LlamaForCausalLM model = init_model(config, 6);
  model->to(torch::kCUDA, torch::kBFloat16);
  model->fuse_projections();
  model->eval();
  std::vector<int32_t> prompt = counting_ids(9000, 3);
  Generator generator(model, 9100, torch::kCUDA, torch::kBFloat16);
  EXPECT_EQ(default_prefill_chunk(config, torch::kCUDA, torch::kBFloat16, 9000), 12288);
  GenerationResult automatic =
      generator.generate(prompt, {.max_new_tokens = 8, .reuse_prefix = false});
  GenerationResult one_chunk = generator.generate(
      prompt, {.max_new_tokens = 8, .chunk_tokens = 12288, .reuse_prefix = false});
  ASSERT_EQ(automatic.generated.size(), 8u);
  EXPECT_EQ(automatic.generated, one_chunk.generated);
}

}  // namespace
}  // namespace longctx
