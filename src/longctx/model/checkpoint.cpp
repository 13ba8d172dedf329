#include "longctx/model/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <regex>
#include <set>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

torch::ScalarType scalar_type_of(DType dtype, const std::string& name) {
  switch (dtype) {
    case DType::kBF16:
      return torch::kBFloat16;
    case DType::kF16:
      return torch::kHalf;
    case DType::kF32:
      return torch::kFloat;
    case DType::kF64:
      return torch::kDouble;
    case DType::kI32:
      return torch::kInt;
    case DType::kI64:
      return torch::kLong;
    default:
      throw Error(fmt::format("tensor {} has dtype {}, which a model cannot load", name,
                              dtype_name(dtype)));
  }
}

DType dtype_of(torch::ScalarType type) {
  switch (type) {
    case torch::kBFloat16:
      return DType::kBF16;
    case torch::kHalf:
      return DType::kF16;
    case torch::kFloat:
      return DType::kF32;
    default:
      throw Error(fmt::format("cannot save tensors of type {}", c10::toString(type)));
  }
}

// Buffers some published checkpoints carry that hold nothing a model needs.
bool ignorable(const std::string& name, const ModelConfig& config) {
  static const std::regex rotary(R"(model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq)");
  if (std::regex_match(name, rotary)) return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

}  // namespace

torch::ScalarType default_dtype(torch::Device device) {
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat;
}

torch::ScalarType parse_torch_dtype(std::string_view name) {
  if (name == "float32") return torch::kFloat;
  if (name == "float16") return torch::kHalf;
  if (name == "bfloat16") return torch::kBFloat16;
  throw Error(fmt::format("unknown dtype '{}'", name), "use float32, float16 or bfloat16");
}

std::string_view torch_dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat:
      return "float32";
    case torch::kHalf:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    default:
      return "unknown";
  }
}

torch::Tensor tensor_from_view(const TensorView& view) {
  torch::ScalarType type = scalar_type_of(view.dtype, "");
  torch::Tensor out = torch::empty(view.shape, torch::dtype(type));
  if (!view.bytes.empty()) std::memcpy(out.data_ptr(), view.bytes.data(), view.bytes.size());
  return out;
}

LlamaForCausalLM load_model(const fs::path& dir, const LoadOptions& options) {
  ModelConfig config = load_model_config(dir);
  if (options.rope_frozen_length_tokens) {
    if (config.rope.type != RopeType::kDynamic) {
      throw Error(fmt::format("--rope-frozen-length needs a dynamic-NTK model; {} has rope type {}",
                              dir.string(), rope_type_name(config.rope.type)));
    }
    config.rope.frozen_length_tokens = options.rope_frozen_length_tokens;
    config.validate();
  }
  if (options.rope_theta) config.rope.theta = *options.rope_theta;
  if (options.max_position_embeddings) {
    config.max_position_embeddings = *options.max_position_embeddings;
    config.rope.max_position_embeddings = *options.max_position_embeddings;
  }
  if (options.rope_theta || options.max_position_embeddings) config.validate();
  SafetensorsSet weights = SafetensorsSet::open(dir);
  torch::ScalarType dtype = options.dtype.value_or(default_dtype(options.device));
  // Parameters straight in their dtype on their device, each copied once from the mapped file.
  LlamaForCausalLM model(config, torch::dtype(dtype).device(options.device));
  std::set<std::string> used;
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_parameters()) {
      const std::string& name = item.key();
      if (!weights.contains(name)) {
        throw Error(
            fmt::format("{}: the checkpoint has no tensor {}", weights.source().string(), name),
            "is this a LLaMA-family checkpoint that matches its config.json?");
      }
      const TensorView& view = weights.at(name);
      std::vector<int64_t> want = item.value().sizes().vec();
      if (view.shape != want) {
        throw Error(fmt::format("{}: tensor {} has shape [{}], the config needs [{}]",
                                weights.file_of(name).string(), name, fmt::join(view.shape, ", "),
                                fmt::join(want, ", ")));
      }
      scalar_type_of(view.dtype, name);  // rejects integer or exotic weights by name
      item.value().copy_(tensor_from_view(view));
      used.insert(name);
    }
  }
  for (const auto& [name, view] : weights.tensors()) {
    if (!used.count(name) && !ignorable(name, config)) {
      throw Error(fmt::format("{}: tensor {} has no place in a {} model", weights.source().string(),
                              name, model_type_name(config.model_type)),
                  "the checkpoint has parts this model does not implement");
    }
  }
  if (options.fuse_projections) model->fuse_projections();
  model->eval();
  return model;
}

void save_model(LlamaForCausalLM& model, const fs::path& dir, torch::ScalarType save_dtype,
                uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<torch::Tensor> keep;  // CPU copies that back the byte spans below
  std::vector<TensorToWrite> tensors;
  for (auto& item : model->named_parameters()) {
    torch::Tensor t = item.value().detach().to(torch::kCPU, save_dtype).contiguous();
    keep.push_back(t);
    tensors.push_back(TensorToWrite{
        item.key(), dtype_of(save_dtype), t.sizes().vec(),
        std::span<const std::byte>(static_cast<const std::byte*>(t.data_ptr()), t.nbytes())});
  }
  write_safetensors_sharded(dir, tensors, max_shard_bytes);
  ModelConfig config = model->config();
  config.torch_dtype = std::string(torch_dtype_name(save_dtype));
  write_model_config(config, dir / "config.json");
}

LlamaForCausalLM init_model(const ModelConfig& config, uint64_t seed,
                            const torch::TensorOptions& options) {
  LlamaForCausalLM model(config, options);
  init_weights(model, seed);
  return model;
}

void init_weights(LlamaForCausalLM& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    if (name.ends_with("norm.weight")) {
      item.value().fill_(1.0);
    } else if (name.ends_with(".bias")) {
      item.value().zero_();
    } else if (item.value().scalar_type() == torch::kFloat ||
               item.value().scalar_type() == torch::kDouble) {
      item.value().normal_(0.0, 0.02);
    } else {
      // Narrower types draw in float32 and round: the CPU's vectorised float32 generator is
      // faster than its scalar bfloat16 one, and the values are those of a float32 model saved
      // in this dtype. One tensor's float32 copy at a time.
      item.value().copy_(torch::empty_like(item.value(), torch::kFloat).normal_(0.0, 0.02));
    }
  }
}

}  // namespace longctx
