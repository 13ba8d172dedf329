#include "longctx/train/plan.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "longctx/model/llama.h"
#include "longctx/train/sharded_adamw.h"

namespace longctx {

namespace {

// All parameters (embedding included): what weights, gradients and the optimizer hold.
uint64_t total_parameters(const ModelConfig& c) {
  uint64_t n = static_cast<uint64_t>(matmul_parameters(c));
  n += static_cast<uint64_t>(c.num_hidden_layers) * 2 * static_cast<uint64_t>(c.hidden_size);
  n += static_cast<uint64_t>(c.hidden_size);  // final norm
  if (!c.tie_word_embeddings) n += static_cast<uint64_t>(c.vocab_size * c.hidden_size);
  return n;
}

}  // namespace

std::vector<PlanRow> plan_training(const PlanInput& in) {
  const ModelConfig& c = in.config;
  const double p = in.compute_bytes;
  const double d = static_cast<double>(c.hidden_size);
  const double f = static_cast<double>(c.intermediate_size);
  const double heads = static_cast<double>(c.num_attention_heads);
  const double layers = static_cast<double>(c.num_hidden_layers);
  const double tokens = static_cast<double>(in.seq_len) * in.micro_batch;
  const double n = static_cast<double>(total_parameters(c));
  const double n_matmul = static_cast<double>(matmul_parameters(c));
  // Gradients that exist at the start of backward: the head's and the top layer's. The rest
  // appear layer by layer while the kept activations of those layers are freed.
  const double first_gradients =
      p * (static_cast<double>(c.vocab_size) * d +
           (n - static_cast<double>(c.vocab_size) * d * (c.tie_word_embeddings ? 1 : 2)) / layers);

  // Bytes per token per layer kept for backward.
  const double kv = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double attention_kept =
      (in.attention_output_by_token ? 4 : 5) * p * d + 2 * p * kv + 4 + 4 * heads;
  const double mlp_kept = 2 * p * d + (in.fused_swiglu ? 3 : 4) * p * f + 4;
  const double block_input = p * d;

  // Forward FLOPs per token of each block (2 per multiply-add; causal attention L T d).
  const double q = heads * static_cast<double>(c.head_dim);
  const double attention_flops = 2 * d * (2 * q + 2 * kv) + 2 * static_cast<double>(in.seq_len) * d;
  const double mlp_flops = 2 * 3 * d * f;
  const double model_flops =
      6 * n_matmul + 6 * layers * static_cast<double>(in.seq_len) * d;  // RECIPE.md section 5

  // In backward, on top of the kept activations: one layer's gradient buffers, and what a
  // recomputed layer holds while it runs again. A recomputed MLP runs a chunk at a time
  // (recompute_chunked_mlp): its activations and gradients are per chunk; around it the layer
  // holds [T, d] values and gradients (the MLP's input, its gradient, the incoming gradient),
  // the q/k/v gradients, all three at the H query heads (cuDNN's backward writes k and v
  // gradients per query head and then sums each group), and, where attention runs again, the
  // attention block's activations. Bytes; fitted on the H100 (TinyLlama with `full` at
  // 64K-384K, 7B at 128K).
  const double mlp_chunk = in.mlp_chunk > 0 ? std::min<double>(in.mlp_chunk, tokens) : tokens;
  const double buffers = p * d + 2 * p * f;  // a [T, d] and two [T, F] gradients
  const double mlp_chunk_bytes = mlp_chunk * (mlp_kept + buffers);
  const double qkv_gradients = 3 * p * q;
  const double attention_again = attention_kept + 3 * p * d + qkv_gradients;

  // What a layer in each mode keeps per token, its extra forward FLOPs per token and the
  // transient bytes above.
  struct Block {
    double kept, extra_flops, transient;
  };
  auto block = [&](std::string_view m) -> Block {
    if (m == "mlp")
      return {attention_kept + block_input, mlp_flops,
              tokens * (2 * p * d + qkv_gradients) + mlp_chunk_bytes};
    if (m == "attention")
      return {block_input + mlp_kept, attention_flops, tokens * (attention_kept + buffers)};
    if (m == "full")
      return {block_input, attention_flops + mlp_flops, tokens * attention_again + mlp_chunk_bytes};
    if (m == "full-keep-attention") {
      // The input, plus the attention output and its float32 log-sum-exp; the attention
      // kernel does not run again, the projections and the MLP do.
      return {block_input + p * q + 4 * heads,
              attention_flops - 2 * static_cast<double>(in.seq_len) * d + mlp_flops,
              tokens * attention_again + mlp_chunk_bytes};
    }
    return {attention_kept + mlp_kept, 0, tokens * buffers};
  };

  double recomputing_layers = layers;
  if (!in.recompute_layers.empty()) {
    recomputing_layers = 0;
    for (bool b : in.recompute_layers) recomputing_layers += b ? 1 : 0;
  }
  const double rest_layers = layers - recomputing_layers;
  const Block rest = block(in.recompute_rest);
  const std::string layer_text = format_layer_set(in.recompute_layers);

  // Data parallelism.
  const double ranks = std::max<uint32_t>(1, in.ranks);
  const bool sharded = in.shard_optimizer && in.ranks > 1;
  const double per_host = in.ranks_per_host > 0
                              ? in.ranks_per_host
                              : std::min<uint32_t>(std::max<uint32_t>(1, in.ranks), 8);
  // ShardedAdamW's float32 buckets in flight: its bucket size or the largest layer (or the
  // head), whichever is larger.
  const double largest_unit = std::max(
      static_cast<double>(c.vocab_size) * d,
      (n - static_cast<double>(c.vocab_size) * d * (c.tie_word_embeddings ? 1 : 2)) / layers);
  const double bucket_bytes =
      static_cast<double>(ShardedAdamW::kMaxInFlight) * 4 *
      std::max(static_cast<double>(ShardedAdamW::kDefaultBucketElements), largest_unit);

  std::vector<PlanRow> rows;
  for (bool offload : {false, true}) {
    for (const char* mode : kRecomputeModes) {
      std::string m = mode;
      const Block b = block(m);
      double layer_bytes =
          std::max(recomputing_layers > 0 ? b.transient : 0, rest_layers > 0 ? rest.transient : 0);
      PlanRow r;
      r.recompute = m;
      r.recompute_layers = layer_text;
      r.recompute_rest = in.recompute_rest;
      r.offload = offload;
      r.weights = static_cast<uint64_t>(p * n);
      r.all_gradients = static_cast<uint64_t>(p * n);
      r.gradients = static_cast<uint64_t>(std::min(p * n, first_gradients));
      double optimizer = 12 * n + (in.compute_bytes == 4 ? 0 : 4 * n);
      const double micro_batches =
          std::ceil(static_cast<double>(in.rows_per_step) / in.micro_batch);
      if (sharded) {
        // The shard: master and moments (12 N / W, in CPU memory when offloaded, with the sum's
        // copy for the CPU's update), the gradient sum on the GPU (4 N / W), a later
        // micro-batch's piece beside it, and the float32 buckets on the wire.
        const double shard = n / ranks;
        const double gpu = 4 * shard * (micro_batches > 1 ? 2 : 1) + bucket_bytes;
        if (offload) {
          r.cpu_bytes = static_cast<uint64_t>(16 * shard);
          r.optimizer = static_cast<uint64_t>(gpu);
        } else {
          r.optimizer = static_cast<uint64_t>(gpu + 12 * shard);
        }
      } else if (offload) {
        r.cpu_bytes = static_cast<uint64_t>(optimizer + (in.compute_bytes == 4 ? 4 * n : 0));
      } else {
        r.optimizer = static_cast<uint64_t>(optimizer);
      }
      r.sharded = sharded;
      r.host_bytes = r.cpu_bytes * per_host;
      double per_token = recomputing_layers * b.kept + rest_layers * rest.kept +
                         3 * p * d;  // embedding output, final norm input and output
      r.activations = static_cast<uint64_t>(per_token * tokens);
      // At the peak, on top of the kept activations: either the loss's float32 logits of one
      // chunk and their log-softmax (the end of forward), or the backward's layer_bytes.
      double chunk = std::min<double>(in.loss_chunk, tokens);
      double loss_bytes = 2 * 4 * chunk * static_cast<double>(c.vocab_size);
      r.transient = static_cast<uint64_t>(std::max(loss_bytes, layer_bytes));
      r.reserve = kPlanReserveBytes;
      r.total = r.weights + r.optimizer + r.reserve +
                std::max(r.all_gradients, r.activations + r.transient + r.gradients);
      r.model_flops_per_token = model_flops;
      r.flops_per_token =
          model_flops + recomputing_layers * b.extra_flops + rest_layers * rest.extra_flops;
      double step_tokens = static_cast<double>(in.seq_len) * static_cast<double>(in.rows_per_step);
      r.step_seconds = r.flops_per_token * step_tokens / (in.peak_flops * in.assumed_mfu);
      if (offload && sharded) {
        // The shard's sum down once and its masters up once, and its AdamW on a CPU that the
        // host's ranks share.
        const double shard = n / ranks;
        r.offload_seconds = 8 * shard / in.host_link_bytes_per_second +
                            28 * shard * per_host / in.cpu_memory_bytes_per_second;
        r.step_seconds += r.offload_seconds;
      } else if (offload) {
        // Gradient sums on the GPU where the budget leaves room (several micro-batches only).
        if (micro_batches > 1 && in.budget_bytes > r.total + kGpuSumMargin) {
          r.gpu_sums =
              std::min(static_cast<uint64_t>(4 * n), in.budget_bytes - r.total - kGpuSumMargin);
          r.optimizer = r.gpu_sums;
          r.total += r.gpu_sums;
        }
        // Float32 gradients go down (a GPU-held sum once a step, the rest every micro-batch),
        // the masters come back up once, and the CPU's AdamW streams 28 bytes a parameter
        // (masters and both moments read and written, the gradient sum read). None of it
        // overlaps the GPU's work.
        double on_gpu = static_cast<double>(r.gpu_sums) / (4 * n);
        double down = 4 * n * (on_gpu + (1 - on_gpu) * micro_batches);
        r.offload_seconds = (down + 4 * n) / in.host_link_bytes_per_second +
                            28 * n / in.cpu_memory_bytes_per_second;
        r.step_seconds += r.offload_seconds;
      }
      rows.push_back(r);
    }
  }
  return rows;
}

const PlanRow* fastest_fitting(const std::vector<PlanRow>& rows, uint64_t budget_bytes,
                               bool offload) {
  const PlanRow* best = nullptr;
  for (const PlanRow& r : rows) {
    if (r.offload != offload || r.total > budget_bytes) continue;
    if (best == nullptr || r.step_seconds < best->step_seconds) best = &r;
  }
  return best;
}

std::optional<PlanRow> auto_recompute(const PlanInput& input, uint64_t budget_bytes, bool offload) {
  std::optional<PlanRow> best;
  auto consider = [&](const PlanRow& r) {
    if (r.offload != offload || r.total > budget_bytes) return;
    if (!best || r.step_seconds < best->step_seconds * (1 - 1e-9)) best = r;
  };
  const bool every_layer = std::all_of(input.recompute_layers.begin(), input.recompute_layers.end(),
                                       [](bool b) { return b; });
  if (!every_layer || input.recompute_rest != "none") {  // the layers are the user's
    for (const PlanRow& r : plan_training(input)) consider(r);
    return best;
  }
  PlanInput in = input;
  in.recompute_layers.clear();
  in.recompute_rest = "none";
  for (const PlanRow& r : plan_training(in)) consider(r);  // single modes first: they win ties
  const size_t layers = static_cast<size_t>(input.config.num_hidden_layers);
  for (const char* bottom : kRecomputeModes) {
    in.recompute_rest = bottom;
    for (size_t k = 1; k < layers; ++k) {
      in.recompute_layers.assign(layers, true);
      std::fill_n(in.recompute_layers.begin(), k, false);
      for (const PlanRow& r : plan_training(in))
        if (r.recompute != r.recompute_rest) consider(r);
    }
  }
  return best;
}

uint64_t rows_per_step(uint64_t batch_tokens, uint64_t seq_len, uint64_t micro_batch,
                       uint64_t ranks) {
  uint64_t rows = std::max<uint64_t>(1, (batch_tokens + seq_len / 2) / seq_len);
  const uint64_t granule = micro_batch * ranks;
  return (rows + granule - 1) / granule * granule;
}

std::string recompute_label(const PlanRow& row) {
  if (row.recompute_layers == "all") return row.recompute;
  return fmt::format("{} on layers {}, {} on the others", row.recompute, row.recompute_layers,
                     row.recompute_rest);
}

std::string format_layer_set(const std::vector<bool>& layers) {
  if (std::all_of(layers.begin(), layers.end(), [](bool b) { return b; })) return "all";
  std::string text;
  for (size_t i = 0; i < layers.size();) {
    if (!layers[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1]) ++j;
    if (!text.empty()) text += ',';
    text += j == i ? fmt::format("{}", i) : fmt::format("{}-{}", i, j);
    i = j + 1;
  }
  return text;
}

}  // namespace longctx
