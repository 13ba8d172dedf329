// longctx generate: greedy continuation of a prompt, with chunked prefill so a 128K-token
// prompt fits.
//
//   longctx generate --model Llama-2-7b-hf --prompt-file haystack.txt --max-new-tokens 50
//
// Phases: load the model and tokenizer -> tokenize the prompt (BOS first) -> Generator
// (model/generation.h): prefill in chunks into a preallocated KV cache, argmax token by token
// until --max-new-tokens or a stop token -> print the continuation.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/model/generation.h"
#include "longctx/tokenizer/tokenizer.h"
#include "model_flags.h"

namespace longctx {

namespace {

struct GenerateFlags {
  ModelFlags model;
  std::string prompt_file;
  std::string prompt;
  int64_t max_new_tokens = 50;
  int64_t chunk_tokens = 0;  // 0: auto_prefill_chunk
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

  torch::ScalarType dtype = options.dtype.value_or(default_dtype(options.device));
  auto t = static_cast<int64_t>(prompt.size());
  Generator generator(model, t + flags.max_new_tokens, options.device, dtype);
  GenerationResult r = generator.generate(
      prompt, {.max_new_tokens = flags.max_new_tokens, .chunk_tokens = flags.chunk_tokens});
  const std::vector<int32_t>& generated = r.generated;
  const std::string& stop_reason = r.stop_reason;
  double prefill_s = r.prefill_seconds, total_s = r.total_seconds;
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
      ->check(non_negative_tokens());
  command
      ->add_option("--chunk", flags->chunk_tokens,
                   "Prompt tokens per prefill chunk (0: on CUDA as many as the free memory "
                   "holds, up to the whole prompt; 4096 on the CPU)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  command->add_flag("--bos,!--no-bos", flags->bos, "Put BOS before the prompt (default on)");
  command->add_flag("--json", flags->json, "Print JSON (ids, text, timings)");
  return [flags, file, text] {
    if (file->count() == 0 && text->count() == 0)
      throw Error("generate needs --prompt-file or --prompt");
    return run_generate(*flags);
  };
}

}  // namespace longctx
