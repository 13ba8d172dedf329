#include "longctx/eval/native/token_losses.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/model/generation.h"

namespace longctx {

torch::Tensor row_token_losses(LlamaForCausalLM& model, const torch::Tensor& ids, KvCache& cache,
                               const TokenLossOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t b = ids.size(0), t = ids.size(1);
  if (t < 2) throw Error(fmt::format("rows of {} tokens have no next token to predict", t));
  const int64_t head = std::max<int64_t>(1, options.head_tokens / b);
  torch::Tensor losses = torch::empty({b, t - 1}, torch::kFloat);  // [B, T-1] on the CPU
  // The whole row is fed, its last token too (whose output predicts nothing), so that a RoPE
  // that follows the sequence length (dynamic NTK) sees the row's length, as transformers'
  // forward of the row does.
  for (auto [start, end] : prefill_chunks(0, t, options.chunk_tokens)) {
    torch::Tensor hidden = model->forward_hidden(ids.slice(1, start, end), start, &cache);
    for (int64_t from = start; from < std::min(end, t - 1); from += head) {
      int64_t to = std::min({from + head, end, t - 1});
      torch::Tensor logits =
          model->logits(hidden.slice(1, from - start, to - start)).to(torch::kFloat);  // [B, r, V]
      torch::Tensor target = ids.slice(1, from + 1, to + 1).unsqueeze(-1);             // [B, r, 1]
      torch::Tensor loss = torch::logsumexp(logits, -1) - logits.gather(-1, target).squeeze(-1);
      losses.slice(1, from, to).copy_(loss.to(torch::kCPU));
    }
  }
  return losses;
}

int64_t loss_chunk_tokens(const ModelConfig& config, torch::Device device, torch::ScalarType dtype,
                          int64_t batch_rows, int64_t seq_len, int64_t head_tokens) {
  if (!device.is_cuda()) return std::max<int64_t>(256, kCpuPrefillChunk / batch_rows);
  auto head = static_cast<uint64_t>(head_tokens * config.vocab_size *
                                    (static_cast<int64_t>(c10::elementSize(dtype)) + 8));
  int64_t total = default_prefill_chunk(config, device, dtype, batch_rows * (seq_len - 1), head);
  return std::max<int64_t>(1024, total / batch_rows / 1024 * 1024);
}

LossResult evaluate_loss(LlamaForCausalLM& model, const TrainingData& data,
                         const LossEvalOptions& options) {
  torch::NoGradGuard no_grad;
  const ModelConfig& config = model->config();
  const int64_t t = data.seq_len();
  uint64_t rows = options.max_rows > 0 ? std::min(options.max_rows, data.rows()) : data.rows();
  if (rows == 0) throw Error("the dataset has no rows to evaluate");
  if (data.vocab_size() > static_cast<uint64_t>(config.vocab_size))
    throw Error(fmt::format("the dataset's vocabulary ({}) is larger than the model's ({})",
                            data.vocab_size(), config.vocab_size),
                "evaluate with the model whose tokenizer made the dataset");
  const int64_t batch = std::clamp<int64_t>(options.batch_rows, 1, static_cast<int64_t>(rows));
  torch::Tensor probe = model->lm_head->weight;
  torch::Device device = probe.device();
  torch::ScalarType dtype = probe.scalar_type();
  KvCache cache(config, batch, t, device, dtype);
  TokenLossOptions losses_options = options.losses;
  if (losses_options.chunk_tokens <= 0)
    losses_options.chunk_tokens =
        loss_chunk_tokens(config, device, dtype, batch, t, losses_options.head_tokens);

  LossAccumulator accumulator(data.domains(), data.seq_len(), options.settings);
  std::vector<int32_t> row_ids(static_cast<size_t>(t));
  std::vector<int64_t> batch_ids(static_cast<size_t>(batch * t));
  for (uint64_t first = 0; first < rows; first += static_cast<uint64_t>(batch)) {
    // A last batch with fewer rows repeats its first row (the cache's batch is fixed).
    auto count =
        static_cast<int64_t>(std::min<uint64_t>(static_cast<uint64_t>(batch), rows - first));
    for (int64_t i = 0; i < batch; ++i) {
      data.read_row(first + static_cast<uint64_t>(std::min(i, count - 1)), row_ids);
      for (int64_t p = 0; p < t; ++p) {
        int32_t id = row_ids[static_cast<size_t>(p)];
        if (id >= config.vocab_size)
          throw Error(fmt::format("row {} holds token id {}, outside the model's vocabulary of {}",
                                  first + static_cast<uint64_t>(i), id, config.vocab_size));
        batch_ids[static_cast<size_t>(i * t + p)] = id;
      }
    }
    torch::Tensor ids =
        torch::from_blob(batch_ids.data(), {batch, t}, torch::kLong).to(device);  // [B, T]
    torch::Tensor losses = row_token_losses(model, ids, cache, losses_options).contiguous();
    for (int64_t i = 0; i < count; ++i) {
      uint64_t row = first + static_cast<uint64_t>(i);
      std::span<const float> row_losses(losses[i].data_ptr<float>(), static_cast<size_t>(t - 1));
      if (options.row_losses) options.row_losses(row, row_losses);
      std::vector<RowSpan> spans = data.spans(row);
      accumulator.add_row(spans, row_losses);
    }
    if (options.progress) options.progress(first + static_cast<uint64_t>(count), rows);
  }
  return accumulator.result();
}

}  // namespace longctx
