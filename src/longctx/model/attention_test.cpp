// merge_attention (attention.h) on the CPU: two attentions of the same queries over disjoint
// key sets, merged by their log-sum-exp, must give the attention over the union, computed
// directly from softmax(q k^T / sqrt(D)) v in float64. The GPU kernel and the blockwise prefill
// are checked against the same textbook formula in attention_gpu_test.cpp.
#include "longctx/model/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::relative_error;

struct Part {
  torch::Tensor out;  // [B, H, T, D]
  torch::Tensor lse;  // [B, H, T]
};

// Attention of q over the keys where `visible` [Tq, Tk] is true, with its log-sum-exp; a row
// that sees no key gets out 0 and lse -inf (what a kernel reports for it).
Part attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
            const torch::Tensor& visible) {
  torch::Tensor scores = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(double(q.size(3)));
  scores = scores.masked_fill(visible.logical_not(), -std::numeric_limits<double>::infinity());
  torch::Tensor lse = torch::logsumexp(scores, -1);  // [B, H, Tq]
  torch::Tensor probs = torch::exp(scores - lse.unsqueeze(-1)).nan_to_num(0.0);
  return {torch::matmul(probs, v), lse};
}

TEST(MergeAttention, TwoKeySetsMergeIntoAttentionOverTheirUnion) {
  torch::manual_seed(3);
  auto f64 = torch::kDouble;
  torch::Tensor q = torch::randn({2, 3, 5, 8}, f64) * 2, k = torch::randn({2, 3, 12, 8}, f64) * 2,
                v = torch::randn({2, 3, 12, 8}, f64);
  // Causal over 12 keys for queries at positions 7..11; the parts are keys 0-6 and 7-11.
  torch::Tensor qpos = torch::arange(7, 12, f64).unsqueeze(1), kpos = torch::arange(0, 12, f64);
  torch::Tensor visible = kpos.unsqueeze(0) <= qpos;  // [5, 12]
  Part whole = attend(q, k, v, visible);
  Part before = attend(q, k.narrow(2, 0, 7), v.narrow(2, 0, 7), visible.narrow(1, 0, 7));
  Part own = attend(q, k.narrow(2, 7, 5), v.narrow(2, 7, 5), visible.narrow(1, 7, 5));

  torch::Tensor merged = merge_attention_plain(own.out, own.lse, before.out, before.lse);
  EXPECT_LT(relative_error(merged, whole.out), 1e-12);
  // In place into the first part, as the blockwise prefill does with its output rows.
  torch::Tensor target = own.out.clone();
  merge_attention(target, own.lse, before.out, before.lse, target);
  EXPECT_LT(relative_error(target, whole.out), 1e-12);
  // Order does not matter.
  EXPECT_LT(
      relative_error(merge_attention_plain(before.out, before.lse, own.out, own.lse), whole.out),
      1e-12);
  // bf16 parts with float32 log-sum-exp, the GPU's types: within bf16 rounding of the truth.
  torch::Tensor low =
      merge_attention_plain(own.out.to(torch::kBFloat16), own.lse.to(torch::kFloat),
                            before.out.to(torch::kBFloat16), before.lse.to(torch::kFloat));
  EXPECT_EQ(low.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative_error(low, whole.out), 1e-2);
}

TEST(MergeAttention, RowsThatSeeNoKeyInOnePartTakeTheOther) {
  torch::manual_seed(4);
  auto f64 = torch::kDouble;
  torch::Tensor q = torch::randn({1, 2, 4, 8}, f64), k = torch::randn({1, 2, 6, 8}, f64),
                v = torch::randn({1, 2, 6, 8}, f64);
  torch::Tensor visible = torch::ones({4, 6}, torch::kBool);
  visible.index_put_({0, torch::indexing::Slice(3, 6)}, false);  // row 0 sees no key of part b
  Part whole = attend(q, k, v, visible);
  Part a = attend(q, k.narrow(2, 0, 3), v.narrow(2, 0, 3), visible.narrow(1, 0, 3));
  Part b = attend(q, k.narrow(2, 3, 3), v.narrow(2, 3, 3), visible.narrow(1, 3, 3));
  ASSERT_TRUE(std::isinf(b.lse[0][0][0].item<double>()));
  torch::Tensor merged = merge_attention_plain(a.out, a.lse, b.out, b.lse);
  EXPECT_FALSE(merged.isnan().any().item<bool>());
  EXPECT_LT(relative_error(merged, whole.out), 1e-12);
  // A row that sees nothing in either part is 0, not NaN.
  torch::Tensor none = torch::full({1, 2, 4}, -std::numeric_limits<double>::infinity(), f64);
  torch::Tensor zeros = merge_attention_plain(a.out, none, b.out, none);
  EXPECT_EQ(zeros.abs().max().item<double>(), 0.0);
}

TEST(PrefillAttention, OnTheCpuIsTheCausalAttentionOfTheWholePrompt) {
  // No cuDNN here: any block size falls back to one call of the explicit path.
  torch::manual_seed(5);
  torch::Tensor q = torch::randn({1, 4, 9, 8}), k = torch::randn({1, 2, 9, 8}),
                v = torch::randn({1, 2, 9, 8});
  torch::Tensor visible = torch::tril(torch::ones({9, 9}, torch::kBool));
  torch::Tensor k4 = k.repeat_interleave(2, 1).to(torch::kDouble),
                v4 = v.repeat_interleave(2, 1).to(torch::kDouble);
  Part truth = attend(q.to(torch::kDouble), k4, v4, visible);
  EXPECT_LT(relative_error(prefill_attention(q, k, v, 4), truth.out), 1e-5);
}

TEST(RecurringChunk, OnlyChunksThatStartAtAMultipleOfTheirLength) {
  // Generator's whole chunks: 4096 queries after 1, 2, ... 31 chunks of keys.
  EXPECT_TRUE(recurring_chunk(4096, 4096));
  EXPECT_TRUE(recurring_chunk(4096, 31 * 4096));
  EXPECT_TRUE(recurring_chunk(700, 2100));
  // The first chunk after a reused prefix of 5000 tokens, and a tail of 1000 after 3 chunks.
  EXPECT_FALSE(recurring_chunk(8192 - 5000, 5000));
  EXPECT_FALSE(recurring_chunk(1000, 3 * 4096));
  // Too few queries to repay a plan, even at a multiple: the last token run again.
  EXPECT_FALSE(recurring_chunk(1, 5000));
  EXPECT_FALSE(recurring_chunk(128, 4096));
}

}  // namespace
}  // namespace longctx
