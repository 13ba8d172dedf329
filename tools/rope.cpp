// longctx rope: what a RoPE configuration does to each rotary pair, and how far it reaches.
//
//   longctx rope --model ~/models/Llama-2-7b-hf                       # from config.json
//   longctx rope --rope-type dynamic --factor 10 --frozen-length 81920  # the paper's evaluation
//   longctx rope --rope-theta 500000 --pretraining-theta 10000 --json   # a base change
//
// Phases: resolve the RoPE (config.json, then flags) -> frequencies as transformers computes
// them -> coverage (effective base, wavelengths, covered context) -> table or JSON.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <numbers>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/model/config.h"
#include "longctx/model/rope.h"
#include "longctx/report/table.h"

namespace longctx {

namespace {

struct RopeFlags {
  std::string model;
  RopeParameters rope;  // flag values; applied where given
  std::string rope_type = "default";
  int64_t original_max_position_embeddings = 0;
  int64_t frozen_length = 0;
  int64_t seq_len = 0;
  double attention_factor = 0, mscale = 0, mscale_all_dim = 0;
  bool no_truncate = false;
  double pretraining_theta = 0;
  int64_t pretraining_length = 0;
  std::string arithmetic = "float32";
  bool json = false;
  CLI::App* command = nullptr;

  bool given(const std::string& flag) const { return command->count(flag) > 0; }
};

// The model's RoPE (or the defaults), with every given flag applied on top.
RopeParameters resolve_rope(const RopeFlags& flags) {
  RopeParameters rope;
  if (!flags.model.empty()) rope = load_model_config(flags.model).rope;
  const RopeParameters& f = flags.rope;
  if (flags.given("--rope-type")) rope.type = parse_rope_type(flags.rope_type);
  if (flags.given("--rope-theta")) rope.theta = f.theta;
  if (flags.given("--head-dim")) rope.head_dim = f.head_dim;
  if (flags.given("--max-position-embeddings"))
    rope.max_position_embeddings = f.max_position_embeddings;
  if (flags.given("--factor")) rope.factor = f.factor;
  if (flags.given("--original-max-position-embeddings"))
    rope.original_max_position_embeddings = flags.original_max_position_embeddings;
  if (flags.given("--attention-factor")) rope.attention_factor = flags.attention_factor;
  if (flags.given("--beta-fast")) rope.beta_fast = f.beta_fast;
  if (flags.given("--beta-slow")) rope.beta_slow = f.beta_slow;
  if (flags.given("--mscale")) rope.mscale = flags.mscale;
  if (flags.given("--mscale-all-dim")) rope.mscale_all_dim = flags.mscale_all_dim;
  if (flags.no_truncate) rope.truncate = false;
  if (flags.given("--low-freq-factor")) rope.low_freq_factor = f.low_freq_factor;
  if (flags.given("--high-freq-factor")) rope.high_freq_factor = f.high_freq_factor;
  if (flags.given("--frozen-length")) rope.frozen_length_tokens = flags.frozen_length;
  rope.validate();
  return rope;
}

// "dynamic: rope_theta 10000, head_dim 128 (64 pairs), factor 10, ..., frozen at 81920 tokens".
std::string describe(const RopeParameters& r) {
  std::string s = fmt::format("{}: rope_theta {}, head_dim {} ({} pairs)", rope_type_name(r.type),
                              r.theta, r.head_dim, r.head_dim / 2);
  if (r.type != RopeType::kDefault) s += fmt::format(", factor {}", r.factor);
  s += fmt::format(", max_position_embeddings {}", r.max_position_embeddings);
  if (r.type == RopeType::kYarn || r.type == RopeType::kLlama3)
    s += fmt::format(", original_max_position_embeddings {}", r.pretraining_context_tokens());
  if (r.frozen_length_tokens) s += fmt::format(", frozen at {} tokens", *r.frozen_length_tokens);
  return s;
}

std::string tokens_text(double tokens) {
  return tokens < 1e4 ? fmt::format("{:.1f}", tokens) : fmt::format("{:.0f}", tokens);
}

int run_rope(const RopeFlags& flags) {
  // Resolve the RoPE, then compute as transformers does and measure its reach.
  RopeParameters rope = resolve_rope(flags);
  RopeOptions options;
  if (flags.arithmetic != "float32" && flags.arithmetic != "float64")
    throw Error(
        fmt::format("--arithmetic is \"{}\", expected float32 or float64", flags.arithmetic));
  options.arithmetic = flags.arithmetic == "float32" ? Arithmetic::kFloat32 : Arithmetic::kFloat64;
  if (flags.given("--seq-len")) {
    if (rope.type != RopeType::kDynamic)
      throw Error("--seq-len applies to dynamic NTK only", "use --rope-type dynamic");
    options.seq_len_tokens = flags.seq_len;
  }
  RopeFrequencies freq = compute_rope(rope, options);
  std::optional<double> pre_theta;
  std::optional<int64_t> pre_length;
  if (flags.given("--pretraining-theta")) pre_theta = flags.pretraining_theta;
  if (flags.given("--pretraining-length")) pre_length = flags.pretraining_length;
  RopeCoverage cover = rope_coverage(rope, options, pre_theta, pre_length);
  const int64_t pairs = rope.head_dim / 2;
  const double pretraining_theta = pre_theta.value_or(rope.theta);

  if (flags.json) {
    nlohmann::json out = {
        {"rope_type", rope_type_name(rope.type)},
        {"rope_theta", rope.theta},
        {"head_dim", rope.head_dim},
        {"max_position_embeddings", rope.max_position_embeddings},
        {"factor", rope.factor},
        {"pretraining_context_tokens", cover.pretraining_context_tokens},
        {"pretraining_theta", pretraining_theta},
        {"frozen_length_tokens", rope.frozen_length_tokens
                                     ? nlohmann::json(*rope.frozen_length_tokens)
                                     : nlohmann::json(nullptr)},
        {"arithmetic", flags.arithmetic},
        {"base", freq.base},
        {"effective_base", cover.effective_base},
        {"attention_factor", freq.attention_factor},
        {"longest_wavelength_tokens", cover.longest_wavelength_tokens},
        {"critical_pair",
         cover.critical_pair ? nlohmann::json(*cover.critical_pair) : nlohmann::json(nullptr)},
        {"covered_context_tokens", cover.covered_context_tokens
                                       ? nlohmann::json(*cover.covered_context_tokens)
                                       : nlohmann::json(nullptr)},
    };
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t i = 0; i < pairs; ++i) {
      rows.push_back({{"pair", i},
                      {"dims", {i, i + pairs}},
                      {"inv_freq", freq.inv_freq[i]},
                      {"wavelength_tokens", 2 * std::numbers::pi / freq.inv_freq[i]},
                      {"pretraining_wavelength_tokens", cover.pretraining_wavelength_tokens[i]}});
    }
    out["pairs"] = rows;
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }

  // Summary, then one line per pair.
  std::printf("RoPE %s\n", describe(rope).c_str());
  std::printf("base                 %.6g%s\n", freq.base,
              rope.type == RopeType::kDynamic ? " (dynamic NTK)" : "");
  std::printf(
      "effective base       %.6g (a plain RoPE with this base turns its slowest pair "
      "as slowly)\n",
      cover.effective_base);
  std::printf("attention factor     %.9g\n", freq.attention_factor);
  std::printf("longest wavelength   %s tokens (pair %lld)\n",
              tokens_text(cover.longest_wavelength_tokens).c_str(),
              static_cast<long long>(pairs - 1));
  std::printf("pretraining          rope_theta %g over %lld tokens\n", pretraining_theta,
              static_cast<long long>(cover.pretraining_context_tokens));
  if (cover.covered_context_tokens) {
    std::printf(
        "covered context      %s tokens (critical pair %lld: the first whose pretraining "
        "wavelength reaches %lld tokens)\n",
        tokens_text(*cover.covered_context_tokens).c_str(),
        static_cast<long long>(*cover.critical_pair),
        static_cast<long long>(cover.pretraining_context_tokens));
  } else {
    std::printf(
        "covered context      unbounded (every pair completes a period within the "
        "pretraining context)\n");
  }
  std::printf("\n");
  Table table({"pair", "dims", "inv_freq (rad/token)", "wavelength (tokens)", "x pretraining"},
              {Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  for (int64_t i = 0; i < pairs; ++i) {
    double wavelength = 2 * std::numbers::pi / freq.inv_freq[i];
    std::string mark = cover.critical_pair == i ? " <- critical" : "";
    table.add_row(
        {std::to_string(i), fmt::format("{},{}", i, i + pairs),
         fmt::format("{:.9e}", freq.inv_freq[i]), tokens_text(wavelength),
         fmt::format("{:.3f}{}", wavelength / cover.pretraining_wavelength_tokens[i], mark)});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

}  // namespace

CommandRun add_rope_command(CLI::App& app) {
  auto flags = std::make_shared<RopeFlags>();
  CLI::App* command = app.add_subcommand(
      "rope",
      "Per-pair RoPE frequencies and wavelengths as transformers computes them, the effective "
      "base, and the longest context covered, from a model's config.json (--model) or flags "
      "(flags override the model's values).");
  flags->command = command;
  RopeParameters& r = flags->rope;
  command->add_option("--model", flags->model, "Model directory or config.json");
  command->add_option("--rope-type", flags->rope_type, "default, linear, dynamic, yarn, llama3");
  command->add_option("--rope-theta", r.theta, "RoPE base (default 10000)");
  command->add_option("--head-dim", r.head_dim, "Rotary dimension (default 128)");
  command->add_option("--max-position-embeddings", r.max_position_embeddings,
                      "Tokens (default 4096)");
  command->add_option("--factor", r.factor, "Scaling factor (linear, dynamic, yarn, llama3)");
  command->add_option("--original-max-position-embeddings", flags->original_max_position_embeddings,
                      "Pretraining context in tokens (yarn, llama3)");
  command->add_option("--frozen-length", flags->frozen_length,
                      "Dynamic NTK computed once at this length (the paper evaluates at 81920)");
  command->add_option("--seq-len", flags->seq_len,
                      "Dynamic NTK at this current sequence length (tokens)");
  command->add_option("--low-freq-factor", r.low_freq_factor, "llama3 (default 1)");
  command->add_option("--high-freq-factor", r.high_freq_factor, "llama3 (default 4)");
  command->add_option("--beta-fast", r.beta_fast, "yarn (default 32)");
  command->add_option("--beta-slow", r.beta_slow, "yarn (default 1)");
  command->add_option("--attention-factor", flags->attention_factor, "yarn");
  command->add_option("--mscale", flags->mscale, "yarn");
  command->add_option("--mscale-all-dim", flags->mscale_all_dim, "yarn");
  command->add_flag("--no-truncate", flags->no_truncate, "yarn: do not round the ramp bounds");
  command->add_option("--pretraining-theta", flags->pretraining_theta,
                      "Base the model was pretrained with, for the covered context (default: "
                      "rope_theta)");
  command->add_option("--pretraining-length", flags->pretraining_length,
                      "Pretraining context in tokens (default: original_max_position_embeddings "
                      "or max_position_embeddings)");
  command
      ->add_option("--arithmetic", flags->arithmetic,
                   "float32 (as transformers builds inv_freq) or float64")
      ->capture_default_str();
  command->add_flag("--json", flags->json, "Print JSON instead of a table");
  return [flags] { return run_rope(*flags); };
}

}  // namespace longctx
