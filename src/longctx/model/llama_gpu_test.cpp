// The libtorch LLaMA in bfloat16 on CUDA against transformers' own bfloat16 forward (ctest
// label gpu; skipped without a CUDA device). Fixtures: tests/model/fixtures (llama_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "longctx/model/checkpoint.h"
#include "longctx/model/llama.h"
#include "longctx/model/safetensors.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LONGCTX_SOURCE_DIR) / "tests/model/fixtures";
const char* kVariants[] = {"default", "gqa_theta500k", "mqa_tied", "linear", "dynamic",
                           "yarn",    "llama3",        "bias",     "mistral"};

double relative_error(const torch::Tensor& out, const torch::Tensor& ref) {
  return ((out.to(torch::kDouble) - ref.to(torch::kDouble)).norm() / ref.to(torch::kDouble).norm())
      .item<double>();
}

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

}  // namespace
}  // namespace longctx
