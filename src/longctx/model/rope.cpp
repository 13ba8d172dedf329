#include "longctx/model/rope.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "longctx/base/error.h"

namespace longctx {

namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;  // Python's 2 * math.pi, the same double

// Rounds to float32 under Arithmetic::kFloat32 (where torch holds a float32 tensor), and is
// the identity under kFloat64. Every float32 operation below is written as r(op(r(a), r(b))):
// for + - * / of two float32 numbers, rounding the exact double result to float32 gives the
// IEEE float32 result, so this matches torch's float32 kernels.
struct Rounding {
  Arithmetic arithmetic;
  double operator()(double x) const {
    return arithmetic == Arithmetic::kFloat32 ? static_cast<double>(static_cast<float>(x)) : x;
  }
};

// 1 / (base ** (arange(0, D, 2) / D)): the default frequencies. torch: the int64 arange becomes
// float32, `/ dim` divides in float32, the Python-float base is cast to float32 for the pow.
std::vector<double> default_inv_freq(double base, int64_t dim, Rounding r) {
  std::vector<double> inv(static_cast<size_t>(dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) {
    double exponent = r(static_cast<double>(2 * i) / static_cast<double>(dim));
    double pos_freq = r(std::pow(r(base), exponent));
    inv[i] = r(1.0 / pos_freq);
  }
  return inv;
}

// _compute_dynamic_ntk_parameters' enlarged base:
//   base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
// with seq_len = max(seq_len, max_pos).
double dynamic_ntk_base(const RopeParameters& rope, int64_t seq_len, NtkSeqLen kind, Rounding r) {
  seq_len = std::max(seq_len, rope.max_position_embeddings);
  const double exponent =
      static_cast<double>(rope.head_dim) / static_cast<double>(rope.head_dim - 2);
  const auto max_pos = static_cast<double>(rope.max_position_embeddings);
  if (kind == NtkSeqLen::kPythonInt || r.arithmetic == Arithmetic::kFloat64) {
    double scale = rope.factor * static_cast<double>(seq_len) / max_pos - (rope.factor - 1);
    return rope.theta * std::pow(scale, exponent);
  }
  // seq_len is an int64 tensor: `factor * seq_len` is float32 and so is everything after.
  double x = r(r(rope.factor) * r(static_cast<double>(seq_len)));
  x = r(x / r(max_pos));
  x = r(x - r(rope.factor - 1));
  x = r(std::pow(x, r(exponent)));
  return r(r(rope.theta) * x);
}

// _compute_yarn_parameters' get_mscale.
double yarn_mscale(double scale, double mscale) {
  if (scale <= 1) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

// Python-float part of _compute_yarn_parameters: the attention factor.
double yarn_attention_factor(const RopeParameters& rope) {
  if (rope.attention_factor) return *rope.attention_factor;
  // `if mscale and mscale_all_dim`: both present and non-zero.
  if (rope.mscale.value_or(0) != 0 && rope.mscale_all_dim.value_or(0) != 0)
    return yarn_mscale(rope.factor, *rope.mscale) / yarn_mscale(rope.factor, *rope.mscale_all_dim);
  return yarn_mscale(rope.factor, 1.0);
}

std::vector<double> yarn_inv_freq(const RopeParameters& rope, Rounding r) {
  const int64_t dim = rope.head_dim;
  const double base = rope.theta;
  const auto original = static_cast<double>(rope.pretraining_context_tokens());
  // `or 32`, `or 1`: a zero means the default.
  const double beta_fast = rope.beta_fast != 0 ? rope.beta_fast : 32.0;
  const double beta_slow = rope.beta_slow != 0 ? rope.beta_slow : 1.0;

  // find_correction_dim: the (fractional) pair index whose wavelength fits `rotations` turns
  // into the original context. Python floats throughout.
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original / (rotations * 2 * std::numbers::pi))) /
           (2 * std::log(base));
  };
  double low = correction_dim(beta_fast);
  double high = correction_dim(beta_slow);
  if (rope.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // linear_ramp_factor's guard against a zero-width ramp

  std::vector<double> inv(static_cast<size_t>(dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) {
    double exponent = r(static_cast<double>(2 * i) / static_cast<double>(dim));
    double pos_freq = r(std::pow(r(base), exponent));
    double extrapolation = r(1.0 / pos_freq);
    double interpolation = r(1.0 / r(r(rope.factor) * pos_freq));
    // ramp = clamp((i - low) / (high - low), 0, 1); extrapolation weight = 1 - ramp: 1 for the
    // fast pairs (i <= low), 0 for the slow ones (i >= high).
    double ramp = r(r(static_cast<double>(i) - r(low)) / r(high - low));
    ramp = std::clamp(ramp, 0.0, 1.0);
    double weight = r(1.0 - ramp);
    inv[i] = r(r(interpolation * r(1.0 - weight)) + r(extrapolation * weight));
  }
  return inv;
}

std::vector<double> llama3_inv_freq(const RopeParameters& rope, Rounding r) {
  std::vector<double> inv = default_inv_freq(rope.theta, rope.head_dim, r);
  const auto old_context = static_cast<double>(*rope.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / rope.low_freq_factor;  // Python floats
  const double high_freq_wavelen = old_context / rope.high_freq_factor;
  const bool f32 = r.arithmetic == Arithmetic::kFloat32;
  for (double& f : inv) {
    // `2 * math.pi / inv_freq` is Tensor.__rtruediv__: reciprocal, then times the scalar.
    double wavelen = f32 ? r(r(1.0 / f) * r(kTwoPi)) : kTwoPi / f;
    // Long wavelengths (slow pairs) are divided by the factor, short ones kept; between
    // high_freq_wavelen and low_freq_wavelen the two are blended by `smooth`.
    double scaled = wavelen > r(low_freq_wavelen) ? r(f / r(rope.factor)) : f;
    double reciprocal_wavelen = f32 ? r(r(1.0 / wavelen) * r(old_context)) : old_context / wavelen;
    double smooth = r(r(reciprocal_wavelen - r(rope.low_freq_factor)) /
                      r(rope.high_freq_factor - rope.low_freq_factor));
    double smoothed = r(r(r(r(1.0 - smooth) * scaled) / r(rope.factor)) + r(smooth * scaled));
    bool medium = !(wavelen < r(high_freq_wavelen)) && !(wavelen > r(low_freq_wavelen));
    f = medium ? smoothed : scaled;
  }
  return inv;
}

}  // namespace

std::string_view rope_type_name(RopeType type) {
  switch (type) {
    case RopeType::kDefault:
      return "default";
    case RopeType::kLinear:
      return "linear";
    case RopeType::kDynamic:
      return "dynamic";
    case RopeType::kYarn:
      return "yarn";
    case RopeType::kLlama3:
      return "llama3";
  }
  return "?";
}

RopeType parse_rope_type(std::string_view name) {
  for (RopeType t : {RopeType::kDefault, RopeType::kLinear, RopeType::kDynamic, RopeType::kYarn,
                     RopeType::kLlama3}) {
    if (rope_type_name(t) == name) return t;
  }
  throw Error(fmt::format("unsupported RoPE type \"{}\"", name),
              "LLaMA-family models use default, linear, dynamic, yarn or llama3");
}

int64_t RopeParameters::pretraining_context_tokens() const {
  if (type == RopeType::kYarn || type == RopeType::kLlama3)
    return original_max_position_embeddings.value_or(max_position_embeddings);
  return max_position_embeddings;
}

void RopeParameters::validate() const {
  const std::string_view name = rope_type_name(type);
  auto bad = [&](std::string_view field, auto value, std::string_view expected) {
    return Error(fmt::format("RoPE ({}): {} is {}, expected {}", name, field, value, expected));
  };
  if (!(std::isfinite(theta) && theta > 1)) throw bad("rope_theta", theta, "a number > 1");
  if (head_dim < 4 || head_dim % 2 != 0) throw bad("head_dim", head_dim, "an even number >= 4");
  if (max_position_embeddings <= 0)
    throw bad("max_position_embeddings", max_position_embeddings, "a positive token count");
  if (type != RopeType::kDefault && !(std::isfinite(factor) && factor >= 1))
    throw bad("factor", factor, "a number >= 1");
  if (original_max_position_embeddings && *original_max_position_embeddings <= 0)
    throw bad("original_max_position_embeddings", *original_max_position_embeddings,
              "a positive token count");
  if (frozen_length_tokens) {
    if (type != RopeType::kDynamic)
      throw Error(fmt::format("RoPE ({}): a frozen length applies to dynamic NTK only", name),
                  "drop the frozen length, or use rope_type dynamic");
    if (*frozen_length_tokens <= 0)
      throw bad("frozen length", *frozen_length_tokens, "a positive token count");
  }
  if (type == RopeType::kYarn) {
    if (attention_factor && !(*attention_factor > 0))
      throw bad("attention_factor", *attention_factor, "a number > 0");
    double fast = beta_fast != 0 ? beta_fast : 32, slow = beta_slow != 0 ? beta_slow : 1;
    if (!(fast > 0 && slow > 0 && fast >= slow))
      throw Error(
          fmt::format("RoPE (yarn): beta_fast {} and beta_slow {} must be positive with "
                      "beta_fast >= beta_slow",
                      beta_fast, beta_slow));
  }
  if (type == RopeType::kLlama3) {
    if (!original_max_position_embeddings)
      throw Error("RoPE (llama3): original_max_position_embeddings is missing",
                  "llama3 scaling needs the pretraining context, e.g. 8192 for Llama 3.1");
    if (!(low_freq_factor > 0 && high_freq_factor > low_freq_factor))
      throw Error(
          fmt::format("RoPE (llama3): low_freq_factor {} and high_freq_factor {} must "
                      "satisfy 0 < low < high",
                      low_freq_factor, high_freq_factor));
  }
}

RopeFrequencies compute_rope(const RopeParameters& rope, const RopeOptions& options) {
  rope.validate();
  const Rounding r{options.arithmetic};
  RopeFrequencies out;
  out.base = rope.theta;
  switch (rope.type) {
    case RopeType::kDefault:
      out.inv_freq = default_inv_freq(rope.theta, rope.head_dim, r);
      break;
    case RopeType::kLinear:
      // `inv_freq /= factor`: float32 division by the factor cast to float32.
      out.inv_freq = default_inv_freq(rope.theta, rope.head_dim, r);
      for (double& f : out.inv_freq) f = r(f / r(rope.factor));
      break;
    case RopeType::kDynamic: {
      int64_t seq_len = rope.max_position_embeddings;
      NtkSeqLen kind = options.ntk_seq_len;
      if (rope.frozen_length_tokens) {
        seq_len = *rope.frozen_length_tokens;
        kind = NtkSeqLen::kPythonInt;
      } else if (options.seq_len_tokens) {
        seq_len = *options.seq_len_tokens;
      }
      out.base = dynamic_ntk_base(rope, seq_len, kind, r);
      out.inv_freq = default_inv_freq(out.base, rope.head_dim, r);
      break;
    }
    case RopeType::kYarn:
      out.inv_freq = yarn_inv_freq(rope, r);
      out.attention_factor = yarn_attention_factor(rope);
      break;
    case RopeType::kLlama3:
      out.inv_freq = llama3_inv_freq(rope, r);
      break;
  }
  return out;
}

RopeCoverage rope_coverage(const RopeParameters& rope, const RopeOptions& options,
                           std::optional<double> pretraining_theta,
                           std::optional<int64_t> pretraining_context_tokens) {
  RopeOptions exact = options;
  exact.arithmetic = Arithmetic::kFloat64;
  exact.ntk_seq_len = NtkSeqLen::kPythonInt;
  RopeFrequencies f = compute_rope(rope, exact);

  RopeCoverage c;
  c.pretraining_context_tokens =
      pretraining_context_tokens.value_or(rope.pretraining_context_tokens());
  const double theta = pretraining_theta.value_or(rope.theta);
  if (!(std::isfinite(theta) && theta > 1))
    throw Error(fmt::format("pretraining rope_theta is {}, expected a number > 1", theta));
  if (c.pretraining_context_tokens <= 0)
    throw Error(fmt::format("pretraining context is {} tokens, expected a positive count",
                            c.pretraining_context_tokens));
  std::vector<double> pretraining =
      default_inv_freq(theta, rope.head_dim, Rounding{exact.arithmetic});
  for (size_t i = 0; i < f.inv_freq.size(); ++i) {
    c.wavelength_tokens.push_back(kTwoPi / f.inv_freq[i]);
    c.pretraining_wavelength_tokens.push_back(kTwoPi / pretraining[i]);
    if (!c.critical_pair &&
        c.pretraining_wavelength_tokens[i] >= static_cast<double>(c.pretraining_context_tokens)) {
      c.critical_pair = static_cast<int64_t>(i);
      c.covered_context_tokens = c.wavelength_tokens[i];
    }
  }
  const auto dim = static_cast<double>(rope.head_dim);
  c.effective_base = std::pow(f.inv_freq.back(), -dim / (dim - 2));
  c.longest_wavelength_tokens =
      *std::max_element(c.wavelength_tokens.begin(), c.wavelength_tokens.end());
  return c;
}

}  // namespace longctx
