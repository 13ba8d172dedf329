#include "needle_backends.h"

#include <fmt/format.h>

#include <algorithm>

#include "longctx/base/error.h"
#include "longctx/model/generation.h"

namespace longctx {

namespace fs = std::filesystem;

std::vector<int32_t> needle_prompt_ids(const Tokenizer& tokenizer, const std::string& prompt) {
  std::vector<int32_t> ids;
  if (tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  std::vector<int32_t> body = tokenizer.encode(prompt);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

NeedleRunStats run_native_cells(const std::vector<NeedleCell>& cells, const Tokenizer& tokenizer,
                                const fs::path& model_dir, const LoadOptions& load,
                                int64_t max_new_tokens, int64_t chunk_tokens,
                                const RecordNeedleResult& record) {
  NeedleRunStats stats;
  if (cells.empty()) return stats;
  LlamaForCausalLM model = load_model(model_dir, load);
  std::vector<std::vector<int32_t>> prompts;
  int64_t longest = 0;
  for (const NeedleCell& cell : cells) {
    prompts.push_back(needle_prompt_ids(tokenizer, cell.prompt));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }
  std::vector<size_t> order(cells.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return prompts[a] < prompts[b]; });
  Generator generator(model, longest + max_new_tokens, load.device,
                      load.dtype.value_or(default_dtype(load.device)));
  for (size_t i : order) {
    GenerationResult g = generator.generate(
        prompts[i], {.max_new_tokens = max_new_tokens, .chunk_tokens = chunk_tokens});
    auto t = static_cast<int64_t>(prompts[i].size());
    stats.prefill_flops += prefill_flops(model->config(), 0, t);
    stats.saved_flops += prefill_flops(model->config(), 0, g.reused_tokens);
    NeedleResult r;
    r.length = cells[i].length;
    r.depth = cells[i].depth;
    r.prompt_tokens = t;
    r.response = tokenizer.decode(g.generated);
    r.scores = score_response(r.response, cells[i].expected);
    r.seconds = g.total_seconds;
    record(r);
  }
  return stats;
}

void run_endpoint_cells(const std::vector<NeedleCell>& cells, const EndpointOptions& options,
                        int64_t max_new_tokens, const RecordNeedleResult& record) {
  OpenAIClient client(options);
  std::vector<CompletionRequest> requests;
  for (const NeedleCell& cell : cells)
    requests.push_back({.prompt = cell.prompt, .max_tokens = static_cast<int>(max_new_tokens)});
  client.complete_all(requests, [&](size_t i, const CompletionResult& c) {
    NeedleResult r;
    r.length = cells[i].length;
    r.depth = cells[i].depth;
    r.prompt_tokens = c.prompt_tokens;
    r.seconds = c.seconds;
    if (c.ok) {
      r.response = c.text;
      r.scores = score_response(r.response, cells[i].expected);
    } else {
      r.error = c.error;
    }
    record(r);
  });
}

}  // namespace longctx
