// The libtorch LLaMA against transformers: tests/model/fixtures holds small random-weight
// models saved by transformers 5.17 with their logits and loss on fixed ids
// (scripts/gpu/make_model_fixtures.py made them on the GPU machine). Float32 on CPU must agree
// within 1e-4 relative; a GPU build also checks bfloat16 on CUDA against transformers' bf16.
#include "longctx/model/llama.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "longctx/base/error.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/model/safetensors.h"
#include "support/model_test_support.h"
#include "support/scratch_dir.h"

namespace longctx {
namespace {

using test::relative_error;

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LONGCTX_SOURCE_DIR) / "tests/model/fixtures";
const char* kVariants[] = {"default", "gqa_theta500k", "mqa_tied", "linear", "dynamic",
                           "yarn",    "llama3",        "bias",     "mistral"};

// Mean next-token cross-entropy of ids under logits, in float32 (as transformers' loss).
double next_token_loss(const torch::Tensor& logits, const torch::Tensor& ids) {
  torch::Tensor lp = torch::log_softmax(logits.slice(1, 0, -1).to(torch::kFloat), -1);
  torch::Tensor target = ids.slice(1, 1).unsqueeze(-1);
  return (-lp.gather(-1, target)).mean().item<double>();
}

struct Expected {
  torch::Tensor ids, logits_f32, loss_f32, logits_bf16;
};

Expected expected_of(const std::string& variant) {
  SafetensorsFile f = SafetensorsFile::open(kFixtures / variant / "expected.safetensors");
  Expected e;
  e.ids = tensor_from_view(f.at("ids"));
  e.logits_f32 = tensor_from_view(f.at("logits_f32"));
  e.loss_f32 = tensor_from_view(f.at("loss_f32"));
  if (f.contains("logits_bf16")) e.logits_bf16 = tensor_from_view(f.at("logits_bf16"));
  return e;
}

TEST(Llama, Float32LogitsMatchTransformersForEveryVariant) {
  torch::NoGradGuard no_grad;
  for (const char* variant : kVariants) {
    SCOPED_TRACE(variant);
    LlamaForCausalLM model = load_model(kFixtures / variant);
    Expected e = expected_of(variant);
    torch::Tensor logits = model->forward(e.ids);
    ASSERT_EQ(logits.sizes(), e.logits_f32.sizes());
    EXPECT_LT(relative_error(logits, e.logits_f32), 1e-4);
    EXPECT_NEAR(next_token_loss(logits, e.ids), e.loss_f32.item<double>(),
                1e-4 * e.loss_f32.item<double>());
  }
}

TEST(Llama, ChunkedPrefillWithTheCacheEqualsOneForward) {
  torch::NoGradGuard no_grad;
  for (const char* variant : {"gqa_theta500k", "llama3", "yarn"}) {
    SCOPED_TRACE(variant);
    LlamaForCausalLM model = load_model(kFixtures / variant);
    Expected e = expected_of(variant);
    torch::Tensor whole = model->forward(e.ids);
    KvCache cache(model->config(), 1, e.ids.size(1), torch::kCPU, torch::kFloat);
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < e.ids.size(1); start += 17) {
      int64_t end = std::min<int64_t>(start + 17, e.ids.size(1));
      parts.push_back(
          model->logits(model->forward_hidden(e.ids.slice(1, start, end), start, &cache)));
    }
    EXPECT_EQ(cache.size(), e.ids.size(1));
    EXPECT_LT(relative_error(torch::cat(parts, 1), whole), 1e-5);
  }
}

TEST(Llama, PrefillKeepingTheLastPositionsEqualsForwardHidden) {
  // prefill runs the last layer's queries, attention and MLP for the kept positions only.
  // What it returns must be forward_hidden's last rows, and the cache it leaves (the last
  // layer's keys and values included) must serve later chunks as forward_hidden's does. "bias":
  // the fused q/k/v weight's bias is split like its rows.
  torch::NoGradGuard no_grad;
  for (const char* variant : {"gqa_theta500k", "mqa_tied", "bias", "llama3"}) {
    for (bool fused : {false, true}) {
      std::string what = fmt::format("{}{}", variant, fused ? " fused" : "");
      LlamaForCausalLM model = load_model(kFixtures / variant, {.fuse_projections = fused});
      Expected e = expected_of(variant);
      int64_t t = e.ids.size(1);
      torch::Tensor whole = model->forward_hidden(e.ids);  // [1, T, d]
      for (int64_t keep : {int64_t{1}, int64_t{5}, t}) {
        KvCache cache(model->config(), 1, t, torch::kCPU, torch::kFloat);
        torch::Tensor got = model->prefill(e.ids, 0, cache, keep);
        ASSERT_EQ(got.sizes(), torch::IntArrayRef({1, keep, whole.size(2)})) << what;
        EXPECT_EQ(cache.size(), t) << what;
        EXPECT_LT(relative_error(got, whole.slice(1, t - keep)), 1e-5) << what << " keep " << keep;
      }
      // Chunks keeping nothing, then the last chunk keeping its last position.
      KvCache cache(model->config(), 1, t, torch::kCPU, torch::kFloat);
      torch::Tensor last;
      for (int64_t start = 0; start < t; start += 17) {
        int64_t end = std::min<int64_t>(start + 17, t);
        last = model->prefill(e.ids.slice(1, start, end), start, cache, end == t ? 1 : 0);
        EXPECT_EQ(last.size(1), end == t ? 1 : 0) << what;
      }
      EXPECT_EQ(cache.size(), t) << what;
      EXPECT_LT(relative_error(last, whole.slice(1, t - 1)), 1e-5) << what << " in chunks";
      EXPECT_THROW(model->prefill(e.ids, 0, cache, t + 1), Error) << what;
      EXPECT_THROW(model->prefill(e.ids, 0, cache, -1), Error) << what;
    }
  }
}

TEST(Checkpoint, SaveThenLoadGivesIdenticalTensors) {
  ScratchDir tmp;
  LlamaForCausalLM model = load_model(kFixtures / "gqa_theta500k");
  save_model(model, tmp.path() / "copy", torch::kFloat, /*max_shard_bytes=*/200'000);
  EXPECT_TRUE(fs::exists(tmp.path() / "copy" / "model.safetensors.index.json"));
  LlamaForCausalLM again = load_model(tmp.path() / "copy");
  auto a = model->named_parameters(), b = again->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_EQ(again->config().rope.theta, 500000.0);
}

TEST(Checkpoint, LoadsStraightIntoTheAskedDtypeWithTheCheckpointsValues) {
  // Parameters are made in the asked dtype and filled from the file, nothing else: each must be
  // the checkpoint's tensor cast once. mqa_tied: the head is the embedding, one tensor.
  for (const char* variant : {"default", "mqa_tied"}) {
    for (torch::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
      std::string what = fmt::format("{} {}", variant, c10::toString(dtype));
      SafetensorsSet file = SafetensorsSet::open(kFixtures / variant);
      LlamaForCausalLM model = load_model(kFixtures / variant, {.dtype = dtype});
      for (const auto& item : model->named_parameters()) {
        EXPECT_EQ(item.value().scalar_type(), dtype) << what << " " << item.key();
        torch::Tensor want = tensor_from_view(file.at(item.key())).to(dtype);
        EXPECT_TRUE(torch::equal(item.value(), want)) << what << " " << item.key();
      }
      bool tied = model->config().tie_word_embeddings;
      EXPECT_EQ(tied, std::string(variant) == "mqa_tied");
      EXPECT_EQ(model->named_parameters().contains("lm_head.weight"), !tied) << what;
      if (tied) {
        EXPECT_EQ(model->lm_head->weight.data_ptr(), model->model->embed_tokens->weight.data_ptr())
            << what;
      }
    }
  }
}

TEST(Checkpoint, AMissingTensorIsAnErrorThatNamesIt) {
  ScratchDir tmp;
  fs::copy(kFixtures / "default", tmp.path() / "m");
  ModelConfig config = load_model_config(tmp.path() / "m");
  config.num_hidden_layers = 3;  // the checkpoint has 2
  write_model_config(config, tmp.path() / "m" / "config.json");
  try {
    load_model(tmp.path() / "m");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.2."), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, FrozenNtkChangesLogitsOnlyForDynamicModels) {
  torch::NoGradGuard no_grad;
  Expected e = expected_of("dynamic");
  LlamaForCausalLM following = load_model(kFixtures / "dynamic");
  LlamaForCausalLM frozen = load_model(kFixtures / "dynamic", {.rope_frozen_length_tokens = 96});
  // The fixture's ids are 96 tokens: frozen at 96 equals following the sequence to 96 (up to
  // the float32 vs Python-float base), frozen at 400 does not.
  EXPECT_LT(relative_error(frozen->forward(e.ids), following->forward(e.ids)), 1e-4);
  LlamaForCausalLM longer = load_model(kFixtures / "dynamic", {.rope_frozen_length_tokens = 400});
  EXPECT_GT(relative_error(longer->forward(e.ids), following->forward(e.ids)), 1e-3);
  EXPECT_THROW(load_model(kFixtures / "default", {.rope_frozen_length_tokens = 96}), Error);
}

TEST(Checkpoint, InitIsDeterministicAndFollowsTransformersInit) {
  ModelConfig config = load_model_config(kFixtures / "default");
  LlamaForCausalLM a = init_model(config, 7), b = init_model(config, 7);
  for (const auto& item : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), b->named_parameters()[item.key()]));
    if (item.key().ends_with("norm.weight")) {
      EXPECT_TRUE(torch::all(item.value() == 1).item<bool>());
    } else {
      EXPECT_NEAR(item.value().std().item<double>(), 0.02, 0.004) << item.key();
    }
  }
  // Drawn in the asked dtype.
  LlamaForCausalLM half = init_model(config, 7, torch::kBFloat16);
  for (const auto& item : half->named_parameters()) {
    EXPECT_EQ(item.value().scalar_type(), torch::kBFloat16) << item.key();
    if (!item.key().ends_with("norm.weight")) {
      EXPECT_NEAR(item.value().to(torch::kFloat).std().item<double>(), 0.02, 0.004) << item.key();
    }
  }
}

TEST(Llama, MatmulParametersFollowRecipeConvention) {
  // TinyLlama-1.1B's published config: 22 layers, d 2048, 32 heads, 4 KV heads, F 5632, V 32000.
  ModelConfig c = model_preset("tinyllama-1.1b");
  // per layer: attention 2048*64*(64+8) = 9,437,184; MLP 3*2048*5632 = 34,603,008
  EXPECT_EQ(matmul_parameters(c), 22 * (9437184 + 34603008) + 2048 * 32000);
}

TEST(Llama, ExecutedPrefillFlopsCountWhatRuns) {
  // A tiny shape counted by hand: d 8, 2 heads of 4 over 1 KV head, F 16, V 10, 2 layers.
  ModelConfig c;
  c.hidden_size = 8;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.intermediate_size = 16;
  c.vocab_size = 10;
  c.num_hidden_layers = 2;
  // Weights per layer: q 8*8 = 64, k 8*4 = 32, v 32, o 64, MLP 3*8*16 = 384; 576 in all.
  // A 5-token prompt, the last position kept, its logits:
  //   layer 0: 2*576*5 = 5760 in matmuls; queries 0..4 attend 1..5 keys, 15 pairs at
  //            4*2*4 = 32 FLOPs each: 480.                                       6240
  //   layer 1: k, v at 5 positions 2*64*5 = 640; q, o, MLP at 1: 2*512 = 1024;
  //            the one query attends 5 keys: 160.                                1824
  //   head: 2*8*10 at one position.                                               160
  EXPECT_DOUBLE_EQ(executed_prefill_flops(c, 0, 5, 1, 1), 6240 + 1824 + 160);
  // A chunk at positions 3-4 after 3 cached ones, nothing kept (generate's middle chunks):
  //   layer 0: 2*576*2 = 2304, queries 3 and 4 attend 4 + 5 keys: 9*32 = 288.     2592
  //   layer 1: k, v only, 2*64*2 = 256.                                            256
  EXPECT_DOUBLE_EQ(executed_prefill_flops(c, 3, 5, 0, 0), 2592 + 256);
  // Every position of both layers and the head (forward_hidden, then logits everywhere).
  EXPECT_DOUBLE_EQ(executed_prefill_flops(c, 0, 5, 5, 5), 2 * 6240 + 5 * 160);
  EXPECT_THROW(executed_prefill_flops(c, 0, 5, 6, 1), Error);
  EXPECT_THROW(executed_prefill_flops(c, 4, 3, 0, 0), Error);
}

}  // namespace
}  // namespace longctx
