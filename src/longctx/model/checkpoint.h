// Hugging Face model directories <-> LlamaForCausalLM: config.json plus safetensors weights
// (single or sharded), by HF parameter names. What save_model writes, transformers'
// from_pretrained loads with the same logits (tested on the GPU machine).
//
//   LlamaForCausalLM model = load_model("Llama-2-7b-hf", {.device = torch::kCUDA});
//   save_model(model, "out", torch::kBFloat16);
//   LlamaForCausalLM fresh = init_model(config, /*seed=*/0);     // random, HF's init
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include "longctx/model/llama.h"
#include "longctx/model/safetensors.h"

namespace longctx {

struct LoadOptions {
  torch::Device device = torch::kCPU;
  // Compute dtype; default: float32 on CPU, bfloat16 on CUDA.
  std::optional<torch::ScalarType> dtype;
  // The paper's evaluation mode for dynamic-NTK checkpoints: the NTK base computed once at
  // this length and never following the sequence (RopeParameters::frozen_length_tokens).
  std::optional<int64_t> rope_frozen_length_tokens;
  // Fuse q/k/v and gate/up into single matmuls (inference; the trainer turns it off).
  bool fuse_projections = true;
  // The trainer's changes to config.json: a new RoPE base (rope_theta) and a longer
  // max_position_embeddings (written back when the model is saved).
  std::optional<double> rope_theta;
  std::optional<int64_t> max_position_embeddings;
};

torch::ScalarType default_dtype(torch::Device device);
// "float32" | "float16" | "bfloat16" (HF's torch_dtype names); throws Error otherwise.
torch::ScalarType parse_torch_dtype(std::string_view name);
std::string_view torch_dtype_name(torch::ScalarType dtype);

// A tensor's bytes as a new CPU torch tensor of its dtype (BF16, F16, F32, F64, I32, I64).
torch::Tensor tensor_from_view(const TensorView& view);

// Loads config.json and the weights of `dir`. Every parameter must be present with its shape;
// a checkpoint tensor the model has no place for is an error (except rotary inv_freq buffers,
// which older checkpoints carry, and lm_head.weight of a tied model). The parameters are made
// in their dtype on their device and each filled by one copy from the memory-mapped file, so
// host memory holds no copy of the model.
LlamaForCausalLM load_model(const std::filesystem::path& dir, const LoadOptions& options = {});

// Writes config.json (torch_dtype = save_dtype) and model.safetensors (or shards of at most
// max_shard_bytes with model.safetensors.index.json). Atomic per file.
void save_model(LlamaForCausalLM& model, const std::filesystem::path& dir,
                torch::ScalarType save_dtype, uint64_t max_shard_bytes = uint64_t{5} << 30);

// A model with transformers' initialisation: linear and embedding weights ~ N(0, 0.02),
// biases zero, norm weights one, made in `options` (dtype, device; float32 on the CPU by
// default). Weights of a narrower dtype are drawn in float32 and rounded, one tensor at a time,
// so they equal a float32 model's saved in that dtype. Deterministic for a seed and device. On the
// GPU a 7B-size model takes seconds, where the CPU's single-threaded generator takes minutes.
LlamaForCausalLM init_model(const ModelConfig& config, uint64_t seed,
                            const torch::TensorOptions& options = {});
// The same initialisation in place, wherever the model lives.
void init_weights(LlamaForCausalLM& model, uint64_t seed);

}  // namespace longctx
