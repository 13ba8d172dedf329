// The blockwise prefill attention and the fused merge kernel (attention.h; ctest label gpu,
// skipped without a CUDA device or a libtorch older than 2.5): the blocks, merged, must give
// the causal attention of the whole prompt or of a chunk after cached keys (float64 textbook
// formula on the GPU, and the one call the model made before), for grouped and plain heads,
// both head sizes of the model presets and a last block shorter than the others; the kernel
// must match the libtorch-op merge to within one rounding. Decoding attention (Flash over the
// used part of a cache window) must give the masked float64 attention of the visible keys.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "longctx/model/attention.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/llama.h"
#include "longctx/model/presets.h"
#include "longctx/model/torch_compat.h"
#include "longctx/model/train_ops.h"
#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::expect_within_one_rounding;
using test::relative_error;

// softmax(q k^T / sqrt(D)) v in float64, causal with the queries at the last Tq of the Tk
// positions: q [B, H, Tq, D], k and v [B, K, Tk, D].
torch::Tensor causal_reference(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v) {
  int64_t groups = q.size(1) / k.size(1), tq = q.size(2), tk = k.size(2);
  torch::Tensor q64 = q.to(torch::kDouble), k64 = k.to(torch::kDouble).repeat_interleave(groups, 1),
                v64 = v.to(torch::kDouble).repeat_interleave(groups, 1);
  torch::Tensor scores = torch::matmul(q64, k64.transpose(2, 3)) / std::sqrt(double(q.size(3)));
  torch::Tensor hidden =  // key j is hidden from query i when j > (Tk - Tq) + i
      torch::ones({tq, tk}, torch::dtype(torch::kBool).device(q.device())).triu(tk - tq + 1);
  scores.masked_fill_(hidden, -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(scores, -1), v64);
}

struct Case {
  int64_t heads, kv_heads, tokens, head_dim, block;
  int64_t queries;  // the last `queries` of the tokens: all of them, or a chunk after a cache
};

TEST(BlockwisePrefillAttention, EqualsCausalAttentionOfThePromptOrChunk) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!blockwise_attention_built()) GTEST_SKIP() << "libtorch without cuDNN attention (< 2.5)";
  torch::manual_seed(6);
  torch::NoGradGuard no_grad;
  // 1000 = 3 x 256 + 232: a short last block; 4 of 4 heads: no grouping; chunks of 300 and
  // 100 queries after 700 and 668 cached keys, in blocks of 128 and in one block (odd chunks,
  // which prefill_attention leaves to one call); a chunk of 256 after 512 (one that recurs).
  for (Case c : {Case{8, 2, 1000, 64, 256, 1000}, Case{8, 2, 1000, 128, 256, 1000},
                 Case{4, 4, 768, 128, 384, 768}, Case{8, 2, 1000, 128, 128, 300},
                 Case{8, 4, 768, 64, 256, 100}, Case{8, 2, 768, 128, 128, 256}}) {
    for (torch::ScalarType dtype : {torch::kBFloat16, torch::kHalf}) {
      std::string what =
          fmt::format("H {} K {} T {} D {} block {} queries {} {}", c.heads, c.kv_heads, c.tokens,
                      c.head_dim, c.block, c.queries, c10::toString(dtype));
      auto options = torch::dtype(dtype).device(torch::kCUDA);
      // [B, T, H, D] storage viewed as [B, H, T, D], as the model's projections are.
      torch::Tensor q = torch::randn({1, c.tokens, c.heads, c.head_dim}, options)
                            .transpose(1, 2)
                            .narrow(2, c.tokens - c.queries, c.queries);
      torch::Tensor k = torch::randn({1, c.kv_heads, c.tokens, c.head_dim}, options) * 2;
      torch::Tensor v = torch::randn({1, c.kv_heads, c.tokens, c.head_dim}, options);
      torch::Tensor truth = causal_reference(q, k, v);
      torch::Tensor blocks = blockwise_causal_attention(q, k, v, c.block);
      torch::Tensor one_call = cached_causal_attention(q, k, v);
      ASSERT_EQ(blocks.sizes(), q.sizes()) << what;
      ASSERT_EQ(truth.sizes(), q.sizes()) << what;
      EXPECT_EQ(blocks.scalar_type(), dtype) << what;
      double ulp = dtype == torch::kBFloat16 ? 0x1p-8 : 0x1p-11;
      // One call and the blocks land within a few roundings of the truth, and of each other.
      EXPECT_LT(relative_error(blocks, truth), 4 * ulp) << what;
      EXPECT_LT(relative_error(one_call, truth), 4 * ulp) << what;
      EXPECT_LT(relative_error(blocks, one_call), 4 * ulp) << what;
      // prefill_attention takes the blocks for a whole prompt longer than the block and for a
      // chunk whose shape recurs; the one call for other chunks (no cuDNN plan for them).
      int64_t cached = c.tokens - c.queries;
      bool takes_blocks = cached == 0 || recurring_chunk(c.queries, cached);
      EXPECT_TRUE(
          torch::equal(prefill_attention(q, k, v, c.block), takes_blocks ? blocks : one_call))
          << what << (takes_blocks ? ": blocks" : ": one call");
    }
  }
}

TEST(DecodeAttentionGpu, FlashOverTheUsedKeysEqualsMaskedAttention) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!flash_decode_built()) GTEST_SKIP() << "libtorch without Flash's packed entry (< 2.5)";
  torch::manual_seed(8);
  torch::NoGradGuard no_grad;
  struct Shape {
    int64_t kv_heads, groups, head_dim;
  };
  // TinyLlama's and Llama-3 8B's heads, and plain heads (one query row per key/value head).
  for (Shape s : {Shape{4, 8, 64}, Shape{8, 4, 128}, Shape{4, 1, 128}}) {
    for (torch::ScalarType dtype : {torch::kBFloat16, torch::kHalf}) {
      auto options = torch::dtype(dtype).device(torch::kCUDA);
      // A cache longer than the window, as Generator's: the window is a view of it.
      torch::Tensor cache_k = torch::randn({1, s.kv_heads, 8192 + 1024, s.head_dim}, options);
      torch::Tensor cache_v = torch::randn_like(cache_k);
      for (int64_t window : {4096, 8192}) {
        torch::Tensor k = cache_k.narrow(2, 0, window), v = cache_v.narrow(2, 0, window);
        for (int64_t position : {int64_t{0}, int64_t{1}, int64_t{1000}, window - 1}) {
          std::string what =
              fmt::format("K {} G {} D {} {} window {} position {}", s.kv_heads, s.groups,
                          s.head_dim, c10::toString(dtype), window, position);
          torch::Tensor q = torch::randn({1, s.kv_heads, s.groups, s.head_dim}, options);
          DecodeVisibility visibility(torch::full({1}, position, options.dtype(torch::kLong)),
                                      window);
          EXPECT_TRUE(flash_decode_fits(q, k, v)) << what;
          torch::Tensor out = decode_attention(q, k, v, visibility);
          ASSERT_EQ(out.sizes(), q.sizes()) << what;
          ASSERT_EQ(out.scalar_type(), dtype) << what;
          // Float64 over the keys [0, position]; the G rows of a key/value head are queries.
          torch::Tensor used_k = k.narrow(2, 0, position + 1),
                        used_v = v.narrow(2, 0, position + 1);
          torch::Tensor truth = torch::matmul(
              torch::softmax(
                  torch::matmul(q.to(torch::kDouble), used_k.to(torch::kDouble).transpose(2, 3)) /
                      std::sqrt(double(s.head_dim)),
                  -1),
              used_v.to(torch::kDouble));
          double flash_error = relative_error(out, truth);
          double masked_error =
              relative_error(masked_attention(q, k, v, visibility.visible), truth);
          EXPECT_LT(flash_error, 1e-2) << what;
          EXPECT_LT(flash_error, 1.5 * masked_error + 1e-3) << what << " masked " << masked_error;
        }
      }
    }
  }
}

TEST(BlockwisePrefillAttention, WantsNoGradientAndNoMoreQueriesThanKeys) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!blockwise_attention_built()) GTEST_SKIP() << "libtorch without cuDNN attention (< 2.5)";
  auto options = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  torch::Tensor q = torch::randn({1, 4, 300, 64}, options),
                k = torch::randn({1, 2, 300, 64}, options),
                v = torch::randn({1, 2, 300, 64}, options);
  // More queries than keys is no causal prefill.
  EXPECT_THROW(blockwise_causal_attention(q, k.narrow(2, 0, 100), v.narrow(2, 0, 100), 64),
               std::exception);
  // With gradients wanted, the one sdpa call that autograd can differentiate.
  torch::Tensor leaf = q.detach().requires_grad_(true);
  torch::Tensor out = prefill_attention(leaf, k, v, 64);
  ASSERT_TRUE(out.requires_grad());
  out.sum().backward();
  EXPECT_TRUE(leaf.grad().defined());
}

class MergeKernel : public testing::TestWithParam<torch::ScalarType> {};

TEST_P(MergeKernel, MatchesLibtorchOpsToOneRounding) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!fused_kernels_enabled()) GTEST_SKIP() << "built without the fused CUDA kernels";
  torch::ScalarType dtype = GetParam();
  torch::manual_seed(7);
  auto options = torch::dtype(dtype).device(torch::kCUDA);
  auto f32 = torch::dtype(torch::kFloat).device(torch::kCUDA);
  // 128 and 64: vectorised; 12: narrower vectors; [B, T, H, D] storage for the output.
  for (int64_t d : {128, 64, 12}) {
    std::string what = fmt::format("D {} {}", d, c10::toString(dtype));
    torch::Tensor a = torch::randn({2, 3, 257, d}, options);
    torch::Tensor b = torch::randn({2, 257, 3, d}, options).transpose(1, 2);
    torch::Tensor lse_a = torch::randn({2, 3, 257}, f32) * 5,
                  lse_b = torch::randn({2, 3, 257}, f32) * 5;
    lse_b[0][0][0] = -std::numeric_limits<float>::infinity();  // a row with no key in part b
    torch::Tensor out = torch::full({2, 257, 3, d}, NAN, options).transpose(1, 2);
    merge_attention(a, lse_a, b, lse_b, out);
    torch::Tensor plain = merge_attention_plain(a, lse_a, b, lse_b);
    EXPECT_FALSE(out.isnan().any().item<bool>()) << what << ": every element written";
    expect_within_one_rounding(out, plain, what);
    // Into one of its inputs.
    torch::Tensor in_place = a.clone();
    merge_attention(in_place, lse_a, b, lse_b, in_place);
    EXPECT_TRUE(torch::equal(in_place, out)) << what << ": in place";
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MergeKernel,
                         testing::Values(torch::kBFloat16, torch::kHalf, torch::kFloat));

// The memory plan (train/plan.h, attention_output_by_token) counts no copy of the attention
// output for o_proj on the GPU: q, k and v are views of their projections ([B, T, H, D] in
// memory), RoPE and cuDNN keep that layout, so [B, H, T, D] -> [B, T, H * D] is a view.
TEST(AttentionGpu, TrainingAttentionOutputIsLaidOutByToken) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  auto bf16 = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  const int64_t t = 512, heads = 8, kv_heads = 2, dim = 64;
  torch::Tensor cos = torch::randn({t, dim}, bf16), sin = torch::randn({t, dim}, bf16);
  auto projected = [&](int64_t h) {
    return torch::randn({1, t, h * dim}, bf16).view({1, t, h, dim}).transpose(1, 2);
  };
  torch::Tensor q = apply_rotary(projected(heads), cos, sin);
  torch::Tensor k = apply_rotary(projected(kv_heads), cos, sin), v = projected(kv_heads);
  EXPECT_TRUE(q.transpose(1, 2).is_contiguous());
  torch::Tensor out = causal_attention_gqa(q, k, v);
  EXPECT_TRUE(out.transpose(1, 2).is_contiguous()) << out.strides();
  if (attention_keeping_built()) {
    KeptAttention keep;
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(causal_attention_kept(q, k, v, &keep).transpose(1, 2).is_contiguous());
  }
}

// causal_attention_kept (train_ops.h): the first, gradient-free call keeps cuDNN's output and
// log-sum-exp; the second, with gradients, returns that output without running attention, and
// its backward gives the gradients of attention run again with autograd (the model's sdpa
// call), for grouped heads at head dim 64 (TinyLlama) and plain heads at 128 (Llama-2).
TEST(KeptAttentionGpu, BackwardFromTheKeptOutputGivesTheGradientsOfAttentionRunAgain) {
  if (!torch::cuda::is_available() || !attention_keeping_built())
    GTEST_SKIP() << "needs CUDA and cuDNN attention (libtorch 2.5+)";
  for (auto [heads, kv_heads, dim] : {std::tuple{8, 2, 64}, std::tuple{4, 4, 128}}) {
    SCOPED_TRACE(fmt::format("{} heads, {} kv heads, dim {}", heads, kv_heads, dim));
    torch::manual_seed(21);
    auto bf16 = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
    const int64_t t = 1024;
    torch::Tensor q = torch::randn({1, heads, t, dim}, bf16),
                  k = torch::randn({1, kv_heads, t, dim}, bf16),
                  v = torch::randn({1, kv_heads, t, dim}, bf16),
                  g = torch::randn({1, heads, t, dim}, bf16);
    auto leaf = [](const torch::Tensor& x) { return x.detach().clone().requires_grad_(true); };
    torch::Tensor q1 = leaf(q), k1 = leaf(k), v1 = leaf(v);
    torch::Tensor expected = causal_attention_gqa(q1, k1, v1);
    expected.backward(g);

    KeptAttention keep;
    {
      torch::NoGradGuard no_grad;
      torch::Tensor first = causal_attention_kept(q, k, v, &keep);
      ASSERT_TRUE(keep.out.defined());
      EXPECT_LT(relative_error(first, expected.detach()), 1e-2);
    }
    torch::Tensor q2 = leaf(q), k2 = leaf(k), v2 = leaf(v);
    torch::Tensor again = causal_attention_kept(q2, k2, v2, &keep);
    EXPECT_FALSE(keep.out.defined());  // handed to the autograd node
    ASSERT_TRUE(again.grad_fn() != nullptr);
    EXPECT_NE(again.grad_fn()->name().find("KeptAttention"), std::string::npos)
        << again.grad_fn()->name();
    EXPECT_LT(relative_error(again.detach(), expected.detach()), 1e-2);
    again.backward(g);
    EXPECT_EQ(k2.grad().sizes(), k.sizes());
    EXPECT_LT(relative_error(q2.grad(), q1.grad()), 2e-2);
    EXPECT_LT(relative_error(k2.grad(), k1.grad()), 2e-2);
    EXPECT_LT(relative_error(v2.grad(), v1.grad()), 2e-2);
  }
}

// The model with every layer on full-keep-attention trains as with full recomputation: the same
// loss and the same parameter gradients to bf16 accuracy, on a 2-layer TinyLlama-width model.
TEST(KeptAttentionGpu, ModelGradientsMatchFullRecomputation) {
  if (!torch::cuda::is_available() || !attention_keeping_built())
    GTEST_SKIP() << "needs CUDA and cuDNN attention (libtorch 2.5+)";
  ModelConfig config = model_preset("tinyllama-1.1b");
  config.num_hidden_layers = 2;
  LlamaForCausalLM model = init_model(config, /*seed=*/5);
  model->to(torch::kCUDA, torch::kBFloat16);
  torch::manual_seed(22);
  auto ids = torch::randint(0, config.vocab_size, {1, 2048},
                            torch::dtype(torch::kLong).device(torch::kCUDA));
  torch::Tensor targets = ids.roll(-1, 1).reshape({-1});
  std::vector<std::vector<torch::Tensor>> grads;
  std::vector<double> losses;
  for (Recompute policy : {Recompute::kLayer, Recompute::kLayerKeepAttention}) {
    model->zero_grad();
    TrainForwardOptions options;
    options.recompute.assign(2, policy);
    torch::Tensor hidden = model->forward_train(ids, options);
    torch::Tensor loss =
        lm_head_loss(hidden.reshape({2048, -1}), model->lm_head->weight, targets, 1024).mean();
    loss.backward();
    losses.push_back(loss.item<double>());
    grads.emplace_back();
    for (const auto& p : model->parameters()) grads.back().push_back(p.grad().clone());
  }
  EXPECT_NEAR(losses[1], losses[0], 1e-3 * losses[0]);
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_LT(relative_error(grads[1][i], grads[0][i]), 3e-2) << "parameter " << i;
}

}  // namespace
}  // namespace longctx
