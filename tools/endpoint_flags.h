// Flags of the commands that run either our model or a served one (eval mmlu, eval bookqa):
// --model and its device and dtype, or --endpoint with the served model's name, key, tokenizer
// and the client's concurrency, timeout and retries.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "longctx/eval/openai_client.h"
#include "model_flags.h"

namespace longctx {

struct BackendFlags {
  ModelFlags model;  // model.model empty: the endpoint
  std::string endpoint, api_model, api_key, tokenizer;
  int concurrency = 4, retries = 3;
  double timeout_s = 600;

  void add_to(CLI::App& command);
  bool native() const { return !model.model.empty(); }
  // Throws Error unless exactly one of --model and --endpoint is given, and an endpoint has
  // --tokenizer.
  void validate() const;
  // Where the tokenizer comes from: the model directory, or --tokenizer.
  const std::string& tokenizer_source() const { return native() ? model.model : tokenizer; }
  EndpointOptions endpoint_options() const;
};

}  // namespace longctx
