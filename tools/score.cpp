// longctx score: next-token losses of a text (or of token ids) under a model; the basis of the
// per-domain loss evaluation.
//
//   longctx score --model Llama-2-7b-hf --text-file book.txt --json
//
// Phases: load the model -> tokenize (BOS first unless --no-bos) or read ids -> forward in
// chunks through the KV cache (so a 128K-token text never materialises [T, V] logits) ->
// per-token losses -> print the mean (and every loss with --json).
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

struct ScoreFlags {
  ModelFlags model;
  std::string text_file;
  std::string ids_file;
  bool bos = true;
  bool json = false;
  int64_t chunk_tokens = 0;  // 0: as generate picks it (auto_prefill_chunk)
};

// Rows of the LM head computed at a time: their float32 log-probabilities, [rows, V], exist at
// once, whatever the chunk.
constexpr int64_t kHeadRows = 4096;

int run_score(const ScoreFlags& flags) {
  // Build the model, then the ids.
  LoadOptions options = flags.model.load_options();
  LlamaForCausalLM model = load_model(flags.model.model, options);
  std::vector<int32_t> ids;
  if (!flags.ids_file.empty()) {
    ids = parse_token_ids(read_file(flags.ids_file), flags.ids_file);
  } else {
    std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(flags.model.model);
    if (flags.bos && tokenizer->bos_id() >= 0) ids.push_back(tokenizer->bos_id());
    std::vector<int32_t> text = tokenizer->encode(read_file(flags.text_file));
    ids.insert(ids.end(), text.begin(), text.end());
  }
  if (ids.size() < 2) throw Error("need at least 2 tokens to score");
  for (int32_t id : ids) {
    if (id >= model->config().vocab_size)
      throw Error(fmt::format("token id {} is outside the model's vocabulary of {}", id,
                              model->config().vocab_size));
  }

  // Forward in chunks; each chunk scores the tokens that follow its positions.
  torch::NoGradGuard no_grad;
  auto t = static_cast<int64_t>(ids.size());
  torch::Tensor all = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong)
                          .unsqueeze(0)
                          .to(options.device);  // [1, T]
  torch::ScalarType dtype = options.dtype.value_or(default_dtype(options.device));
  KvCache cache(model->config(), 1, t, options.device, dtype);
  // After the cache, so the free memory is what the activations may take, less one slice of
  // the head: its logits in the compute dtype, their float32 copy and log-probabilities.
  auto head = static_cast<uint64_t>(kHeadRows * model->config().vocab_size *
                                    (static_cast<int64_t>(c10::elementSize(dtype)) + 8));
  int64_t chunk = flags.chunk_tokens > 0
                      ? flags.chunk_tokens
                      : default_prefill_chunk(model->config(), options.device, dtype, t - 1, head);
  std::vector<float> losses;
  losses.reserve(static_cast<size_t>(t - 1));
  for (int64_t start = 0; start < t - 1; start += chunk) {
    int64_t end = std::min(start + chunk, t - 1);
    torch::Tensor hidden = model->forward_hidden(all.slice(1, start, end), start, &cache);
    for (int64_t row = start; row < end; row += kHeadRows) {
      int64_t rows = std::min(kHeadRows, end - row);
      torch::Tensor lp = torch::log_softmax(
          model->logits(hidden.slice(1, row - start, row - start + rows)).to(torch::kFloat), -1);
      torch::Tensor target = all.slice(1, row + 1, row + rows + 1).unsqueeze(-1);
      torch::Tensor loss = (-lp.gather(-1, target)).reshape({-1}).to(torch::kCPU);
      losses.insert(losses.end(), loss.data_ptr<float>(), loss.data_ptr<float>() + loss.numel());
    }
  }
  double sum = 0;
  for (float l : losses) sum += l;
  double mean = sum / static_cast<double>(losses.size());
  if (flags.json) {
    nlohmann::json out = {{"model", flags.model.model},
                          {"tokens", t},
                          {"scored_tokens", losses.size()},
                          {"mean_loss", mean},
                          {"losses", losses}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%lld tokens, %zu scored, mean loss %.4f (perplexity %.2f)\n",
                static_cast<long long>(t), losses.size(), mean, std::exp(mean));
  }
  return 0;
}

}  // namespace

CommandRun add_score_command(CLI::App& app) {
  auto flags = std::make_shared<ScoreFlags>();
  CLI::App* command =
      app.add_subcommand("score", "Next-token losses of a text or of token ids under a model");
  flags->model.add_to(*command);
  auto* text = command->add_option("--text-file", flags->text_file,
                                   "Text to score (tokenized "
                                   "with the model's tokenizer)");
  auto* ids = command->add_option("--ids-file", flags->ids_file,
                                  "Whitespace-separated token ids, scored as given");
  text->excludes(ids);
  command->add_flag("--bos,!--no-bos", flags->bos, "Put BOS before the text (default on)");
  command->add_flag("--json", flags->json, "Print JSON with every per-token loss");
  command
      ->add_option("--chunk", flags->chunk_tokens,
                   "Tokens per forward chunk (0: on CUDA as many as the free memory holds, "
                   "up to the whole text; 4096 on the CPU)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  return [flags, text, ids] {
    if (text->count() == 0 && ids->count() == 0)
      throw Error("score needs --text-file or --ids-file");
    return run_score(*flags);
  };
}

}  // namespace longctx
