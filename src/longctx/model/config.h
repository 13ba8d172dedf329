// The Hugging Face `config.json` of a LLaMA-family model (model_type "llama" or "mistral"):
// sizes, norms, token ids, and the RoPE, read from either spelling transformers has used:
//
//   classic (published checkpoints)     "rope_theta": 500000.0,
//                                        "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
//                                        ...}
//   transformers 5                       "rope_parameters": {"rope_type": "llama3",
//                                                           "rope_theta": 500000.0, ...}
//
// Missing fields take transformers' defaults for the model type (LlamaConfig or MistralConfig).
// Nothing that changes the computation is ignored: a field outside the known set is an error
// that names it, unless it is on an explicit list of harmless fields (architectures,
// transformers_version, initializer_range, pad_token_id, use_cache, ...). Features this model
// does not implement are errors too: Mistral's sliding window, pretraining_tp != 1, hidden_act
// other than silu, attention dropout, partial rotary factors, RoPE types other than default,
// linear, dynamic, yarn and llama3.
//
//   ModelConfig config = load_model_config("Llama-2-7b-hf");   // a directory or a config.json
//   config.head_dim;                                           // 128
//   write_model_config(config, "out/config.json");             // classic fields
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "longctx/model/rope.h"

namespace longctx {

enum class ModelType { kLlama, kMistral };

struct ModelConfig {
  ModelType model_type = ModelType::kLlama;
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;         // d_model
  int64_t intermediate_size = 11008;  // SwiGLU hidden width
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // GQA: heads share K/V in groups of heads / kv_heads
  int64_t head_dim = 128;            // default hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 2048;  // tokens
  bool tie_word_embeddings = false;
  // "float32", "float16" or "bfloat16" (torch_dtype, or transformers 5's dtype); the dtype the
  // weights were saved in. Absent in some configs.
  std::optional<std::string> torch_dtype;
  std::optional<int64_t> bos_token_id = 1;
  std::vector<int64_t> eos_token_ids = {2};  // one or several stop tokens
  bool eos_token_id_is_list = false;         // written back the way it was read
  bool attention_bias = false;               // q/k/v/o projections have biases
  bool mlp_bias = false;                     // gate/up/down projections have biases
  std::string hidden_act = "silu";
  RopeParameters rope;  // rope.head_dim and rope.max_position_embeddings mirror the fields above

  // Throws Error naming the bad field and value.
  void validate() const;
};

std::string_view model_type_name(ModelType type);

// Parses a config.json document; `origin` names it in errors (a path). Validates the result.
ModelConfig parse_model_config(const nlohmann::json& doc, const std::string& origin);
// `path`: a model directory (its config.json) or a config file.
ModelConfig load_model_config(const std::filesystem::path& path);

// The config as published checkpoints carry it: architectures, model_type, the sizes,
// rope_theta and rope_scaling (null, or the scaling fields with both "rope_type" and the older
// "type" key, as transformers 4 writes them), torch_dtype. transformers 4 and 5 both read it.
nlohmann::json model_config_json(const ModelConfig& config);
// Writes model_config_json(config) to `path` atomically, indented 2 as save_pretrained does.
void write_model_config(const ModelConfig& config, const std::filesystem::path& path);

}  // namespace longctx
