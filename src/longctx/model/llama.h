// LLaMA in libtorch: the decoder transformers' LlamaForCausalLM computes, with its parameter
// names, so a Hugging Face checkpoint loads by name (checkpoint.h). RMSNorm, RoPE (every
// variant of rope.h), grouped-query attention, SwiGLU MLP, tied or untied head.
//
// Shapes: B batch, T tokens in this call, S tokens in the cache after it, d hidden_size,
// H attention heads, K key/value heads, D head_dim, F intermediate_size, V vocab.
//
//   LlamaForCausalLM model = load_model(dir, {.device = torch::kCUDA});   // checkpoint.h
//   KvCache cache(config, /*batch=*/1, /*max_tokens=*/131072, device, dtype);
//   torch::Tensor h = model->prefill(ids, /*start=*/0, cache);  // [B, 1, d]: the last position
//   torch::Tensor logits = model->logits(h);                     // [B, 1, V]
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "longctx/model/attention.h"
#include "longctx/model/config.h"
#include "longctx/model/train_ops.h"

namespace longctx {

// Preallocated keys and values of every layer: [B, K, max_tokens, D] each.
class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t batch, int64_t max_tokens, torch::Device device,
          torch::ScalarType dtype);
  int64_t max_tokens() const { return max_tokens_; }
  // Tokens held (positions [0, size()) are filled).
  int64_t size() const { return size_; }
  void set_size(int64_t tokens) { size_ = tokens; }
  // Writes a layer's new keys/values at [start, start + T) and returns the views [0, start + T).
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, int64_t start,
                                                 const torch::Tensor& k, const torch::Tensor& v);
  // Decoding (DecodeStep): writes one position, given as a [1] long tensor on the device, and
  // returns the views [0, window) whatever the position, so the shapes never change.
  std::pair<torch::Tensor, torch::Tensor> write(int64_t layer, const torch::Tensor& position,
                                                const torch::Tensor& k, const torch::Tensor& v,
                                                int64_t window);

 private:
  int64_t max_tokens_;
  int64_t size_ = 0;
  std::vector<torch::Tensor> keys_, values_;
};

// transformers' nn.Linear and nn.Embedding, with their parameter names (weight [out, in] or
// [V, d], bias [out]), allocated in `options` and left uninitialised: load_model or init_weights
// (checkpoint.h) fills them. libtorch's own modules first draw a default initialisation on the
// CPU in float32, which a load then overwrites: for Llama-3 8B, 32 GB of host memory and about
// 70 s in the GPU benchmarks.
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& options);
  // A head tied to the embedding: reads `shared` and registers no parameter of its own.
  explicit LinearImpl(torch::Tensor shared);
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }
  torch::Tensor weight, bias;  // bias undefined without one
};
TORCH_MODULE(Linear);

struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t vocab, int64_t width, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t width, double eps, const torch::TensorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& x);  // [..., d] -> same
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// What a training forward keeps for backward, per layer (train_ops.h): everything, or only the
// input of the whole layer or of one of its two blocks, which then runs again in backward.
//   kAttention: input_layernorm, q/k/v, RoPE, attention, o_proj
//   kMlp:       post_attention_layernorm, gate/up, SwiGLU, down_proj
//   kLayerKeepAttention: the whole layer runs again but its attention does not: the layer keeps
//               its input plus the attention output and log-sum-exp (causal_attention_kept)
enum class Recompute { kNone, kLayer, kAttention, kMlp, kLayerKeepAttention };

struct TrainForwardOptions {
  // One entry per layer; empty means kNone for every layer.
  std::vector<Recompute> recompute;
  // Document-masked attention (B = 1): row boundaries 0 = b0 < b1 < ... < bn = T; a token
  // attends only within its [b_i, b_i+1). Empty: plain causal attention over the whole row.
  std::vector<int64_t> document_bounds;
  // Tokens per chunk of a recomputed MLP (kLayer, kLayerKeepAttention, kMlp;
  // recompute_chunked_mlp in train_ops.h): its [chunk, F] intermediates exist one chunk at a
  // time. 0: the whole row.
  int64_t mlp_chunk_tokens = 8192;
};

// One decoding step in shapes that stay the same from token to token, so that a CUDA graph can
// capture it (generation.h): the position is a tensor on the device rather than a number on the
// host, and attention reads the cache's first `window` positions, masking those after it.
struct DecodeStep {
  torch::Tensor position;              // [1] long: the new token's position
  torch::Tensor cos_table, sin_table;  // [max_tokens, D]: rotary(0, max_tokens, ...)
  int64_t window = 0;                  // cache positions attended; more than position
};

struct LlamaAttentionImpl : torch::nn::Module {
  explicit LlamaAttentionImpl(const ModelConfig& config, const torch::TensorOptions& options = {});
  // x [B, T, d]; cos, sin [T, D]; start: position of x's first token. Every position's keys
  // and values enter the cache; the output is that of the last `keep` positions only
  // ([B, keep, d]; -1: all T, 0: none), whose queries alone are computed. With a residual
  // [B, keep, d], returns residual + attention (add_projection in llama.cpp: without gradients
  // the sum is written over residual).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, int64_t start, KvCache* cache,
                        const torch::Tensor& residual = {}, int64_t keep = -1);
  // Decoding one token: x [B, 1, d]; cos, sin [1, D]; the cache positions it sees.
  torch::Tensor decode(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                       int64_t layer, const DecodeStep& step, const DecodeVisibility& visibility,
                       KvCache& cache);
  // Training: the same attention with train_ops' RoPE, optionally masked at document bounds;
  // with `keep`, attention goes through causal_attention_kept (train_ops.h).
  torch::Tensor forward_train(const torch::Tensor& x, const torch::Tensor& cos,
                              const torch::Tensor& sin, const std::vector<int64_t>& bounds,
                              KeptAttention* keep = nullptr);
  // q [B, T, H * D], k and v [B, T, K * D]: one matmul after fuse_projections(), else three.
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> project(const torch::Tensor& x);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  // After fuse_projections(): [q; k; v] rows in one tensor (the three weights are views of it).
  torch::Tensor qkv_weight, qkv_bias;
  int64_t heads, kv_heads, head_dim;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMLPImpl : torch::nn::Module {
  explicit LlamaMLPImpl(const ModelConfig& config, const torch::TensorOptions& options = {});
  // down(silu(gate(x)) * up(x)), plus residual where one is given (written over it without
  // gradients, as LlamaAttention::forward).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual = {});
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  torch::Tensor gate_up_weight, gate_up_bias;  // after fuse_projections(): [gate; up] rows
};
TORCH_MODULE(LlamaMLP);

struct LlamaDecoderLayerImpl : torch::nn::Module {
  explicit LlamaDecoderLayerImpl(const ModelConfig& config,
                                 const torch::TensorOptions& options = {});
  // x + attention(norm(x)), then h + mlp(norm(h)), for the last `keep` positions (-1: all; the
  // others only enter the cache, LlamaAttention::forward). Without gradients (inference) the
  // output is written over x's storage: the residual sums ride on the o_proj and down_proj
  // matmuls.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, int64_t start, KvCache* cache, int64_t keep = -1);
  // Decoding one token: x [B, 1, d]; cos, sin [1, D]; the cache positions it sees.
  torch::Tensor decode(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                       int64_t layer, const DecodeStep& step, const DecodeVisibility& visibility,
                       KvCache& cache);
  // Training halves of forward: x + attention(norm(x)), and h + mlp(norm(h)).
  torch::Tensor attention_block(const torch::Tensor& x, const torch::Tensor& cos,
                                const torch::Tensor& sin, const std::vector<int64_t>& bounds,
                                KeptAttention* keep = nullptr);
  torch::Tensor mlp_block(const torch::Tensor& h);
  LlamaAttention self_attn{nullptr};
  LlamaMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// "model." in HF names.
struct LlamaModelImpl : torch::nn::Module {
  explicit LlamaModelImpl(const ModelConfig& config, const torch::TensorOptions& options = {});
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaModel);

struct LlamaForCausalLMImpl : torch::nn::Module {
  // Parameters in `options` (dtype, device), uninitialised but for the norms (ones): fill them
  // with load_model or init_weights (checkpoint.h), which construct it this way.
  explicit LlamaForCausalLMImpl(ModelConfig config, const torch::TensorOptions& options = {});

  // Final hidden states (after the last norm) of ids [B, T] at positions [start, start + T).
  // With a cache, keys/values are stored and the cache's size becomes start + T.
  torch::Tensor forward_hidden(const torch::Tensor& ids, int64_t start = 0,
                               KvCache* cache = nullptr);
  // Prefill for generation: stores the keys/values of ids [B, T] at [start, start + T) as
  // forward_hidden does, and returns the final hidden states of the last `keep` positions only
  // ([B, keep, d], 0 <= keep <= T). Nothing reads the last layer's output at the other
  // positions, so that layer computes only their keys and values: its queries, attention,
  // o_proj and MLP run for `keep` rows, 1/L less work than forward_hidden.
  torch::Tensor prefill(const torch::Tensor& ids, int64_t start, KvCache& cache, int64_t keep = 1);
  // lm_head: [B, T, d] -> [B, T, V] in the model's dtype.
  torch::Tensor logits(const torch::Tensor& hidden);
  torch::Tensor forward(const torch::Tensor& ids) { return logits(forward_hidden(ids)); }
  // Final hidden state [B, 1, d] of ids [B, 1] at step.position; stores its keys/values. The
  // cache's size is left to the caller (the position lives on the device).
  torch::Tensor decode_hidden(const torch::Tensor& ids, const DecodeStep& step, KvCache& cache);

  // Training forward of ids [B, T] from position 0: final hidden states [B, T, d], computed
  // with train_ops.h (memory-lean backward, activation recomputation per options).
  torch::Tensor forward_train(const torch::Tensor& ids, const TrainForwardOptions& options = {});

  // Inference: q/k/v and gate/up weights become views of one tensor each, so each runs as one
  // matmul. Parameter names, loading and saving are unchanged. Not for training.
  void fuse_projections();

  // cos and sin_signed [T, D] for positions [start, start + T) in `dtype`: float32 math as
  // transformers' rotary embedding does, times the attention factor, then cast; sin_signed is
  // sin with its first half negated (see apply_rotary in llama.cpp).
  std::pair<torch::Tensor, torch::Tensor> rotary(int64_t start, int64_t tokens,
                                                 torch::Device device, torch::ScalarType dtype);

  const ModelConfig& config() const { return config_; }

  LlamaModel model{nullptr};
  Linear lm_head{nullptr};  // shares model.embed_tokens.weight when tied

 private:
  // forward_hidden and prefill: every layer at every position but the last layer, which is
  // queried at the last `keep` positions only.
  torch::Tensor hidden_states(const torch::Tensor& ids, int64_t start, KvCache* cache,
                              int64_t keep);

  ModelConfig config_;
};
TORCH_MODULE(LlamaForCausalLM);

// Parameters in matrix multiplies per the FLOP convention of RECIPE.md section 5 (embedding
// lookup excluded, output head included).
int64_t matmul_parameters(const ModelConfig& config);

// Forward FLOPs of computing positions [from, to) of one sequence (RECIPE.md section 5,
// forward only): 2N per token plus 4 L d per attended position, i.e. 2 L T d per token on
// average over a causal pass from 0 to T.
double prefill_flops(const ModelConfig& config, int64_t from, int64_t to);

// Forward FLOPs as executed by prefill(ids at positions [from, to), keep) followed by the LM
// head at `head_positions` positions (logits of the last position: 1): what ran, for the MFU
// of a prefill. Every layer but the last runs its matmuls at every position; the last runs its
// k and v projections at every position and its q and o projections, attention and MLP at the
// last `keep` only (forward_hidden is keep = to - from). Matmuls count 2 FLOPs per weight per
// position; causal attention 4 H D per (query, key) pair (QK^T and PV), a query at position p
// attending the p + 1 keys up to its own. RECIPE.md section 5's 2N + 2LTd per token counts
// every layer and the head at every position instead.
double executed_prefill_flops(const ModelConfig& config, int64_t from, int64_t to, int64_t keep,
                              int64_t head_positions);

}  // namespace longctx
