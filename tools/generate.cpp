// longctx generate: greedy continuation of a prompt, with chunked prefill so a 128K-token
// prompt fits.
//
//   longctx generate --model Llama-2-7b-hf --prompt-file haystack.txt --max-new-tokens 50
//
// Phases: load the model and tokenizer -> tokenize the prompt (BOS first) -> prefill it in
// chunks into a preallocated KV cache -> take the argmax token by token until
// --max-new-tokens or a stop token -> print the continuation.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/data/tokenizer.h"
#include "model_flags.h"

namespace longctx {

namespace {

struct GenerateFlags {
  ModelFlags model;
  std::string prompt_file;
  std::string prompt;
  int64_t max_new_tokens = 50;
  int64_t chunk_tokens = 4096;
  bool bos = true;
  bool json = false;
};

int run_generate(const GenerateFlags& flags) {
  LoadOptions options = flags.model.load_options();
  LlamaForCausalLM model = load_model(flags.model.model, options);
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(flags.model.model);
  std::string text = flags.prompt_file.empty() ? flags.prompt : read_file(flags.prompt_file);
  std::vector<int32_t> prompt;
  if (flags.bos && tokenizer->bos_id() >= 0) prompt.push_back(tokenizer->bos_id());
  std::vector<int32_t> body = tokenizer->encode(text);
  prompt.insert(prompt.end(), body.begin(), body.end());
  if (prompt.empty()) throw Error("the prompt is empty");

  torch::NoGradGuard no_grad;
  auto t = static_cast<int64_t>(prompt.size());
  torch::Tensor ids =
      torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kLong)
          .unsqueeze(0)
          .to(options.device);  // [1, T]
  KvCache cache(model->config(), 1, t + flags.max_new_tokens, options.device,
                options.dtype.value_or(default_dtype(options.device)));
  auto started = std::chrono::steady_clock::now();
  torch::Tensor last;  // [1, 1, d]: hidden state of the newest token
  for (int64_t start = 0; start < t; start += flags.chunk_tokens) {
    int64_t end = std::min(start + flags.chunk_tokens, t);
    last = model->forward_hidden(ids.slice(1, start, end), start, &cache).slice(1, -1);
  }
  double prefill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const std::vector<int64_t>& stops = model->config().eos_token_ids;
  std::vector<int32_t> generated;
  std::string stop_reason = "max_new_tokens";
  for (int64_t i = 0; i < flags.max_new_tokens; ++i) {
    auto next = model->logits(last).argmax(-1).item<int64_t>();  // greedy
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) {
      stop_reason = "stop_token";
      break;
    }
    generated.push_back(static_cast<int32_t>(next));
    if (i + 1 == flags.max_new_tokens) break;
    torch::Tensor step =
        torch::full({1, 1}, next, torch::dtype(torch::kLong).device(options.device));
    last = model->forward_hidden(step, t + i, &cache);
  }
  double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string continuation = tokenizer->decode(generated);
  if (flags.json) {
    nlohmann::json out = {{"prompt_tokens", t},           {"generated_ids", generated},
                          {"text", continuation},         {"stop", stop_reason},
                          {"prefill_seconds", prefill_s}, {"total_seconds", total_s}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s\n", continuation.c_str());
    std::fprintf(stderr, "generate: %lld prompt tokens (prefill %.2f s), %zu new tokens, %s\n",
                 static_cast<long long>(t), prefill_s, generated.size(), stop_reason.c_str());
  }
  return 0;
}

}  // namespace

CommandRun add_generate_command(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* command = app.add_subcommand("generate", "Greedy continuation of a prompt");
  flags->model.add_to(*command);
  auto* file = command->add_option("--prompt-file", flags->prompt_file, "The prompt, as text");
  auto* text = command->add_option("--prompt", flags->prompt, "The prompt, on the command line");
  file->excludes(text);
  command->add_option("--max-new-tokens", flags->max_new_tokens, "Tokens to generate at most")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--chunk", flags->chunk_tokens, "Prompt tokens per prefill chunk")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--bos,!--no-bos", flags->bos, "Put BOS before the prompt (default on)");
  command->add_flag("--json", flags->json, "Print JSON (ids, text, timings)");
  return [flags, file, text] {
    if (file->count() == 0 && text->count() == 0)
      throw Error("generate needs --prompt-file or --prompt");
    return run_generate(*flags);
  };
}

}  // namespace longctx
