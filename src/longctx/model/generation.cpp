#include "longctx/model/generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>

#include "longctx/base/error.h"
#include "longctx/runtime/device.h"

#ifdef LONGCTX_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace longctx {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// The decoding step captured once per attention window and replayed for every token. The
// graph reads the token and position from `ids` and `position` and leaves the greedy next
// token in its `next`.
struct DecodeGraphs {
  torch::Tensor ids, position;  // [1, 1], [1] long: the inputs every graph reads
#ifdef LONGCTX_HAVE_CUDA
  struct Captured {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    torch::Tensor next;  // [1, 1] long, written by each replay
  };
  std::map<int64_t, Captured> by_window;
  // One memory pool for every window's graph: each keeps only its `next` alive after capture,
  // so their intermediates may share memory (replays run one at a time, on one stream), and a
  // grid of 32 windows costs the largest window's intermediates, not their sum.
  at::cuda::MempoolId_t pool{0, 0};  // made at the first capture
#endif
  bool failed = false;  // capture failed once: decode without graphs from then on
};

#ifdef LONGCTX_HAVE_CUDA
namespace {

// Captures `run` (one decoding step) as a CUDA graph in `pool`. Capture needs a stream of its
// own; one eager run first settles cuBLAS workspaces and kernel choices (it computes this very
// step, which the replay repeats). A failure ends the capture before it propagates, or the
// stream would stay in capture mode and the eager fallback would fail too.
DecodeGraphs::Captured capture_step(const std::function<torch::Tensor()>& run, torch::Device device,
                                    at::cuda::MempoolId_t pool) {
  DecodeGraphs::Captured captured;
  captured.graph = std::make_unique<at::cuda::CUDAGraph>();
  synchronize(device);  // the step's inputs were written on the current stream
  c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool(false, device.index()));
  run();
  synchronize(device);
  captured.graph->capture_begin(pool);
  try {
    captured.next = run();
  } catch (...) {
    try {
      captured.graph->capture_end();
    } catch (...) {
    }
    throw;
  }
  captured.graph->capture_end();
  return captured;
}

}  // namespace
#endif

Generator::Generator(LlamaForCausalLM model, int64_t max_tokens, torch::Device device,
                     torch::ScalarType dtype)
    : model_(std::move(model)),
      device_(device),
      dtype_(dtype),
      max_tokens_(max_tokens),
      // Room to a multiple of 1024 positions, so that every decoding window is one
      // (masked_attention splits a long window in 1024s).
      cache_(model_->config(), 1, (max_tokens + 1023) / 1024 * 1024, device, dtype),
      graphs_(std::make_unique<DecodeGraphs>()) {
  const RopeParameters& rope = model_->config().rope;
  fixed_rope_ = rope.type != RopeType::kDynamic || rope.frozen_length_tokens.has_value();
  if (fixed_rope_) {
    torch::NoGradGuard no_grad;
    std::tie(cos_table_, sin_table_) = model_->rotary(0, max_tokens, device, dtype);
  }
  auto longs = torch::dtype(torch::kLong).device(device);
  graphs_->ids = torch::zeros({1, 1}, longs);
  graphs_->position = torch::zeros({1}, longs);
}

Generator::~Generator() = default;

int64_t Generator::decode(int64_t token, int64_t position, const GenerationOptions& options) {
  cache_.set_size(position + 1);
  if (!fixed_rope_) {  // rotations follow the length: the plain forward, shapes changing
    torch::Tensor ids = torch::full({1, 1}, token, torch::dtype(torch::kLong).device(device_));
    return model_->logits(model_->forward_hidden(ids, position, &cache_))
        .argmax(-1)
        .item<int64_t>();
  }
  int64_t every = std::max<int64_t>(options.decode_window, 1);
  int64_t window = std::min(cache_.max_tokens(), (position / every + 1) * every);  // > position
  DecodeGraphs& g = *graphs_;
  g.ids.fill_(token);
  g.position.fill_(position);
  DecodeStep step{g.position, cos_table_, sin_table_, window};
  auto run = [&] { return model_->logits(model_->decode_hidden(g.ids, step, cache_)).argmax(-1); };
#ifdef LONGCTX_HAVE_CUDA
  if (options.cuda_graphs && device_.is_cuda() && !g.failed) {
    auto found = g.by_window.find(window);
    if (found == g.by_window.end()) {
      if (g.pool == at::cuda::MempoolId_t{0, 0}) g.pool = at::cuda::graph_pool_handle();
      try {
        found = g.by_window.emplace(window, capture_step(run, device_, g.pool)).first;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "warning: decoding without CUDA graphs (capture failed: %s)\n",
                     e.what());
        g.failed = true;
        return run().item<int64_t>();
      }
    }
    found->second.graph->replay();
    return found->second.next.item<int64_t>();
  }
#endif
  return run().item<int64_t>();
}

std::vector<std::pair<int64_t, int64_t>> prefill_chunks(int64_t from, int64_t to, int64_t chunk) {
  if (chunk <= 0)
    throw Error(fmt::format("prefill chunk of {} tokens: it must be positive", chunk));
  std::vector<std::pair<int64_t, int64_t>> chunks;
  for (int64_t start = from; start < to; start = chunks.back().second)
    chunks.emplace_back(start, std::min((start / chunk + 1) * chunk, to));
  return chunks;
}

int64_t prefill_bytes_per_token(const ModelConfig& c, torch::ScalarType dtype) {
  int64_t states = 2 * c.hidden_size;                 // the residual stream and its norm
  int64_t mlp = 3 * c.intermediate_size;              // gate/up [T, 2F], SwiGLU [T, F]
  int64_t q = c.num_attention_heads * c.head_dim;     // one [T, H, D]
  int64_t kv = c.num_key_value_heads * c.head_dim;    // one [T, K, D]
  int64_t attention = (q + 2 * kv) + kv + q + 2 * q;  // q/k/v, rotated k and q, two outputs
  return static_cast<int64_t>(c10::elementSize(dtype)) * (states + std::max(mlp, attention));
}

int64_t auto_prefill_chunk(const ModelConfig& config, torch::ScalarType dtype,
                           int64_t prompt_tokens, uint64_t free_bytes) {
  constexpr int64_t unit = kCpuPrefillChunk;
  int64_t whole = std::max<int64_t>((prompt_tokens + unit - 1) / unit, 1) * unit;
  double per_token = 1.5 * static_cast<double>(prefill_bytes_per_token(config, dtype));
  auto fits = static_cast<int64_t>(static_cast<double>(free_bytes) / per_token) / unit * unit;
  return std::clamp(fits, unit, whole);
}

int64_t default_prefill_chunk(const ModelConfig& config, torch::Device device,
                              torch::ScalarType dtype, int64_t prompt_tokens,
                              uint64_t reserved_bytes) {
  if (!device.is_cuda()) return kCpuPrefillChunk;
  uint64_t free = free_memory_bytes(device);
  return auto_prefill_chunk(config, dtype, prompt_tokens,
                            free > reserved_bytes ? free - reserved_bytes : 0);
}

GenerationResult Generator::generate(const std::vector<int32_t>& prompt,
                                     const GenerationOptions& options) {
  if (prompt.empty()) throw Error("the prompt is empty");
  auto t = static_cast<int64_t>(prompt.size());
  if (t + options.max_new_tokens > max_tokens_) {
    throw Error(fmt::format("{} prompt tokens + {} new tokens exceed the KV cache of {}", t,
                            options.max_new_tokens, max_tokens_));
  }
  torch::NoGradGuard no_grad;
  GenerationResult result;
  result.prompt_tokens = t;
  auto started = std::chrono::steady_clock::now();

  // Positions [0, reuse) keep the keys/values of the previous call's identical tokens; at
  // least the last prompt token runs again, for its hidden state.
  int64_t reuse = 0;
  if (options.reuse_prefix && fixed_rope_) {
    auto limit = static_cast<int64_t>(std::min(cached_.size(), prompt.size() - 1));
    while (reuse < limit &&
           cached_[static_cast<size_t>(reuse)] == prompt[static_cast<size_t>(reuse)])
      ++reuse;
  }
  result.reused_tokens = reuse;
  cached_.assign(prompt.begin(), prompt.end());

  torch::Tensor ids = torch::tensor(std::vector<int64_t>(prompt.begin() + reuse, prompt.end()),
                                    torch::kLong)
                          .unsqueeze(0)
                          .to(device_);  // [1, T - reuse]
  torch::Tensor last;                    // [1, 1, d]: hidden state of the newest token
  // After the cache, so the free memory is what the activations may take.
  int64_t chunk = options.chunk_tokens != 0
                      ? options.chunk_tokens
                      : default_prefill_chunk(model_->config(), device_, dtype_, t);
  for (auto [start, end] : prefill_chunks(reuse, t, chunk)) {
    // Only the prompt's last position needs a hidden state; the others fill the cache.
    last = model_->prefill(ids.slice(1, start - reuse, end - reuse), start, cache_,
                           /*keep=*/end == t ? 1 : 0);
  }
  synchronize(device_);
  result.prefill_seconds = seconds_since(started);

  const std::vector<int64_t>& stops = model_->config().eos_token_ids;
  result.stop_reason = "max_new_tokens";
  auto next = model_->logits(last).argmax(-1).item<int64_t>();  // greedy
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) {
      result.stop_reason = "stop_token";
      break;
    }
    result.generated.push_back(static_cast<int32_t>(next));
    if (i + 1 == options.max_new_tokens) break;
    cached_.push_back(static_cast<int32_t>(next));
    next = decode(next, t + i, options);
  }
  result.total_seconds = seconds_since(started);
  return result;
}

}  // namespace longctx
