// End-to-end tests of `longctx rope`: from flags and from a model directory's config.json.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace longctx {
namespace {

testing::CommandResult rope(const std::string& args) {
  return testing::run_command(fmt::format("{} rope {}", LONGCTX_BINARY, args));
}

TEST(RopeCli, PaperEvaluationModeFromFlags) {
  testing::CommandResult r = rope("--rope-type dynamic --factor 10 --frozen-length 81920 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  double want = 10000 * std::pow(191.0, 128.0 / 126.0);  // ~2.076e6
  EXPECT_DOUBLE_EQ(out["base"].get<double>(), want);
  EXPECT_NEAR(out["effective_base"].get<double>(), want, 1e-6 * want);
  EXPECT_EQ(out["critical_pair"], 46);
  EXPECT_GT(out["covered_context_tokens"].get<double>(), 131072);
  ASSERT_EQ(out["pairs"].size(), 64u);
  EXPECT_EQ(out["pairs"][0]["inv_freq"], 1.0);
  EXPECT_EQ(out["pairs"][63]["dims"], nlohmann::json({63, 127}));

  testing::CommandResult table = rope("--rope-type dynamic --factor 10 --frozen-length 81920");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("base                 2.07606e+06"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("<- critical"), std::string::npos) << table.out;
}

TEST(RopeCli, ReadsTheModelsConfigAndFlagsOverrideIt) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "config.json", R"({
    "model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32,
    "max_position_embeddings": 131072, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  testing::CommandResult r = rope("--json --model " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["rope_type"], "llama3");
  EXPECT_EQ(out["pretraining_context_tokens"], 8192);
  // The slowest pair's frequency is divided by the factor.
  double plain_slowest = std::pow(500000.0, -126.0 / 128.0);
  EXPECT_NEAR(out["pairs"][63]["inv_freq"].get<double>(), plain_slowest / 8, 1e-6 * plain_slowest);

  testing::CommandResult plain = rope("--json --rope-type default --model " + dir.path().string());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["rope_type"], "default");
}

TEST(RopeCli, ErrorsNameTheProblem) {
  testing::CommandResult bad_type = rope("--rope-type longrope");
  EXPECT_EQ(bad_type.exit_code, 1);
  EXPECT_NE(bad_type.err.find("unsupported RoPE type \"longrope\""), std::string::npos)
      << bad_type.err;
  testing::CommandResult odd = rope("--head-dim 127");
  EXPECT_EQ(odd.exit_code, 1);
  EXPECT_NE(odd.err.find("head_dim is 127"), std::string::npos) << odd.err;
  testing::CommandResult missing = rope("--model /nonexistent-model");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent-model"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace longctx
