// RoPE: the rotary position embedding's inverse frequencies and attention scaling for every
// variant a LLaMA-family config can name, exactly as Hugging Face transformers computes them
// (modeling_rope_utils.py: _compute_default_rope_parameters,
// _compute_linear_scaling_rope_parameters, _compute_dynamic_ntk_parameters,
// _compute_yarn_parameters, _compute_llama3_parameters), plus the paper's evaluation mode: dynamic
// NTK frozen at one length.
//
// Shapes: D = head_dim (the rotary dimension: LLaMA rotates the whole head), P = D / 2 pairs.
// Pair i rotates dimensions (i, i + P) by the angle position x inv_freq[i] (HF's rotate_half
// layout). inv_freq[0] = 1 rad/token is the fastest pair, inv_freq[P-1] the slowest.
//
//   RopeParameters rope{.type = RopeType::kDynamic, .theta = 10000, .head_dim = 128,
//                       .max_position_embeddings = 4096, .factor = 10,
//                       .frozen_length_tokens = 81920};
//   RopeFrequencies f = compute_rope(rope);   // f.base ~= 2.076e6, f.inv_freq[P]
//   RopeCoverage c = rope_coverage(rope);     // wavelengths and the context they cover
//
// Arithmetic. transformers builds inv_freq as a float32 torch tensor: every step after the
// Python-float scalars (base, factor, the YaRN ramp bounds, the attention factor) rounds to
// float32. Arithmetic::kFloat32 reproduces those roundings step by step, in the order torch
// performs them (values are float32 numbers held in doubles); Arithmetic::kFloat64 evaluates
// the same formulas in double, for analysis. Each float32 step here is correctly rounded; torch's
// pow may differ from a correctly rounded pow by an ulp, so results agree with transformers to a
// few float32 ulps (~1e-7 relative), not always bit for bit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

enum class RopeType { kDefault, kLinear, kDynamic, kYarn, kLlama3 };

// "default", "linear", "dynamic", "yarn", "llama3" (HF's rope_type names).
std::string_view rope_type_name(RopeType type);
// Throws Error for another name, saying which are supported.
RopeType parse_rope_type(std::string_view name);

// The RoPE of a model: transformers 5's `rope_parameters` plus the two model sizes it reads.
// Fields a type does not use are ignored by it (and by validate()).
struct RopeParameters {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;                  // rope_theta, the base
  int64_t head_dim = 128;                  // rotary dimension D (even)
  int64_t max_position_embeddings = 4096;  // tokens; dynamic scales relative to it
  double factor = 1.0;                     // linear, dynamic, yarn, llama3 (>= 1)
  // yarn and llama3: the pretraining context in tokens. transformers 5 fills it with
  // max_position_embeddings when a yarn config omits it; llama3 configs must give it. Dynamic
  // configs may carry it, but transformers ignores it there, and so do we.
  std::optional<int64_t> original_max_position_embeddings;
  // yarn
  std::optional<double> attention_factor;  // else derived from factor (and mscale)
  double beta_fast = 32.0;                 // rotations: pairs faster than this extrapolate
  double beta_slow = 1.0;                  // rotations: pairs slower than this interpolate
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  bool truncate = true;  // floor/ceil the ramp bounds to whole pairs
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // Not an HF field: longctx's evaluation mode for dynamic NTK. When set, the NTK base is
  // computed once at this length (as a Python int, like the paper's evaluation code, which
  // builds its cos/sin cache once at 81920 tokens) and never follows the sequence length.
  std::optional<int64_t> frozen_length_tokens;

  // The pretraining context: original_max_position_embeddings for yarn and llama3,
  // max_position_embeddings otherwise.
  int64_t pretraining_context_tokens() const;
  // Throws Error naming the bad field and value.
  void validate() const;
};

enum class Arithmetic { kFloat32, kFloat64 };

// How transformers obtains the sequence length for dynamic NTK. At initialisation (and in the
// paper's frozen evaluation) it is a Python int and the NTK base is a Python float (double).
// When the model grows its cache during a forward pass, seq_len is a 0-d int64 tensor and the
// whole base expression is evaluated in float32 (`factor * seq_len` promotes to float32).
enum class NtkSeqLen { kPythonInt, kTensor };

struct RopeOptions {
  // dynamic only: the current sequence length in tokens; absent = max_position_embeddings.
  // Lengths up to max_position_embeddings give the unscaled frequencies. Ignored when
  // frozen_length_tokens is set.
  std::optional<int64_t> seq_len_tokens;
  Arithmetic arithmetic = Arithmetic::kFloat32;
  NtkSeqLen ntk_seq_len = NtkSeqLen::kPythonInt;
};

struct RopeFrequencies {
  std::vector<double> inv_freq;   // [P] radians per token
  double attention_factor = 1.0;  // multiplies cos and sin (yarn only differs from 1)
  // The base the frequencies were built from: theta, or dynamic NTK's enlarged base.
  double base = 10000.0;
};

// inv_freq and the attention factor as transformers' ROPE_INIT_FUNCTIONS[type] returns them.
// Validates `rope` first.
RopeFrequencies compute_rope(const RopeParameters& rope, const RopeOptions& options = {});

// What a set of frequencies reaches. All lengths are in tokens.
//
// Effective base: the base a plain (default) RoPE would need for its slowest pair to turn as
// slowly as this one's: inv_freq[P-1] = base^-(D-2)/D, so base = inv_freq[P-1]^(-D/(D-2)). It is
// theta for default RoPE, the enlarged base for dynamic NTK (whose formula is built on this
// identity), factor^(D/(D-2)) x theta for linear, and the same identity for yarn and llama3,
// which scale their slowest pairs by `factor`.
//
// Covered context: the extrapolation bound of Liu et al. 2023 ("Scaling Laws of RoPE-based
// Extrapolation", arXiv 2310.05209), applied to any variant. During pretraining at context L
// with the unscaled RoPE (theta, no scaling), pairs whose wavelength 2*pi/inv_freq is below L
// turned through at least one full period and saw every angle; the first pair whose wavelength
// reaches L, the critical pair c, never did. A model is trusted up to the length at which pair
// c, under the scaled frequencies, completes one period: covered = 2*pi / inv_freq[c]. For
// LLaMA-2 (D 128, theta 1e4, L 4096) c = 46 (dimension 92, Liu et al.'s d_extra) and the bound
// is 2*pi*1e4^(92/128) = 4712 tokens unscaled, 78.4K at base 5e5, 218K for the paper's dynamic
// NTK frozen at 81920 (base 2.076e6), and about factor x L for linear, yarn and llama3 (which
// divide the slow pairs' frequencies by the factor).
// When every pair completes a period within L there is no critical pair and no bound.
struct RopeCoverage {
  std::vector<double> wavelength_tokens;              // [P] 2*pi / inv_freq
  std::vector<double> pretraining_wavelength_tokens;  // [P] under the unscaled RoPE
  double effective_base = 0.0;
  double longest_wavelength_tokens = 0.0;  // of the slowest pair
  int64_t pretraining_context_tokens = 0;  // L
  std::optional<int64_t> critical_pair;    // c
  std::optional<double> covered_context_tokens;
};

// Coverage of `rope` evaluated at `options` (in float64 unless options say otherwise). The
// pretraining RoPE is `pretraining_theta` (default: rope.theta) over
// `pretraining_context_tokens` (default: rope.pretraining_context_tokens()); give them when a
// model changed its base, e.g. LLaMA-2 continued at theta 5e5: pretraining 1e4 over 4096.
RopeCoverage rope_coverage(const RopeParameters& rope, const RopeOptions& options = {},
                           std::optional<double> pretraining_theta = std::nullopt,
                           std::optional<int64_t> pretraining_context_tokens = std::nullopt);

}  // namespace longctx
