// train_ops against plain autograd: each function's forward must be bit-identical to the plain
// formula it replaces (written out again here), and its hand-written backward must agree with
// autograd's gradient of that formula (float64 within 1e-10, float32 within ~1e-5 relative).
// Then the training forward of the debug model against forward_hidden, for every recompute
// policy and with document masking.
#include "longctx/model/train_ops.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/llama.h"
#include "longctx/model/presets.h"

namespace longctx {
namespace {

// max |out - ref| / max |ref|, in float64.
double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
  torch::Tensor o = out.to(torch::kDouble), r = ref.to(torch::kDouble);
  return ((o - r).abs().max() / r.abs().max()).item<double>();
}

// The tolerance for a gradient computed in `dtype` by two different but exact formulas.
double tolerance(torch::ScalarType dtype) {
  return dtype == torch::kDouble ? 1e-10 : 1e-5;
}

torch::ScalarType math_type(torch::ScalarType dtype) {
  return c10::promoteTypes(dtype, torch::kFloat);
}

// The plain formulas, as llama.cpp computes them (float64 math stays float64, as in train_ops).
torch::Tensor plain_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor h = x.to(math_type(x.scalar_type()));
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

torch::Tensor plain_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin_signed) {
  return torch::addcmul(x * cos, torch::roll(x, {x.size(-1) / 2}, {-1}), sin_signed);
}

torch::Tensor plain_lm_loss(const torch::Tensor& hidden, const torch::Tensor& weight,
                            const torch::Tensor& targets) {
  torch::Tensor logits = torch::matmul(hidden, weight.t()).to(math_type(hidden.scalar_type()));
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits, targets,
                          F::CrossEntropyFuncOptions().reduction(torch::kNone).ignore_index(-100));
}

// Fresh leaves (requires_grad) with the values of `values`.
std::vector<torch::Tensor> leaves(const std::vector<torch::Tensor>& values) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& v : values) out.push_back(v.detach().clone().requires_grad_(true));
  return out;
}

// Gradients of sum(f(inputs) * probe) with respect to `inputs`.
template <typename F>
std::vector<torch::Tensor> gradients(F f, const std::vector<torch::Tensor>& values,
                                     const torch::Tensor& probe) {
  std::vector<torch::Tensor> inputs = leaves(values);
  (f(inputs) * probe).sum().backward();
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& input : inputs) grads.push_back(input.grad());
  return grads;
}

const torch::ScalarType kGradDtypes[] = {torch::kDouble, torch::kFloat};

// --- rms_norm ---------------------------------------------------------------------------------

TEST(TrainOps, RmsNormForwardIsBitIdenticalToRMSNormModule) {
  torch::manual_seed(0);
  for (torch::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    RMSNorm norm(16, 1e-5);
    norm->to(dtype);
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::randn({16}));
    torch::Tensor x = torch::randn({2, 5, 16}).mul(3).to(dtype);
    torch::Tensor y = rms_norm(x, norm->weight, 1e-5);
    EXPECT_EQ(y.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(y, norm->forward(x)));
    EXPECT_TRUE(torch::equal(y, plain_rms_norm(x, norm->weight, 1e-5)));
  }
  // A float32 weight on bfloat16 activations gives a float32 result, as the plain formula.
  torch::Tensor x = torch::randn({3, 16}).to(torch::kBFloat16), w = torch::randn({16});
  EXPECT_TRUE(torch::equal(rms_norm(x, w, 1e-6), plain_rms_norm(x, w, 1e-6)));
}

TEST(TrainOps, RmsNormGradientsMatchAutogradOfThePlainFormula) {
  torch::manual_seed(1);
  for (torch::ScalarType dtype : kGradDtypes) {
    SCOPED_TRACE(c10::toString(dtype));
    auto options = torch::dtype(dtype);
    std::vector<torch::Tensor> values = {torch::randn({2, 5, 16}, options).mul(2),
                                         torch::randn({16}, options)};
    torch::Tensor probe = torch::randn({2, 5, 16}, options);
    auto ours = gradients([](auto& in) { return rms_norm(in[0], in[1], 1e-5); }, values, probe);
    auto plain =
        gradients([](auto& in) { return plain_rms_norm(in[0], in[1], 1e-5); }, values, probe);
    for (size_t i = 0; i < ours.size(); ++i) {
      ASSERT_TRUE(ours[i].defined()) << i;
      EXPECT_EQ(ours[i].scalar_type(), dtype);
      EXPECT_LT(relative_error(ours[i], plain[i]), tolerance(dtype)) << "input " << i;
    }
  }
}

TEST(TrainOps, RmsNormGradientsInBfloat16AreCloseAndOnlyWhereAsked) {
  torch::manual_seed(2);
  std::vector<torch::Tensor> values = {torch::randn({4, 32}).to(torch::kBFloat16),
                                       torch::randn({32}).to(torch::kBFloat16)};
  torch::Tensor probe = torch::randn({4, 32}).to(torch::kBFloat16);
  auto ours = gradients([](auto& in) { return rms_norm(in[0], in[1], 1e-5); }, values, probe);
  auto exact = gradients([](auto& in) { return plain_rms_norm(in[0], in[1], 1e-5); },
                         {values[0].to(torch::kDouble), values[1].to(torch::kDouble)},
                         probe.to(torch::kDouble));
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].scalar_type(), torch::kBFloat16);
    EXPECT_LT(relative_error(ours[i], exact[i]), 2e-2) << "input " << i;
  }
  // A frozen weight gets nothing; x still gets its gradient.
  torch::Tensor x = values[0].clone().requires_grad_(true), w = values[1].clone();
  (rms_norm(x, w, 1e-5) * probe).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

// --- apply_rotary -----------------------------------------------------------------------------

// x [B, H, T, D] as the model makes it: a transposed view of [B, T, H, D].
torch::Tensor heads_view(torch::ScalarType dtype) {
  return torch::randn({2, 6, 3, 8}).to(dtype).transpose(1, 2);  // [2, 3, 6, 8]
}

TEST(TrainOps, RotaryForwardIsBitIdenticalToThePlainFormula) {
  torch::manual_seed(3);
  for (torch::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    torch::Tensor x = heads_view(dtype);
    torch::Tensor cos = torch::randn({6, 8}).to(dtype), sin = torch::randn({6, 8}).to(dtype);
    torch::Tensor y = apply_rotary(x, cos, sin);
    EXPECT_EQ(y.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(y, plain_rotary(x, cos, sin)));
  }
}

TEST(TrainOps, RotaryGradientMatchesAutogradOfThePlainFormula) {
  torch::manual_seed(4);
  for (torch::ScalarType dtype : kGradDtypes) {
    SCOPED_TRACE(c10::toString(dtype));
    torch::Tensor cos = torch::randn({6, 8}, torch::dtype(dtype));
    torch::Tensor sin = torch::randn({6, 8}, torch::dtype(dtype));
    std::vector<torch::Tensor> values = {heads_view(dtype)};
    torch::Tensor probe = torch::randn({2, 3, 6, 8}, torch::dtype(dtype));
    auto ours = gradients([&](auto& in) { return apply_rotary(in[0], cos, sin); }, values, probe);
    auto plain = gradients([&](auto& in) { return plain_rotary(in[0], cos, sin); }, values, probe);
    EXPECT_LT(relative_error(ours[0], plain[0]), tolerance(dtype));
  }
}

TEST(TrainOps, RotaryRejectsCosThatDoesNotBroadcastToX) {
  torch::Tensor x = torch::randn({1, 2, 4, 8});
  EXPECT_THROW(apply_rotary(x, torch::randn({2, 1, 4, 8}), torch::randn({2, 1, 4, 8})), Error);
}

// --- recompute --------------------------------------------------------------------------------

// A small two-layer block: l2(silu(l1(x))), with a counter of how often it ran.
struct TwoLayers {
  TwoLayers() : l1(8, 16), l2(16, 8) {}
  torch::Tensor operator()(const torch::Tensor& x) {
    ++calls;
    return l2(torch::silu(l1(x)));
  }
  std::vector<torch::Tensor> parameters() {
    std::vector<torch::Tensor> p = l1->parameters();
    for (const torch::Tensor& t : l2->parameters()) p.push_back(t);
    return p;
  }
  void zero_grad() {
    l1->zero_grad();
    l2->zero_grad();
  }
  torch::nn::Linear l1, l2;
  int calls = 0;
};

// Gradients of the parameters of `blocks` and of x0 (if it requires grad), then cleared.
std::vector<torch::Tensor> take_gradients(std::vector<TwoLayers*> blocks, const torch::Tensor& x0) {
  std::vector<torch::Tensor> grads;
  for (TwoLayers* b : blocks) {
    for (const torch::Tensor& p : b->parameters()) grads.push_back(p.grad().clone());
    b->zero_grad();
  }
  if (x0.requires_grad()) grads.push_back(x0.grad().clone());
  return grads;
}

void expect_equal_gradients(const std::vector<torch::Tensor>& a,
                            const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::allclose(a[i], b[i], /*rtol=*/1e-6, /*atol=*/1e-7))
        << "gradient " << i << " differs by " << (a[i] - b[i]).abs().max().item<double>();
  }
}

TEST(TrainOps, RecomputeRunsTheBlockAgainAndGivesTheSameGradients) {
  torch::manual_seed(5);
  TwoLayers block;
  auto run = [&](const torch::Tensor& x) { return block(x); };
  torch::Tensor x0 = torch::randn({3, 4, 8}).requires_grad_(true);
  torch::Tensor probe = torch::randn({3, 4, 8});

  torch::Tensor plain = run(x0 * 2);  // x is inside a bigger graph
  (plain * probe).sum().backward();
  std::vector<torch::Tensor> expected = take_gradients({&block}, x0);
  x0.mutable_grad().reset();

  block.calls = 0;
  torch::Tensor y = recompute(run, x0 * 2);
  EXPECT_EQ(block.calls, 1);
  EXPECT_TRUE(torch::equal(y, plain));
  EXPECT_TRUE(y.requires_grad());
  (y * probe).sum().backward();
  EXPECT_EQ(block.calls, 2) << "backward must run the block again";
  expect_equal_gradients(take_gradients({&block}, x0), expected);
}

TEST(TrainOps, RecomputeChainedAndNestedInABiggerGraph) {
  torch::manual_seed(6);
  TwoLayers a, b;
  auto run_a = [&](const torch::Tensor& x) { return a(x); };
  auto run_b = [&](const torch::Tensor& x) { return b(x); };
  // a is used twice (its gradients accumulate); b runs inside a recomputed outer block.
  auto outer = [&](const torch::Tensor& x) { return recompute(run_b, x) + torch::tanh(x); };
  auto model = [&](const torch::Tensor& x0, bool checkpoint) {
    auto maybe = [&](auto& f, const torch::Tensor& x) {
      return checkpoint ? recompute(f, x) : f(x);
    };
    torch::Tensor h = maybe(run_a, x0.sin());
    h = maybe(outer, h * h);
    return maybe(run_a, h) + x0;
  };
  torch::Tensor x0 = torch::randn({5, 8}).requires_grad_(true);
  torch::Tensor probe = torch::randn({5, 8});

  torch::Tensor plain = model(x0, false);
  (plain * probe).sum().backward();
  std::vector<torch::Tensor> expected = take_gradients({&a, &b}, x0);
  x0.mutable_grad().reset();

  a.calls = b.calls = 0;
  torch::Tensor y = model(x0, true);
  EXPECT_TRUE(torch::equal(y, plain));
  (y * probe).sum().backward();
  EXPECT_EQ(a.calls, 4);
  EXPECT_EQ(b.calls, 3);  // forward, the outer block's recomputation, its own backward
  expect_equal_gradients(take_gradients({&a, &b}, x0), expected);
}

TEST(TrainOps, RecomputeOfAnInputWithoutGradientStillTrainsTheParameters) {
  torch::manual_seed(7);
  TwoLayers block;
  auto run = [&](const torch::Tensor& x) { return block(x); };
  torch::Tensor x = torch::randn({4, 8});  // e.g. frozen embeddings
  torch::Tensor probe = torch::randn({4, 8});

  (run(x) * probe).sum().backward();
  std::vector<torch::Tensor> expected = take_gradients({&block}, x);

  torch::Tensor y = recompute(run, x);
  ASSERT_TRUE(y.requires_grad());
  (y * probe).sum().backward();
  expect_equal_gradients(take_gradients({&block}, x), expected);
  EXPECT_FALSE(x.grad().defined());
}

TEST(TrainOps, RecomputeWithoutGradModeJustRunsTheBlock) {
  TwoLayers block;
  torch::NoGradGuard no_grad;
  torch::Tensor y =
      recompute([&](const torch::Tensor& x) { return block(x); }, torch::ones({2, 8}));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(block.calls, 1);
}

// --- lm_head_loss -----------------------------------------------------------------------------

struct LossCase {
  torch::Tensor hidden, weight, targets;
};

LossCase loss_case(torch::ScalarType dtype) {
  // N 7, d 8, V 11; tokens 2 and 5 are ignored.
  LossCase c;
  c.hidden = torch::randn({7, 8}).mul(2).to(dtype);
  c.weight = torch::randn({11, 8}).to(dtype);
  c.targets = torch::randint(0, 11, {7}, torch::kLong);
  c.targets[2] = -100;
  c.targets[5] = -100;
  return c;
}

const int64_t kChunks[] = {1, 3, 7, 10};

// Bit-identical to cross entropy of the same chunk's logits. Against the unchunked logits only
// up to the matmul's rounding: a CPU GEMM of 1 or 3 rows may take another kernel than one of 7
// (PyTorch 2.11's does; on CUDA, and in Debian's 1.13, all chunks give identical bits).
TEST(TrainOps, LmHeadLossForwardIsCrossEntropyOfEachChunksLogits) {
  torch::manual_seed(8);
  for (torch::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    LossCase c = loss_case(dtype);
    torch::Tensor whole = plain_lm_loss(c.hidden, c.weight, c.targets);
    for (int64_t chunk : kChunks) {
      SCOPED_TRACE(chunk);
      std::vector<torch::Tensor> pieces;
      for (int64_t start = 0; start < 7; start += chunk) {
        int64_t rows = std::min<int64_t>(chunk, 7 - start);
        pieces.push_back(plain_lm_loss(c.hidden.narrow(0, start, rows), c.weight,
                                       c.targets.narrow(0, start, rows)));
      }
      torch::Tensor losses = lm_head_loss(c.hidden, c.weight, c.targets, chunk);
      EXPECT_EQ(losses.scalar_type(), torch::kFloat);
      EXPECT_TRUE(torch::equal(losses, torch::cat(pieces)));
      if (chunk >= 7) {
        EXPECT_TRUE(torch::equal(losses, whole));
      }
      EXPECT_LT(relative_error(losses, whole), dtype == torch::kFloat ? 1e-6 : 1e-2);
      EXPECT_EQ(losses[2].item<float>(), 0.0f);
      EXPECT_GT(losses[0].item<float>(), 0.0f);
    }
  }
}

TEST(TrainOps, LmHeadLossGradientsMatchAutogradOfCrossEntropyForEveryChunk) {
  torch::manual_seed(9);
  for (torch::ScalarType dtype : kGradDtypes) {
    SCOPED_TRACE(c10::toString(dtype));
    LossCase c = loss_case(dtype);
    torch::Tensor probe = torch::rand({7}, torch::dtype(math_type(dtype))) + 0.5;
    auto plain = gradients([&](auto& in) { return plain_lm_loss(in[0], in[1], c.targets); },
                           {c.hidden, c.weight}, probe);
    for (int64_t chunk : kChunks) {
      SCOPED_TRACE(chunk);
      auto ours = gradients([&](auto& in) { return lm_head_loss(in[0], in[1], c.targets, chunk); },
                            {c.hidden, c.weight}, probe);
      for (size_t i = 0; i < ours.size(); ++i) {
        EXPECT_EQ(ours[i].scalar_type(), dtype);
        EXPECT_LT(relative_error(ours[i], plain[i]), tolerance(dtype)) << "input " << i;
      }
      // Ignored tokens give no gradient at all.
      EXPECT_TRUE(torch::all(ours[0][2] == 0).item<bool>());
      EXPECT_TRUE(torch::all(ours[0][5] == 0).item<bool>());
      EXPECT_FALSE(torch::all(ours[0][3] == 0).item<bool>());
    }
  }
}

TEST(TrainOps, LmHeadLossInBfloat16HasCloseGradientsAndHonoursFrozenWeights) {
  torch::manual_seed(10);
  LossCase c = loss_case(torch::kBFloat16);
  torch::Tensor probe = torch::ones({7});
  auto ours = gradients([&](auto& in) { return lm_head_loss(in[0], in[1], c.targets, 3); },
                        {c.hidden, c.weight}, probe);
  auto exact = gradients([&](auto& in) { return plain_lm_loss(in[0], in[1], c.targets); },
                         {c.hidden.to(torch::kDouble), c.weight.to(torch::kDouble)},
                         probe.to(torch::kDouble));
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].scalar_type(), torch::kBFloat16);
    EXPECT_LT(relative_error(ours[i], exact[i]), 2e-2) << "input " << i;
  }
  torch::Tensor hidden = c.hidden.clone().requires_grad_(true);
  lm_head_loss(hidden, c.weight, c.targets, 4).sum().backward();
  EXPECT_TRUE(hidden.grad().defined());
}

TEST(TrainOps, LmHeadLossRejectsBadShapes) {
  torch::Tensor h = torch::randn({4, 8}), w = torch::randn({11, 8});
  torch::Tensor t = torch::zeros({4}, torch::kLong);
  EXPECT_THROW(lm_head_loss(h.unsqueeze(0), w, t, 2), Error);
  EXPECT_THROW(lm_head_loss(h, torch::randn({11, 7}), t, 2), Error);
  EXPECT_THROW(lm_head_loss(h, w, torch::zeros({5}, torch::kLong), 2), Error);
  EXPECT_THROW(lm_head_loss(h, w, torch::zeros({4}, torch::kInt), 2), Error);
  EXPECT_THROW(lm_head_loss(h, w, t, 0), Error);
}

// --- forward_train on the debug model ---------------------------------------------------------

LlamaForCausalLM debug_model() {
  LlamaForCausalLM model = init_model(model_preset("debug"), 11);
  // Norm weights other than one, so their gradients are not symmetric.
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (item.key().ends_with("norm.weight")) item.value().uniform_(0.5, 1.5);
  }
  return model;
}

// Gradients of every parameter after `loss` backward, by name; then cleared.
std::vector<std::pair<std::string, torch::Tensor>> parameter_gradients(LlamaForCausalLM& model) {
  std::vector<std::pair<std::string, torch::Tensor>> grads;
  for (auto& item : model->named_parameters()) {
    EXPECT_TRUE(item.value().grad().defined()) << item.key();
    if (item.value().grad().defined()) grads.emplace_back(item.key(), item.value().grad().clone());
  }
  model->zero_grad();
  return grads;
}

// How many nodes of `t`'s autograd graph have a name containing `part`.
int count_graph_nodes(const torch::Tensor& t, const std::string& part) {
  std::vector<torch::autograd::Node*> stack = {t.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  int count = 0;
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(part) != std::string::npos) ++count;
    for (const torch::autograd::Edge& edge : node->next_edges())
      stack.push_back(edge.function.get());
  }
  return count;
}

TEST(ForwardTrain, HiddenStatesAndGradientsMatchForwardHiddenForEveryPolicy) {
  LlamaForCausalLM model = debug_model();
  const ModelConfig& config = model->config();
  torch::manual_seed(12);
  torch::Tensor ids = torch::randint(0, config.vocab_size, {2, 12}, torch::kLong);
  torch::Tensor targets = torch::randint(0, config.vocab_size, {24}, torch::kLong);
  targets[7] = -100;

  // Plain: forward_hidden, float32 logits, cross entropy.
  torch::Tensor plain_hidden = model->forward_hidden(ids);
  namespace F = torch::nn::functional;
  F::cross_entropy(model->logits(plain_hidden).reshape({24, -1}).to(torch::kFloat), targets,
                   F::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum))
      .backward();
  auto expected = parameter_gradients(model);

  // A recomputed MLP in chunks of 5 tokens over 2 rows: 2 positions of each row at a time.
  for (auto [policy, chunk] :
       std::vector<std::pair<Recompute, int64_t>>{{Recompute::kNone, 0},
                                                  {Recompute::kLayer, 0},
                                                  {Recompute::kLayer, 5},
                                                  {Recompute::kAttention, 0},
                                                  {Recompute::kMlp, 0},
                                                  {Recompute::kMlp, 5},
                                                  {Recompute::kLayerKeepAttention, 5}}) {
    SCOPED_TRACE(fmt::format("policy {}, MLP chunk {}", static_cast<int>(policy), chunk));
    TrainForwardOptions options;
    options.recompute.assign(static_cast<size_t>(config.num_hidden_layers), policy);
    options.mlp_chunk_tokens = chunk;
    torch::Tensor hidden = model->forward_train(ids, options);
    EXPECT_LT(relative_error(hidden, plain_hidden), 1e-6);
    // The graph holds what the policy says: one recomputed block per layer, or none; the
    // norms of a recomputed layer are not in it (the final norm always is).
    bool whole_layer = policy == Recompute::kLayer || policy == Recompute::kLayerKeepAttention;
    EXPECT_EQ(count_graph_nodes(hidden, "Recompute"), policy == Recompute::kNone ? 0 : 2);
    EXPECT_EQ(count_graph_nodes(hidden, "RmsNorm"), policy == Recompute::kNone ? 5
                                                    : whole_layer              ? 1
                                                                               : 3);
    torch::Tensor losses =
        lm_head_loss(hidden.reshape({24, -1}), model->lm_head->weight, targets, 5);
    losses.sum().backward();
    auto grads = parameter_gradients(model);
    ASSERT_EQ(grads.size(), expected.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      EXPECT_LT(relative_error(grads[i].second, expected[i].second), 1e-5) << grads[i].first;
    }
  }
  // A policy per layer, mixed.
  TrainForwardOptions mixed{.recompute = {Recompute::kMlp, Recompute::kLayer}};
  EXPECT_LT(relative_error(model->forward_train(ids, mixed), plain_hidden), 1e-6);
  EXPECT_THROW(model->forward_train(ids, {.recompute = {Recompute::kLayer}}), Error);
}

TEST(ForwardTrain, DocumentMaskingKeepsDocumentsApart) {
  LlamaForCausalLM model = debug_model();
  torch::manual_seed(13);
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, model->config().vocab_size, {1, 12}, torch::kLong);
  torch::Tensor whole = model->forward_train(ids);

  // One document spanning the row is the unmasked forward.
  TrainForwardOptions one{.document_bounds = {0, 12}};
  EXPECT_LT(relative_error(model->forward_train(ids, one), whole), 1e-6);

  // Documents [0, 5) and [5, 12): new tokens in the first leave the second unchanged.
  TrainForwardOptions two{.document_bounds = {0, 5, 12}};
  torch::Tensor masked = model->forward_train(ids, two);
  torch::Tensor changed = ids.clone();
  changed.slice(1, 0, 5).random_(0, model->config().vocab_size);
  torch::Tensor masked_changed = model->forward_train(changed, two);
  EXPECT_TRUE(torch::equal(masked.slice(1, 5), masked_changed.slice(1, 5)));
  EXPECT_FALSE(torch::allclose(masked.slice(1, 0, 5), masked_changed.slice(1, 0, 5)));
  // ... which without the mask they do change.
  EXPECT_FALSE(torch::allclose(whole.slice(1, 5), model->forward_train(changed).slice(1, 5)));

  // The first document alone is the plain forward of its tokens; the second, at positions
  // 5..11 instead of 0..6, agrees up to rounding (RoPE scores depend on relative positions).
  EXPECT_LT(relative_error(masked.slice(1, 0, 5), model->forward_hidden(ids.slice(1, 0, 5))), 1e-6);
  EXPECT_LT(relative_error(masked.slice(1, 5), model->forward_hidden(ids.slice(1, 5))), 1e-4);
  EXPECT_THROW(model->forward_train(torch::zeros({2, 12}, torch::kLong), two), Error);
}

TEST(ForwardTrain, DocumentMaskedGradientsAreTheSameForEveryPolicy) {
  LlamaForCausalLM model = debug_model();
  const ModelConfig& config = model->config();
  torch::manual_seed(14);
  torch::Tensor ids = torch::randint(0, config.vocab_size, {1, 12}, torch::kLong);
  torch::Tensor targets = torch::randint(0, config.vocab_size, {12}, torch::kLong);
  std::vector<std::pair<std::string, torch::Tensor>> expected;
  for (Recompute policy : {Recompute::kNone, Recompute::kLayer, Recompute::kAttention,
                           Recompute::kMlp, Recompute::kLayerKeepAttention}) {
    SCOPED_TRACE(static_cast<int>(policy));
    TrainForwardOptions options{.document_bounds = {0, 4, 9, 12}};
    options.recompute.assign(static_cast<size_t>(config.num_hidden_layers), policy);
    torch::Tensor hidden = model->forward_train(ids, options);
    lm_head_loss(hidden.reshape({12, -1}), model->lm_head->weight, targets, 4).sum().backward();
    auto grads = parameter_gradients(model);
    if (expected.empty()) {
      expected = grads;
      continue;
    }
    ASSERT_EQ(grads.size(), expected.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      EXPECT_TRUE(torch::allclose(grads[i].second, expected[i].second, 1e-6, 1e-9))
          << grads[i].first;
    }
  }
}

}  // namespace
}  // namespace longctx
