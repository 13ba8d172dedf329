// Named model shapes for `longctx init` and the benchmarks: the published configs' sizes,
// vocabularies and RoPE bases, with random weights in mind (no checkpoint needed).
//
//   ModelConfig c = model_preset("tinyllama-1.1b");   // d 2048, 22 layers, 4 KV heads
#pragma once

#include <string_view>

#include "longctx/model/config.h"

namespace longctx {

// "debug" (2 layers, width 64: the CPU test shape), "tinyllama-1.1b", "llama2-7b",
// "llama3-8b". Throws Error naming --preset for anything else.
ModelConfig model_preset(std::string_view name);

// Sets max_position_embeddings (and the RoPE's copy of it) to `tokens`.
void set_context_length(ModelConfig& config, int64_t tokens);

}  // namespace longctx
