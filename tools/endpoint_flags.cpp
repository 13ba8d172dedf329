#include "endpoint_flags.h"

#include "longctx/base/error.h"

namespace longctx {

void BackendFlags::add_to(CLI::App& command) {
  command.add_option("--model", model.model, "Our backend: a Hugging Face model directory");
  command.add_option("--device", model.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  command.add_option("--dtype", model.dtype, "auto, float32, bfloat16")->capture_default_str();
  command.add_option("--rope-frozen-length", model.rope_frozen_length,
                     "Dynamic-NTK models: freeze the NTK base here (81920 for the paper's)");
  command.add_option("--endpoint", endpoint, "A served model: base URL (http://host:port)");
  command.add_option("--api-model", api_model, "The served model's name");
  command.add_option("--api-key", api_key, "Bearer key (default: $OPENAI_API_KEY)");
  command.add_option("--tokenizer", tokenizer, "The served model's tokenizer");
  command.add_option("--concurrency", concurrency, "Requests in flight")->capture_default_str();
  command.add_option("--timeout", timeout_s, "Seconds per request attempt")->capture_default_str();
  command.add_option("--retries", retries, "Retries of a failed request")->capture_default_str();
}

void BackendFlags::validate() const {
  if (native() == !endpoint.empty())
    throw Error("give either --model DIR (our model) or --endpoint URL (a served model)");
  if (!native() && tokenizer.empty())
    throw Error("--endpoint needs --tokenizer (the served model's)",
                "the prompts are tokenized here: pass the served model's tokenizer files");
}

EndpointOptions BackendFlags::endpoint_options() const {
  return {.url = endpoint,
          .model = api_model,
          .api_key = api_key,
          .timeout_seconds = timeout_s,
          .retries = retries,
          .concurrency = concurrency};
}

}  // namespace longctx
