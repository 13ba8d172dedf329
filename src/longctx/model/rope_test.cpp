#include "longctx/model/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "longctx/base/error.h"
#include "longctx/base/files.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGoldens = fs::path(LONGCTX_SOURCE_DIR) / "tests/model/rope_goldens.json";
constexpr double kTwoPi = 2 * std::numbers::pi;

// A golden case's parameters (transformers 5's rope_parameters plus sizes) as RopeParameters.
RopeParameters rope_from(const json& p) {
  RopeParameters r;
  r.type = parse_rope_type(p["rope_type"].get<std::string>());
  r.theta = p["rope_theta"].get<double>();
  r.head_dim = p["head_dim"].get<int64_t>();
  r.max_position_embeddings = p["max_position_embeddings"].get<int64_t>();
  r.factor = p.value("factor", 1.0);
  if (p.contains("original_max_position_embeddings"))
    r.original_max_position_embeddings = p["original_max_position_embeddings"].get<int64_t>();
  if (p.contains("attention_factor")) r.attention_factor = p["attention_factor"].get<double>();
  r.beta_fast = p.value("beta_fast", 32.0);
  r.beta_slow = p.value("beta_slow", 1.0);
  if (p.contains("mscale")) r.mscale = p["mscale"].get<double>();
  if (p.contains("mscale_all_dim")) r.mscale_all_dim = p["mscale_all_dim"].get<double>();
  r.truncate = p.value("truncate", true);
  r.low_freq_factor = p.value("low_freq_factor", 1.0);
  r.high_freq_factor = p.value("high_freq_factor", 4.0);
  return r;
}

RopeOptions options_from(const json& p, Arithmetic arithmetic) {
  RopeOptions o;
  o.arithmetic = arithmetic;
  if (p.contains("seq_len")) o.seq_len_tokens = p["seq_len"].get<int64_t>();
  if (p.value("seq_len_kind", "int") == "tensor") o.ntk_seq_len = NtkSeqLen::kTensor;
  return o;
}

// Every case of scripts/make_rope_goldens.py (transformers' formulas in Python's math module,
// float32 roundings emulated with struct): float32 values must match bit for bit, float64
// values to rounding.
TEST(Rope, MatchesTheStandardLibraryGoldens) {
  json goldens = json::parse(read_file(kGoldens));
  ASSERT_GE(goldens["cases"].size(), 16u);
  for (const json& c : goldens["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    RopeParameters rope = rope_from(c["params"]);
    RopeFrequencies f32 = compute_rope(rope, options_from(c["params"], Arithmetic::kFloat32));
    RopeFrequencies f64 = compute_rope(rope, options_from(c["params"], Arithmetic::kFloat64));
    auto want32 = c["inv_freq_float32"].get<std::vector<double>>();
    auto want64 = c["inv_freq_float64"].get<std::vector<double>>();
    ASSERT_EQ(f32.inv_freq.size(), want32.size());
    for (size_t i = 0; i < want32.size(); ++i) {
      EXPECT_EQ(f32.inv_freq[i], want32[i]) << "pair " << i;
      EXPECT_EQ(static_cast<double>(static_cast<float>(f32.inv_freq[i])), f32.inv_freq[i]);
      EXPECT_NEAR(f64.inv_freq[i], want64[i], 1e-15 * want64[i]) << "pair " << i;
    }
    EXPECT_DOUBLE_EQ(f32.attention_factor, c["attention_factor"].get<double>());
    EXPECT_DOUBLE_EQ(f32.base, c["base_float32"].get<double>());
    EXPECT_DOUBLE_EQ(f64.base, c["base_float64"].get<double>());
  }
}

// RECIPE.md section 3: dynamic NTK, factor 10 over 4096 positions, frozen at 81920 tokens,
// head_dim 128: base 10000 * (10 * 81920 / 4096 - 9)^(128/126) ~= 2.076e6.
TEST(Rope, PaperFrozenDynamicNtkBase) {
  RopeParameters rope{.type = RopeType::kDynamic,
                      .theta = 10000,
                      .head_dim = 128,
                      .max_position_embeddings = 4096,
                      .factor = 10,
                      .frozen_length_tokens = 81920};
  RopeFrequencies f = compute_rope(rope);
  double want = 10000 * std::pow(191.0, 128.0 / 126.0);
  EXPECT_DOUBLE_EQ(f.base, want);
  EXPECT_NEAR(f.base, 2.076e6, 0.001e6);
  // Frozen means the sequence length does not matter.
  RopeOptions longer{.seq_len_tokens = 131072};
  EXPECT_EQ(compute_rope(rope, longer).inv_freq, f.inv_freq);
  // It is the default RoPE with that base.
  RopeParameters plain{.theta = f.base, .head_dim = 128};
  EXPECT_EQ(compute_rope(plain).inv_freq, f.inv_freq);
  RopeCoverage c = rope_coverage(rope);
  EXPECT_NEAR(c.effective_base, want, 1e-9 * want);
}

TEST(Rope, DynamicBelowTheMaximumIsTheDefault) {
  RopeParameters dynamic{
      .type = RopeType::kDynamic, .head_dim = 64, .max_position_embeddings = 2048, .factor = 4};
  RopeParameters plain{.head_dim = 64, .max_position_embeddings = 2048};
  for (int64_t seq_len : {1, 100, 2048}) {
    RopeOptions o{.seq_len_tokens = seq_len};
    EXPECT_EQ(compute_rope(dynamic, o).inv_freq, compute_rope(plain).inv_freq) << seq_len;
  }
  RopeOptions longer{.seq_len_tokens = 4096};
  EXPECT_LT(compute_rope(dynamic, longer).inv_freq.back(), compute_rope(plain).inv_freq.back());
}

TEST(Rope, LinearDividesEveryFrequencyAndKeepsTheAttentionFactor) {
  RopeParameters plain;
  RopeParameters linear{.type = RopeType::kLinear, .factor = 4};
  RopeOptions exact{.arithmetic = Arithmetic::kFloat64};
  std::vector<double> a = compute_rope(plain, exact).inv_freq;
  RopeFrequencies b = compute_rope(linear, exact);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b.inv_freq[i], a[i] / 4);
  EXPECT_EQ(b.attention_factor, 1.0);
  // Effective base: theta * factor^(D/(D-2)).
  EXPECT_NEAR(rope_coverage(linear).effective_base, 10000 * std::pow(4.0, 128.0 / 126.0), 1e-6);
}

TEST(Rope, YarnKeepsFastPairsAndDividesSlowOnes) {
  // YaRN-Mistral-7b-128k: factor 16 over 8192 tokens; the ramp runs between the pairs that
  // turn 32 and 1 times within 8192 tokens.
  RopeParameters yarn{.type = RopeType::kYarn,
                      .head_dim = 128,
                      .max_position_embeddings = 131072,
                      .factor = 16,
                      .original_max_position_embeddings = 8192};
  RopeParameters plain{.head_dim = 128};
  RopeOptions exact{.arithmetic = Arithmetic::kFloat64};
  RopeFrequencies y = compute_rope(yarn, exact);
  std::vector<double> p = compute_rope(plain, exact).inv_freq;
  EXPECT_DOUBLE_EQ(y.inv_freq[0], p[0]);
  EXPECT_DOUBLE_EQ(y.inv_freq[63], p[63] / 16);
  EXPECT_DOUBLE_EQ(y.attention_factor, 0.1 * std::log(16.0) + 1);
  // mscale / mscale_all_dim replace the default attention factor; an explicit one wins.
  yarn.mscale = 1.0;
  yarn.mscale_all_dim = 0.5;
  EXPECT_DOUBLE_EQ(compute_rope(yarn).attention_factor,
                   (0.1 * std::log(16.0) + 1) / (0.05 * std::log(16.0) + 1));
  yarn.attention_factor = 0.9;
  EXPECT_EQ(compute_rope(yarn).attention_factor, 0.9);
}

TEST(Rope, Llama3ScalesOnlyTheLowFrequencies) {
  RopeParameters llama3{.type = RopeType::kLlama3,
                        .theta = 500000,
                        .head_dim = 128,
                        .max_position_embeddings = 131072,
                        .factor = 8,
                        .original_max_position_embeddings = 8192};
  RopeParameters plain{.theta = 500000, .head_dim = 128};
  RopeOptions exact{.arithmetic = Arithmetic::kFloat64};
  std::vector<double> l = compute_rope(llama3, exact).inv_freq;
  std::vector<double> p = compute_rope(plain, exact).inv_freq;
  for (size_t i = 0; i < p.size(); ++i) {
    double wavelength = kTwoPi / p[i];
    if (wavelength < 8192.0 / 4) {
      EXPECT_EQ(l[i], p[i]) << i;  // high frequency: kept
    }
    if (wavelength > 8192.0) {
      EXPECT_DOUBLE_EQ(l[i], p[i] / 8) << i;  // low frequency: divided by the factor
    }
    EXPECT_LE(l[i], p[i]);
    EXPECT_GE(l[i], p[i] / 8 * (1 - 1e-15));
  }
}

// Liu et al.'s bound for LLaMA-2: critical pair 46 (dimension 92), 2*pi*base^(92/128).
TEST(Rope, CoveredContextIsTheCriticalPairsWavelength) {
  RopeParameters llama2;  // theta 1e4, D 128, 4096 positions
  RopeCoverage c = rope_coverage(llama2);
  ASSERT_TRUE(c.critical_pair);
  EXPECT_EQ(*c.critical_pair, 46);
  EXPECT_NEAR(*c.covered_context_tokens, kTwoPi * std::pow(1e4, 92.0 / 128), 1e-6);
  EXPECT_LT(c.pretraining_wavelength_tokens[45], 4096);
  EXPECT_GE(c.pretraining_wavelength_tokens[46], 4096);
  EXPECT_NEAR(c.longest_wavelength_tokens, kTwoPi * std::pow(1e4, 126.0 / 128), 1e-6);

  // A base change, measured against the pretraining base.
  RopeParameters base_500k{.theta = 500000};
  RopeCoverage b = rope_coverage(base_500k, {}, 10000.0, 4096);
  EXPECT_EQ(*b.critical_pair, 46);
  EXPECT_NEAR(*b.covered_context_tokens, kTwoPi * std::pow(5e5, 92.0 / 128), 1e-6);
  EXPECT_GT(*b.covered_context_tokens, 78000);
  EXPECT_LT(*b.covered_context_tokens, 79000);

  // The paper's frozen dynamic NTK covers more than 128K; linear x4 covers 4x.
  RopeParameters frozen{.type = RopeType::kDynamic, .factor = 10, .frozen_length_tokens = 81920};
  EXPECT_GT(*rope_coverage(frozen).covered_context_tokens, 131072);
  RopeParameters linear{.type = RopeType::kLinear, .factor = 4};
  EXPECT_NEAR(*rope_coverage(linear).covered_context_tokens, 4 * *c.covered_context_tokens, 1e-6);

  // No pair reaches a 1M-token pretraining context: no critical pair, no bound.
  RopeCoverage none = rope_coverage(llama2, {}, std::nullopt, 1'000'000);
  EXPECT_FALSE(none.critical_pair);
  EXPECT_FALSE(none.covered_context_tokens);
}

TEST(Rope, InvalidParametersNameTheField) {
  auto error = [](const RopeParameters& r) -> std::string {
    try {
      r.validate();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error(RopeParameters{}), "");
  EXPECT_NE(error(RopeParameters{.head_dim = 127}).find("head_dim is 127"), std::string::npos);
  EXPECT_NE(error(RopeParameters{.theta = 0}).find("rope_theta is 0"), std::string::npos);
  EXPECT_NE(error(RopeParameters{.type = RopeType::kLinear, .factor = 0.5}).find("factor is 0.5"),
            std::string::npos);
  EXPECT_NE(error(RopeParameters{.type = RopeType::kLlama3, .factor = 8})
                .find("original_max_position_embeddings is missing"),
            std::string::npos);
  EXPECT_NE(error(RopeParameters{.frozen_length_tokens = 81920}).find("dynamic NTK only"),
            std::string::npos);
  EXPECT_NE(
      error(RopeParameters{.type = RopeType::kYarn, .factor = 4, .beta_fast = 1, .beta_slow = 32})
          .find("beta_fast >= beta_slow"),
      std::string::npos);
  try {
    parse_rope_type("longrope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported RoPE type \"longrope\""), std::string::npos);
  }
}

}  // namespace
}  // namespace longctx
