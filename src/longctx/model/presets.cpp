#include "longctx/model/presets.h"

#include <fmt/format.h>

#include "longctx/base/error.h"

namespace longctx {

ModelConfig model_preset(std::string_view name) {
  ModelConfig c;
  auto set = [&](int64_t d, int64_t layers, int64_t heads, int64_t kv, int64_t ffn, int64_t vocab,
                 int64_t context_tokens, double theta) {
    c.hidden_size = d;
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv;
    c.head_dim = d / heads;
    c.intermediate_size = ffn;
    c.vocab_size = vocab;
    c.rms_norm_eps = 1e-5;
    c.rope.theta = theta;
    c.rope.head_dim = c.head_dim;
    set_context_length(c, context_tokens);
  };
  if (name == "debug") {
    set(64, 2, 4, 2, 176, 256, 4096, 10000);
  } else if (name == "tinyllama-1.1b") {
    set(2048, 22, 32, 4, 5632, 32000, 2048, 10000);
  } else if (name == "llama2-7b") {
    set(4096, 32, 32, 32, 11008, 32000, 4096, 10000);
  } else if (name == "llama3-8b") {
    set(4096, 32, 32, 8, 14336, 128256, 8192, 500000);
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001};
  } else {
    throw Error(fmt::format("--preset: unknown preset '{}'", name),
                "use debug, tinyllama-1.1b, llama2-7b or llama3-8b");
  }
  return c;
}

void set_context_length(ModelConfig& config, int64_t tokens) {
  config.max_position_embeddings = tokens;
  config.rope.max_position_embeddings = tokens;
}

}  // namespace longctx
