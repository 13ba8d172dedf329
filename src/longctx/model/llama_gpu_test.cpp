// The libtorch LLaMA in bfloat16 on CUDA against transformers' own bfloat16 forward (ctest
// label gpu; skipped without a CUDA device). Fixtures: tests/model/fixtures (llama_test.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "longctx/model/checkpoint.h"
#include "longctx/model/llama.h"
#include "longctx/model/safetensors.h"
#include "support/model_test_support.h"

namespace longctx {
namespace {

using test::relative_error;

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LONGCTX_SOURCE_DIR) / "tests/model/fixtures";
const char* kVariants[] = {"default", "gqa_theta500k", "mqa_tied", "linear", "dynamic",
                           "yarn",    "llama3",        "bias",     "mistral"};

TEST(Llama, CudaBfloat16LogitsMatchTransformersBfloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  for (const char* variant : kVariants) {
    SCOPED_TRACE(variant);
    LlamaForCausalLM model = load_model(kFixtures / variant, {.device = torch::kCUDA});
    SafetensorsFile expected = SafetensorsFile::open(kFixtures / variant / "expected.safetensors");
    torch::Tensor ids = tensor_from_view(expected.at("ids"));
    torch::Tensor f32 = tensor_from_view(expected.at("logits_f32"));
    ASSERT_TRUE(expected.contains("logits_bf16"));
    torch::Tensor bf16 = tensor_from_view(expected.at("logits_bf16"));
    torch::Tensor logits = model->forward(ids.to(torch::kCUDA)).to(torch::kCPU, torch::kFloat);
    // Two bf16 computations differ by rounding order: compare each with the float32 truth.
    double ours = relative_error(logits, f32);
    double theirs = relative_error(bf16, f32);
    EXPECT_LT(ours, 2e-2);
    EXPECT_LT(ours, 2 * theirs + 1e-3) << "transformers' bf16 error " << theirs;
  }
}

// With LONGCTX_EXPORT_DIR set (scripts/gpu/model_checks.sh sets it), saves fixture models with
// save_model, in float32 and bfloat16, beside our float32 CPU logits on the fixture ids, for
// scripts/gpu/check_saved_models.py to load with transformers' from_pretrained and compare
// (the script fails when a directory is missing or differs). Here: each saved directory loads
// back in longctx with the logits it was saved beside (float32 to rounding; bfloat16 within
// the weights' rounding), and ours.safetensors holds exactly the ids and logits.
TEST(Checkpoint, ExportSavedModelsForTransformers) {
  const char* dir = std::getenv("LONGCTX_EXPORT_DIR");
  if (dir == nullptr) GTEST_SKIP() << "LONGCTX_EXPORT_DIR is not set";
  int exported = 0;
  torch::NoGradGuard no_grad;
  for (const char* variant : {"gqa_theta500k", "llama3", "mqa_tied", "yarn"}) {
    LlamaForCausalLM model = load_model(kFixtures / variant);
    SafetensorsFile expected = SafetensorsFile::open(kFixtures / variant / "expected.safetensors");
    torch::Tensor ids = tensor_from_view(expected.at("ids"));
    torch::Tensor logits = model->forward(ids).contiguous();
    for (auto [dtype, name] :
         {std::pair{torch::kFloat, "float32"}, {torch::kBFloat16, "bfloat16"}}) {
      fs::path out = fs::path(dir) / (std::string(variant) + "_" + name);
      save_model(model, out, dtype, /*max_shard_bytes=*/300'000);  // sharded, as big models are
      std::vector<TensorToWrite> tensors = {
          {"ids", DType::kI64, ids.sizes().vec(),
           std::span<const std::byte>(static_cast<const std::byte*>(ids.data_ptr()), ids.nbytes())},
          {"logits", DType::kF32, logits.sizes().vec(),
           std::span<const std::byte>(static_cast<const std::byte*>(logits.data_ptr()),
                                      logits.nbytes())}};
      write_safetensors(out / "ours.safetensors", tensors);
      SCOPED_TRACE(out.string());
      SafetensorsFile written = SafetensorsFile::open(out / "ours.safetensors");
      EXPECT_TRUE(torch::equal(tensor_from_view(written.at("ids")), ids));
      EXPECT_TRUE(torch::equal(tensor_from_view(written.at("logits")), logits));
      LlamaForCausalLM reloaded = load_model(out, {.dtype = torch::kFloat});
      double error = relative_error(reloaded->forward(ids), logits);
      EXPECT_LT(error, dtype == torch::kFloat ? 1e-6 : 2e-2) << name;
      ++exported;
    }
  }
  EXPECT_EQ(exported, 8);
}

}  // namespace
}  // namespace longctx
