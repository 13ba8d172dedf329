// longctx init: a random-weight model directory in Hugging Face layout, for tests, benchmarks
// and training from scratch.
//
//   longctx init --preset tinyllama-1.1b --tokenizer llama2/ --out tiny
//   longctx init --preset llama2-7b --tokenizer llama2/ --out 7b --dtype bfloat16 --device cuda
//
// Phases: the preset's config (vocabulary size, BOS/EOS from the tokenizer) -> transformers'
// initialisation -> config.json + model.safetensors -> the tokenizer files copied beside them.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/runtime/device.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

namespace {

namespace fs = std::filesystem;

struct InitFlags {
  std::string preset = "debug";
  std::string tokenizer;
  std::string out;
  std::string dtype = "float32";
  std::string device = "cpu";
  uint64_t seed = 0;
};

int run_init(const InitFlags& flags) {
  ModelConfig config = model_preset(flags.preset);
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(flags.tokenizer);
  config.vocab_size = static_cast<int64_t>(tokenizer->vocab_size());
  if (tokenizer->bos_id() >= 0) config.bos_token_id = tokenizer->bos_id();
  if (tokenizer->eos_id() >= 0) config.eos_token_ids = {tokenizer->eos_id()};
  config.validate();
  fs::path out = flags.out;
  if (fs::exists(out / "config.json"))
    throw Error(fmt::format("{} already holds a model", out.string()), "choose another --out");
  // Made in the saved dtype (each tensor drawn in float32 and rounded): a 7B model in bfloat16
  // needs 13 GB of memory, not 27 GB, and the weights are those a float32 draw would save.
  torch::ScalarType dtype = parse_torch_dtype(flags.dtype);
  LlamaForCausalLM model =
      init_model(config, flags.seed, torch::dtype(dtype).device(parse_device(flags.device)));
  save_model(model, out, dtype);
  // The tokenizer files beside the weights, so the directory is a complete model.
  fs::path source = flags.tokenizer;
  std::vector<fs::path> files;
  if (fs::is_directory(source)) {
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                             "special_tokens_map.json"}) {
      if (fs::exists(source / name)) files.push_back(source / name);
    }
  } else {
    files.push_back(source);
    if (fs::exists(source.parent_path() / "tokenizer_config.json"))
      files.push_back(source.parent_path() / "tokenizer_config.json");
  }
  for (const fs::path& f : files) {
    fs::copy_file(f, out / f.filename(), fs::copy_options::overwrite_existing);
  }
  std::printf("%s: %s, %lld matmul parameters, vocabulary %lld (%s)\n", out.c_str(),
              flags.preset.c_str(), static_cast<long long>(matmul_parameters(config)),
              static_cast<long long>(config.vocab_size), tokenizer->description().c_str());
  return 0;
}

}  // namespace

CommandRun add_init_command(CLI::App& app) {
  auto flags = std::make_shared<InitFlags>();
  CLI::App* command =
      app.add_subcommand("init", "Write a random-weight LLaMA model directory (HF layout)");
  command->add_option("--preset", flags->preset, "debug, tinyllama-1.1b, llama2-7b or llama3-8b")
      ->capture_default_str();
  command
      ->add_option("--tokenizer", flags->tokenizer,
                   "Tokenizer (file or model directory): sets the vocabulary and BOS/EOS, "
                   "and is copied into --out")
      ->required();
  command->add_option("--out,-o", flags->out, "Output model directory")->required();
  command->add_option("--dtype", flags->dtype, "Saved dtype: float32, bfloat16 or float16")
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "Seed of the random weights")->capture_default_str();
  command
      ->add_option("--device", flags->device,
                   "Where the weights are drawn: cpu, cuda or cuda:N (seconds for a 7B model "
                   "on a GPU; the same seed gives other weights on another device or dtype)")
      ->capture_default_str();
  return [flags] { return run_init(*flags); };
}

}  // namespace longctx
