#include "longctx/model/llama.h"

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/model/attention.h"
#include "longctx/model/torch_compat.h"
#include "longctx/model/train_ops.h"

namespace longctx {

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t max_tokens, torch::Device device,
                 torch::ScalarType dtype)
    : max_tokens_(max_tokens) {
  auto options = torch::TensorOptions().device(device).dtype(dtype);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    // Zeros, not empty: decoding reads masked positions too (probability 0 times the value),
    // and 0 * NaN from uninitialised memory would be NaN.
    keys_.push_back(
        torch::zeros({batch, config.num_key_value_heads, max_tokens, config.head_dim}, options));
    values_.push_back(torch::zeros_like(keys_.back()));
  }
}

std::pair<torch::Tensor, torch::Tensor> KvCache::append(int64_t layer, int64_t start,
                                                        const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  int64_t end = start + k.size(2);
  if (end > max_tokens_) {
    throw Error(fmt::format("KV cache of {} tokens is full: positions up to {} were asked for",
                            max_tokens_, end),
                "allocate a larger cache (the prompt plus the tokens to generate)");
  }
  torch::Tensor& keys = keys_[static_cast<size_t>(layer)];
  torch::Tensor& values = values_[static_cast<size_t>(layer)];
  keys.slice(2, start, end).copy_(k);
  values.slice(2, start, end).copy_(v);
  return {keys.slice(2, 0, end), values.slice(2, 0, end)};
}

std::pair<torch::Tensor, torch::Tensor> KvCache::write(int64_t layer, const torch::Tensor& position,
                                                       const torch::Tensor& k,
                                                       const torch::Tensor& v, int64_t window) {
  if (window > max_tokens_) {
    throw Error(
        fmt::format("KV cache of {} tokens cannot show a window of {}", max_tokens_, window));
  }
  torch::Tensor& keys = keys_[static_cast<size_t>(layer)];
  torch::Tensor& values = values_[static_cast<size_t>(layer)];
  keys.index_copy_(2, position, k);
  values.index_copy_(2, position, v);
  return {keys.slice(2, 0, window), values.slice(2, 0, window)};
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

LinearImpl::LinearImpl(torch::Tensor shared) : weight(std::move(shared)) {}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t width, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({vocab, width}, options));
}

RMSNormImpl::RMSNormImpl(int64_t width, double eps_, const torch::TensorOptions& options)
    : eps(eps_) {
  weight = register_parameter("weight", torch::ones({width}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // On CUDA, train_ops' rms_norm: one fused kernel where libtorch has it, instead of eight
  // launches (the host's launches bound a short prefill); it rounds once, at the end.
  if (x.is_cuda()) return rms_norm(x, weight, eps);
  // As transformers: normalise in float32, cast back, then scale.
  torch::Tensor h = x.to(torch::kFloat);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

namespace {

// residual + proj(x). Where no gradient is recorded (inference), the matmul accumulates into
// residual's storage as it writes (beta = 1), which saves a separate add kernel and its
// [T, d] output: the caller must not need residual's old values.
torch::Tensor add_projection(torch::Tensor residual, const Linear& proj, const torch::Tensor& x) {
  bool in_place = !torch::GradMode::is_enabled() && !proj->bias.defined() &&
                  residual.is_contiguous() && residual.scalar_type() == x.scalar_type();
  if (!in_place) return residual + torch::linear(x, proj->weight, proj->bias);
  residual.view({-1, residual.size(-1)}).addmm_(x.reshape({-1, x.size(-1)}), proj->weight.t());
  return residual;
}

}  // namespace

LlamaAttentionImpl::LlamaAttentionImpl(const ModelConfig& c, const torch::TensorOptions& options)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  auto linear = [&](int64_t in, int64_t out) { return Linear(in, out, c.attention_bias, options); };
  q_proj = register_module("q_proj", linear(c.hidden_size, heads * head_dim));
  k_proj = register_module("k_proj", linear(c.hidden_size, kv_heads * head_dim));
  v_proj = register_module("v_proj", linear(c.hidden_size, kv_heads * head_dim));
  o_proj = register_module("o_proj", linear(heads * head_dim, c.hidden_size));
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> LlamaAttentionImpl::project(
    const torch::Tensor& x) {
  if (!qkv_weight.defined()) return {q_proj(x), k_proj(x), v_proj(x)};
  torch::Tensor qkv = torch::linear(x, qkv_weight, qkv_bias);  // [B, T, (H + 2K) * D]
  return {qkv.narrow(-1, 0, heads * head_dim),
          qkv.narrow(-1, heads * head_dim, kv_heads * head_dim),
          qkv.narrow(-1, (heads + kv_heads) * head_dim, kv_heads * head_dim)};
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin, int64_t layer, int64_t start,
                                          KvCache* cache, const torch::Tensor& residual,
                                          int64_t keep) {
  int64_t b = x.size(0), t = x.size(1), q_width = heads * head_dim, kv_width = kv_heads * head_dim;
  if (keep < 0) keep = t;
  torch::Tensor q, k, v;
  if (keep == t) {
    std::tie(q, k, v) = project(x);
  } else if (qkv_weight.defined()) {  // the fused weight's k/v rows for every position, its q
                                      // rows for the kept ones
    auto rows = [&](const torch::Tensor& w, int64_t from, int64_t count) {
      return w.defined() ? w.narrow(0, from, count) : torch::Tensor();
    };
    torch::Tensor kv = torch::linear(x, rows(qkv_weight, q_width, 2 * kv_width),
                                     rows(qkv_bias, q_width, 2 * kv_width));  // [B, T, 2 K D]
    k = kv.narrow(-1, 0, kv_width);
    v = kv.narrow(-1, kv_width, kv_width);
    q = torch::linear(x.narrow(1, t - keep, keep), rows(qkv_weight, 0, q_width),
                      rows(qkv_bias, 0, q_width));
  } else {
    q = q_proj(x.narrow(1, t - keep, keep));
    k = k_proj(x);
    v = v_proj(x);
  }
  // x * cos + rotate_half(x) * sin (train_ops.h): cos, sin [T, D] broadcast over B and heads.
  k = apply_rotary(k.view({b, t, kv_heads, head_dim}).transpose(1, 2), cos, sin);  // [B, K, T, D]
  v = v.view({b, t, kv_heads, head_dim}).transpose(1, 2);                          // [B, K, T, D]
  if (cache != nullptr) std::tie(k, v) = cache->append(layer, start, k, v);        // [B, K, S, D]
  if (keep == 0) return x.narrow(1, t, 0);
  q = apply_rotary(q.view({b, keep, heads, head_dim}).transpose(1, 2),
                   cos.narrow(0, t - keep, keep),
                   sin.narrow(0, t - keep, keep));  // [B, H, keep, D]
  // The kept queries against every key so far (a chunk after cached keys when keep < t).
  torch::Tensor out = prefill_attention(q, k, v);  // [B, H, keep, D]
  out = out.transpose(1, 2).reshape({b, keep, q_width});
  return residual.defined() ? add_projection(residual, o_proj, out) : o_proj(out);
}

torch::Tensor LlamaAttentionImpl::decode(const torch::Tensor& x, const torch::Tensor& cos,
                                         const torch::Tensor& sin, int64_t layer,
                                         const DecodeStep& step, const DecodeVisibility& visibility,
                                         KvCache& cache) {
  int64_t b = x.size(0);
  auto [q, k, v] = project(x);
  q = apply_rotary(q.view({b, 1, heads, head_dim}), cos, sin);                     // [B, 1, H, D]
  k = apply_rotary(k.view({b, 1, kv_heads, head_dim}), cos, sin).transpose(1, 2);  // [B, K, 1, D]
  v = v.view({b, 1, kv_heads, head_dim}).transpose(1, 2);                          // [B, K, 1, D]
  auto [keys, values] = cache.write(layer, step.position, k, v, step.window);      // [B, K, W, D]
  // The H / K query heads of a group become G rows against their one key/value head, so the
  // cache is read once and never repeated per query head: [B, K, G, D].
  torch::Tensor rows = q.view({b, kv_heads, heads / kv_heads, head_dim});
  torch::Tensor out = decode_attention(rows, keys, values, visibility);  // [B, K, G, D]
  return o_proj(out.reshape({b, 1, heads * head_dim}));
}

torch::Tensor LlamaAttentionImpl::forward_train(const torch::Tensor& x, const torch::Tensor& cos,
                                                const torch::Tensor& sin,
                                                const std::vector<int64_t>& bounds,
                                                KeptAttention* keep) {
  int64_t b = x.size(0), t = x.size(1);
  torch::Tensor q = q_proj(x).view({b, t, heads, head_dim}).transpose(1, 2);     // [B, H, T, D]
  torch::Tensor k = k_proj(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);  // [B, K, T, D]
  torch::Tensor v = v_proj(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);  // [B, K, T, D]
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  torch::Tensor out;
  if (bounds.empty()) {
    out = causal_attention_kept(q, k, v, keep);  // [B, H, T, D]
  } else {
    // Document masking: each document attends causally within itself only.
    // bounds [0, 3, 7] over T = 7: tokens 0-2 see 0-2; tokens 3-6 see 3-6.
    std::vector<torch::Tensor> pieces;
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      int64_t begin = bounds[i], length = bounds[i + 1] - bounds[i];
      pieces.push_back(causal_attention_gqa(q.narrow(2, begin, length), k.narrow(2, begin, length),
                                            v.narrow(2, begin, length)));
    }
    out = torch::cat(pieces, 2);
  }
  return o_proj(out.transpose(1, 2).reshape({b, t, heads * head_dim}));
}

LlamaMLPImpl::LlamaMLPImpl(const ModelConfig& c, const torch::TensorOptions& options) {
  auto linear = [&](int64_t in, int64_t out) { return Linear(in, out, c.mlp_bias, options); };
  gate_proj = register_module("gate_proj", linear(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", linear(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor LlamaMLPImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  torch::Tensor hidden;            // [B, T, F]
  if (gate_up_weight.defined()) {  // one matmul: [B, T, 2F]
    std::vector<torch::Tensor> gate_up =
        torch::linear(x, gate_up_weight, gate_up_bias).chunk(2, -1);
    hidden = swiglu(gate_up[0], gate_up[1]);
  } else {
    hidden = swiglu(gate_proj(x), up_proj(x));
  }
  return residual.defined() ? add_projection(residual, down_proj, hidden) : down_proj(hidden);
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const ModelConfig& c,
                                             const torch::TensorOptions& options) {
  self_attn = register_module("self_attn", LlamaAttention(c, options));
  mlp = register_module("mlp", LlamaMLP(c, options));
  input_layernorm =
      register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin, int64_t layer, int64_t start,
                                             KvCache* cache, int64_t keep) {
  if (keep < 0) keep = x.size(1);
  torch::Tensor residual = x.narrow(1, x.size(1) - keep, keep);  // [B, keep, d]
  torch::Tensor h = self_attn(input_layernorm(x), cos, sin, layer, start, cache, residual, keep);
  if (keep == 0) return h;  // [B, 0, d]
  return mlp(post_attention_layernorm(h), /*residual=*/h);
}

torch::Tensor LlamaDecoderLayerImpl::attention_block(const torch::Tensor& x,
                                                     const torch::Tensor& cos,
                                                     const torch::Tensor& sin,
                                                     const std::vector<int64_t>& bounds,
                                                     KeptAttention* keep) {
  torch::Tensor normed = rms_norm(x, input_layernorm->weight, input_layernorm->eps);
  return x + self_attn->forward_train(normed, cos, sin, bounds, keep);
}

torch::Tensor LlamaDecoderLayerImpl::mlp_block(const torch::Tensor& h) {
  return h + mlp(rms_norm(h, post_attention_layernorm->weight, post_attention_layernorm->eps));
}

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c, const torch::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    layers->push_back(LlamaDecoderLayer(c, options));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(ModelConfig config, const torch::TensorOptions& options)
    : config_(std::move(config)) {
  config_.validate();
  model = register_module("model", LlamaModel(config_, options));
  if (config_.tie_word_embeddings) {
    // One tensor: the head reads the embedding matrix (HF keeps no lm_head.weight then).
    lm_head = Linear(model->embed_tokens->weight);
  } else {
    lm_head = register_module(
        "lm_head", Linear(config_.hidden_size, config_.vocab_size, /*bias=*/false, options));
  }
}

std::pair<torch::Tensor, torch::Tensor> LlamaForCausalLMImpl::rotary(int64_t start, int64_t tokens,
                                                                     torch::Device device,
                                                                     torch::ScalarType dtype) {
  // Dynamic NTK follows the longest sequence seen in this call (positions are monotonic in
  // use, which makes this equal to transformers' cached maximum); other types are static.
  RopeOptions options;
  if (config_.rope.type == RopeType::kDynamic) {
    options.seq_len_tokens = start + tokens;
    options.ntk_seq_len = NtkSeqLen::kTensor;
  }
  RopeFrequencies f = compute_rope(config_.rope, options);
  std::vector<float> inv(f.inv_freq.begin(), f.inv_freq.end());
  torch::Tensor inv_freq = torch::from_blob(inv.data(), {static_cast<int64_t>(inv.size())},
                                            torch::kFloat)
                               .clone()
                               .to(device);  // [D/2]
  torch::Tensor pos =
      torch::arange(start, start + tokens, torch::dtype(torch::kFloat).device(device));
  torch::Tensor freqs = pos.unsqueeze(1) * inv_freq.unsqueeze(0);  // [T, D/2], float32
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);              // [T, D]
  auto scale = static_cast<float>(f.attention_factor);
  torch::Tensor sin = emb.sin() * scale;
  int64_t half = sin.size(-1) / 2;
  sin = torch::cat({-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)}, -1);  // sin_signed
  return {(emb.cos() * scale).to(dtype), sin.to(dtype)};
}

torch::Tensor LlamaForCausalLMImpl::forward_hidden(const torch::Tensor& ids, int64_t start,
                                                   KvCache* cache) {
  return hidden_states(ids, start, cache, ids.size(1));
}

torch::Tensor LlamaForCausalLMImpl::prefill(const torch::Tensor& ids, int64_t start, KvCache& cache,
                                            int64_t keep) {
  if (keep < 0 || keep > ids.size(1)) {
    throw Error(
        fmt::format("prefill of {} tokens cannot return the last {} positions", ids.size(1), keep));
  }
  return hidden_states(ids, start, &cache, keep);
}

torch::Tensor LlamaForCausalLMImpl::hidden_states(const torch::Tensor& ids, int64_t start,
                                                  KvCache* cache, int64_t keep) {
  torch::Tensor h = model->embed_tokens(ids);  // [B, T, d]
  auto [cos, sin] = rotary(start, ids.size(1), h.device(), h.scalar_type());
  auto layers = static_cast<int64_t>(model->layers->size());
  for (int64_t l = 0; l < layers; ++l) {
    // Only the last layer's output is read at the kept positions alone.
    h = model->layers[l]->as<LlamaDecoderLayer>()->forward(h, cos, sin, l, start, cache,
                                                           l + 1 == layers ? keep : -1);
  }
  if (cache != nullptr) cache->set_size(start + ids.size(1));
  return keep == 0 ? h : model->norm(h);  // [B, keep, d]
}

torch::Tensor LlamaForCausalLMImpl::decode_hidden(const torch::Tensor& ids, const DecodeStep& step,
                                                  KvCache& cache) {
  torch::Tensor h = model->embed_tokens(ids);                         // [B, 1, d]
  torch::Tensor cos = step.cos_table.index_select(0, step.position);  // [1, D]
  torch::Tensor sin = step.sin_table.index_select(0, step.position);
  DecodeVisibility visibility(step.position, step.window);  // once for every layer
  for (size_t l = 0; l < model->layers->size(); ++l) {
    h = model->layers[l]->as<LlamaDecoderLayer>()->decode(h, cos, sin, static_cast<int64_t>(l),
                                                          step, visibility, cache);
  }
  return model->norm(h);
}

torch::Tensor LlamaForCausalLMImpl::forward_train(const torch::Tensor& ids,
                                                  const TrainForwardOptions& options) {
  if (!options.recompute.empty() &&
      options.recompute.size() != static_cast<size_t>(config_.num_hidden_layers)) {
    throw Error(fmt::format("recompute policy lists {} layers; the model has {}",
                            options.recompute.size(), config_.num_hidden_layers));
  }
  const std::vector<int64_t>& bounds = options.document_bounds;
  if (!bounds.empty()) {
    if (ids.size(0) != 1)
      throw Error("document-masked attention takes one row at a time (micro-batch 1)");
    bool valid = bounds.front() == 0 && bounds.back() == ids.size(1);
    for (size_t i = 1; i < bounds.size(); ++i) valid = valid && bounds[i] > bounds[i - 1];
    if (!valid)
      throw Error(fmt::format("document bounds must rise strictly from 0 to {} (the row length)",
                              ids.size(1)));
  }
  torch::Tensor h = model->embed_tokens(ids);  // [B, T, d]
  auto [cos, sin] = rotary(0, ids.size(1), h.device(), h.scalar_type());
  for (size_t l = 0; l < model->layers->size(); ++l) {
    // The blocks may run again in backward, after this call returns: capture by value.
    // (A shared_ptr, not the LlamaDecoderLayer holder: the holder's -> is const in a lambda.)
    std::shared_ptr<LlamaDecoderLayerImpl> layer = model->layers->ptr<LlamaDecoderLayerImpl>(l);
    std::function<torch::Tensor(const torch::Tensor&)> attention =
        [layer, cos = cos, sin = sin, bounds = options.document_bounds](const torch::Tensor& x) {
          return layer->attention_block(x, cos, sin, bounds);
        };
    std::function<torch::Tensor(const torch::Tensor&)> mlp = [layer](const torch::Tensor& x) {
      return layer->mlp_block(x);
    };
    switch (options.recompute.empty() ? Recompute::kNone : options.recompute[l]) {
      case Recompute::kNone:
        h = mlp(attention(h));
        break;
      case Recompute::kLayer:
        h = recompute_chunked_mlp(attention, mlp, h, options.mlp_chunk_tokens);
        break;
      case Recompute::kAttention:
        h = mlp(recompute(attention, h));
        break;
      case Recompute::kMlp:
        h = recompute_chunked_mlp({}, mlp, attention(h), options.mlp_chunk_tokens);
        break;
      case Recompute::kLayerKeepAttention: {
        // One holder per layer and call: filled by the first forward, emptied by the second.
        auto keep = std::make_shared<KeptAttention>();
        h = recompute_chunked_mlp(
            [layer, keep, cos = cos, sin = sin,
             bounds = options.document_bounds](const torch::Tensor& x) {
              return layer->attention_block(x, cos, sin, bounds, keep.get());
            },
            mlp, h, options.mlp_chunk_tokens);
        break;
      }
    }
  }
  return rms_norm(h, model->norm->weight, model->norm->eps);
}

torch::Tensor LlamaDecoderLayerImpl::decode(const torch::Tensor& x, const torch::Tensor& cos,
                                            const torch::Tensor& sin, int64_t layer,
                                            const DecodeStep& step,
                                            const DecodeVisibility& visibility, KvCache& cache) {
  torch::Tensor h =
      x + self_attn->decode(input_layernorm(x), cos, sin, layer, step, visibility, cache);
  return mlp(post_attention_layernorm(h), /*residual=*/h);
}

torch::Tensor LlamaForCausalLMImpl::logits(const torch::Tensor& hidden) {
  return lm_head(hidden);  // [B, T, V]
}

namespace {

// Concatenates the weights (dim 0) of `parts` into one tensor and makes each part's parameter
// a view into it, so loading, saving and parameter names are unchanged.
torch::Tensor fuse_rows(const std::vector<torch::Tensor*>& parts) {
  std::vector<torch::Tensor> values;
  for (torch::Tensor* p : parts) values.push_back(*p);
  torch::Tensor fused = torch::cat(values, 0);
  int64_t at = 0;
  for (torch::Tensor* p : parts) {
    int64_t rows = p->size(0);
    p->set_data(fused.narrow(0, at, rows));
    at += rows;
  }
  return fused;
}

}  // namespace

void LlamaForCausalLMImpl::fuse_projections() {
  torch::NoGradGuard no_grad;
  for (size_t l = 0; l < model->layers->size(); ++l) {
    auto layer = model->layers[l]->as<LlamaDecoderLayer>();
    LlamaAttentionImpl& a = *layer->self_attn;
    a.qkv_weight = fuse_rows({&a.q_proj->weight, &a.k_proj->weight, &a.v_proj->weight});
    if (config_.attention_bias)
      a.qkv_bias = fuse_rows({&a.q_proj->bias, &a.k_proj->bias, &a.v_proj->bias});
    LlamaMLPImpl& m = *layer->mlp;
    m.gate_up_weight = fuse_rows({&m.gate_proj->weight, &m.up_proj->weight});
    if (config_.mlp_bias) m.gate_up_bias = fuse_rows({&m.gate_proj->bias, &m.up_proj->bias});
  }
}

int64_t matmul_parameters(const ModelConfig& c) {
  int64_t attention =
      c.hidden_size * c.head_dim * (2 * c.num_attention_heads + 2 * c.num_key_value_heads);
  int64_t mlp = 3 * c.hidden_size * c.intermediate_size;
  return c.num_hidden_layers * (attention + mlp) + c.hidden_size * c.vocab_size;
}

double prefill_flops(const ModelConfig& c, int64_t from, int64_t to) {
  auto n = static_cast<double>(matmul_parameters(c));
  double l = static_cast<double>(c.num_hidden_layers), d = static_cast<double>(c.hidden_size);
  double a = static_cast<double>(from), b = static_cast<double>(to);
  return 2 * n * (b - a) + 2 * l * d * (b * b - a * a);
}

double executed_prefill_flops(const ModelConfig& c, int64_t from, int64_t to, int64_t keep,
                              int64_t head_positions) {
  if (from < 0 || to < from || keep < 0 || keep > to - from || head_positions < 0 ||
      head_positions > to - from) {
    throw Error(fmt::format("executed_prefill_flops: positions [{}, {}), keep {}, head {}", from,
                            to, keep, head_positions));
  }
  auto d = static_cast<double>(c.hidden_size), f = static_cast<double>(c.intermediate_size);
  auto q_width = static_cast<double>(c.num_attention_heads * c.head_dim);
  auto kv_width = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double kv_weights = 2 * d * kv_width;               // k_proj, v_proj
  const double rest_weights = 2 * d * q_width + 3 * d * f;  // q_proj, o_proj, MLP
  // Keys attended by the queries at positions [a, b): sum of p + 1.
  auto pairs = [](double a, double b) { return (b * (b + 1) - a * (a + 1)) / 2; };
  const double t = static_cast<double>(to - from), k = static_cast<double>(keep);
  const double b = static_cast<double>(to);
  double layer = 2 * (kv_weights + rest_weights) * t + 4 * q_width * pairs(b - t, b);
  double last = 2 * kv_weights * t + 2 * rest_weights * k + 4 * q_width * pairs(b - k, b);
  double head = 2 * d * static_cast<double>(c.vocab_size) * static_cast<double>(head_positions);
  return static_cast<double>(c.num_hidden_layers - 1) * layer + last + head;
}

}  // namespace longctx
