#include "longctx/train/train_config.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <numbers>

#include "longctx/base/error.h"
#include "longctx/base/text.h"

namespace longctx {

namespace {

double parse_double(std::string_view name, std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(value))
    throw Error(fmt::format("--{}: expected a number, got '{}'", name, text));
  return value;
}

// Empty or "null" unsets the setting (a config file's null).
std::optional<double> parse_optional_double(std::string_view name, std::string_view text) {
  if (text.empty() || text == "null") return std::nullopt;
  return parse_double(name, text);
}

uint64_t parse_unsigned(std::string_view name, std::string_view text) {
  return parse_count(text, fmt::format("--{}", name));
}

bool parse_bool(std::string_view name, std::string_view text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  throw Error(fmt::format("--{}: expected true or false, got '{}'", name, text));
}

std::string choice(std::string_view name, std::string_view text,
                   std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed)
    if (text == a) return std::string(text);
  std::string list;
  for (std::string_view a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
  throw Error(fmt::format("--{}: '{}' is not one of {}", name, text, list));
}

struct Field {
  TrainConfig::Setting setting;
  std::function<void(TrainConfig&, std::string_view)> set;
  std::function<nlohmann::json(const TrainConfig&)> get;
};

// One entry per setting: its name, help, parser and JSON value. The order is the order of
// config.json and of `longctx train --help`.
const std::vector<Field>& fields() {
  using C = TrainConfig;
  using J = nlohmann::json;
  static const std::vector<Field> table = {
      {{"model", "Hugging Face model directory to continue from"},
       [](C& c, std::string_view v) { c.model = v; },
       [](const C& c) { return J(c.model); }},
      {{"data", "`longctx mix` output directory, or a Megatron dataset prefix"},
       [](C& c, std::string_view v) { c.data = v; },
       [](const C& c) { return J(c.data); }},
      {{"out", "run directory: config.json, metrics.jsonl, checkpoints/"},
       [](C& c, std::string_view v) { c.out = v; },
       [](const C& c) { return J(c.out); }},
      {{"seq_len", "tokens per training row (0: the dataset's row length)"},
       [](C& c, std::string_view v) {
         uint64_t n = parse_unsigned("seq-len", v);
         if (n > UINT32_MAX) throw Error(fmt::format("--seq-len {} is too large", v));
         c.seq_len = static_cast<uint32_t>(n);
       },
       [](const C& c) { return J(c.seq_len); }},
      {{"rope_theta", "new RoPE base (e.g. 500000); unset keeps the model's"},
       [](C& c, std::string_view v) { c.rope_theta = parse_optional_double("rope-theta", v); },
       [](const C& c) { return c.rope_theta ? J(*c.rope_theta) : J(nullptr); }},
      {{"lr", "peak learning rate"},
       [](C& c, std::string_view v) { c.lr = parse_double("lr", v); },
       [](const C& c) { return J(c.lr); }},
      {{"schedule", "learning-rate schedule after warmup: constant, cosine or linear"},
       [](C& c, std::string_view v) {
         std::string s = choice("schedule", v, {"constant", "cosine", "linear"});
         c.schedule = s == "constant" ? LrSchedule::kConstant
                      : s == "cosine" ? LrSchedule::kCosine
                                      : LrSchedule::kLinear;
       },
       [](const C& c) { return J(lr_schedule_name(c.schedule)); }},
      {{"warmup_steps", "steps of linear warmup from 0 to --lr"},
       [](C& c, std::string_view v) { c.warmup_steps = parse_unsigned("warmup-steps", v); },
       [](const C& c) { return J(c.warmup_steps); }},
      {{"min_lr", "learning rate that cosine and linear decay end at"},
       [](C& c, std::string_view v) { c.min_lr = parse_double("min-lr", v); },
       [](const C& c) { return J(c.min_lr); }},
      {{"weight_decay", "AdamW decoupled weight decay, applied to matrices only"},
       [](C& c, std::string_view v) { c.weight_decay = parse_double("weight-decay", v); },
       [](const C& c) { return J(c.weight_decay); }},
      {{"adam_beta1", "AdamW beta1"},
       [](C& c, std::string_view v) { c.adam_beta1 = parse_double("adam-beta1", v); },
       [](const C& c) { return J(c.adam_beta1); }},
      {{"adam_beta2", "AdamW beta2"},
       [](C& c, std::string_view v) { c.adam_beta2 = parse_double("adam-beta2", v); },
       [](const C& c) { return J(c.adam_beta2); }},
      {{"adam_eps", "AdamW epsilon"},
       [](C& c, std::string_view v) { c.adam_eps = parse_double("adam-eps", v); },
       [](const C& c) { return J(c.adam_eps); }},
      {{"grad_clip", "clip the global gradient L2 norm to this (0: off)"},
       [](C& c, std::string_view v) { c.grad_clip = parse_double("grad-clip", v); },
       [](const C& c) { return J(c.grad_clip); }},
      {{"batch_tokens", "tokens per optimizer step, rounded to whole rows (4M, 500K, ...)"},
       [](C& c, std::string_view v) { c.batch_tokens = parse_unsigned("batch-tokens", v); },
       [](const C& c) { return J(c.batch_tokens); }},
      {{"tokens", "tokens to train on (5B, 500M, ...)"},
       [](C& c, std::string_view v) { c.tokens = parse_unsigned("tokens", v); },
       [](const C& c) { return J(c.tokens); }},
      {{"steps", "optimizer steps to train (overrides --tokens when non-zero)"},
       [](C& c, std::string_view v) { c.steps = parse_unsigned("steps", v); },
       [](const C& c) { return J(c.steps); }},
      {{"micro_batch", "rows per forward/backward pass (gradients accumulate to --batch-tokens)"},
       [](C& c, std::string_view v) {
         c.micro_batch = static_cast<uint32_t>(parse_unsigned("micro-batch", v));
       },
       [](const C& c) { return J(c.micro_batch); }},
      {{"seed", "seed of the data order"},
       [](C& c, std::string_view v) { c.seed = parse_unsigned("seed", v); },
       [](const C& c) { return J(c.seed); }},
      {{"shuffle", "train rows in a seeded random order (false: dataset order)"},
       [](C& c, std::string_view v) { c.shuffle = parse_bool("shuffle", v); },
       [](const C& c) { return J(c.shuffle); }},
      {{"device", "auto, cpu, cuda or cuda:N"},
       [](C& c, std::string_view v) { c.device = v; },
       [](const C& c) { return J(c.device); }},
      {{"dtype", "compute dtype: auto (bfloat16 on CUDA, float32 on CPU), bfloat16, float32"},
       [](C& c, std::string_view v) {
         c.dtype = choice("dtype", v, {"auto", "bfloat16", "float32"});
       },
       [](const C& c) { return J(c.dtype); }},
      {{"recompute",
        "activation recomputation: auto (the fastest that fits), none, full, "
        "full-keep-attention (all but the attention kernel), attention, mlp"},
       [](C& c, std::string_view v) {
         c.recompute = choice("recompute", v,
                              {"auto", "none", "full", "full-keep-attention", "attention", "mlp"});
       },
       [](const C& c) { return J(c.recompute); }},
      {{"recompute_layers", "layers that recompute: all, or a list like 0-11,20"},
       [](C& c, std::string_view v) { c.recompute_layers = v; },
       [](const C& c) { return J(c.recompute_layers); }},
      {{"recompute_rest",
        "the recompute mode of the layers outside recompute_layers: none, full, "
        "full-keep-attention, attention, mlp"},
       [](C& c, std::string_view v) {
         c.recompute_rest = choice("recompute-rest", v,
                                   {"none", "full", "full-keep-attention", "attention", "mlp"});
       },
       [](const C& c) { return J(c.recompute_rest); }},
      {{"loss_chunk", "tokens per chunk of the LM-head loss (bounds the float32 logits)"},
       [](C& c, std::string_view v) {
         c.loss_chunk = static_cast<uint32_t>(parse_unsigned("loss-chunk", v));
       },
       [](const C& c) { return J(c.loss_chunk); }},
      {{"mlp_chunk",
        "tokens per chunk of a recomputed MLP (bounds its [chunk, F] intermediates; 0: the "
        "whole row)"},
       [](C& c, std::string_view v) {
         c.mlp_chunk = static_cast<uint32_t>(parse_unsigned("mlp-chunk", v));
       },
       [](const C& c) { return J(c.mlp_chunk); }},
      {{"offload_optimizer", "keep fp32 master weights and AdamW state in CPU memory"},
       [](C& c, std::string_view v) { c.offload_optimizer = parse_bool("offload-optimizer", v); },
       [](const C& c) { return J(c.offload_optimizer); }},
      {{"shard_optimizer",
        "with several ranks, each keeps 1/N of the optimizer state (ZeRO-2): auto (on), on, "
        "off"},
       [](C& c, std::string_view v) {
         c.shard_optimizer = choice("shard-optimizer", v, {"auto", "on", "off"});
       },
       [](const C& c) { return J(c.shard_optimizer); }},
      {{"document_mask", "attention stops at document boundaries (off: the paper's packing)"},
       [](C& c, std::string_view v) { c.document_mask = parse_bool("document-mask", v); },
       [](const C& c) { return J(c.document_mask); }},
      {{"gpu_memory_gib",
        "memory budget of the plan in GiB (0: what the device has free at the start)"},
       [](C& c, std::string_view v) { c.gpu_memory_gib = parse_double("gpu-memory-gib", v); },
       [](const C& c) { return J(c.gpu_memory_gib); }},
      {{"save_every", "steps between checkpoints (0: only at the end)"},
       [](C& c, std::string_view v) { c.save_every = parse_unsigned("save-every", v); },
       [](const C& c) { return J(c.save_every); }},
      {{"eval_every", "steps between per-domain loss reports (0: never)"},
       [](C& c, std::string_view v) { c.eval_every = parse_unsigned("eval-every", v); },
       [](const C& c) { return J(c.eval_every); }},
      {{"keep_checkpoints", "step checkpoints to keep (the newest; 0 keeps all)"},
       [](C& c, std::string_view v) {
         c.keep_checkpoints = static_cast<uint32_t>(parse_unsigned("keep-checkpoints", v));
       },
       [](const C& c) { return J(c.keep_checkpoints); }},
      {{"save_dtype", "dtype of saved weights: auto (the model's), bfloat16, float16, float32"},
       [](C& c, std::string_view v) {
         c.save_dtype = choice("save-dtype", v, {"auto", "bfloat16", "float16", "float32"});
       },
       [](const C& c) { return J(c.save_dtype); }},
      {{"peak_tflops",
        "dense bf16 peak of one GPU in TFLOP/s for MFU (unset: the device's by its name; "
        "MFU unknown for a device outside the table)"},
       [](C& c, std::string_view v) { c.peak_tflops = parse_optional_double("peak-tflops", v); },
       [](const C& c) { return c.peak_tflops ? J(*c.peak_tflops) : J(nullptr); }},
  };
  return table;
}

const Field& field(std::string_view key) {
  std::string name(key);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  for (const Field& f : fields())
    if (f.setting.name == name) return f;
  throw Error(fmt::format("unknown training setting '{}'", key),
              "see `longctx train --help` for the settings");
}

}  // namespace

std::string_view lr_schedule_name(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::kConstant:
      return "constant";
    case LrSchedule::kCosine:
      return "cosine";
    case LrSchedule::kLinear:
      return "linear";
  }
  return "constant";
}

void TrainConfig::set(std::string_view key, std::string_view value) {
  field(key).set(*this, value);
}

void TrainConfig::apply_json(const nlohmann::json& object, std::string_view origin) {
  if (!object.is_object()) throw Error(fmt::format("{}: expected a JSON object", origin));
  for (const auto& [key, value] : object.items()) {
    try {
      if (value.is_string()) {
        set(key, value.get<std::string>());
      } else if (value.is_null()) {
        set(key, "");
      } else if (value.is_number_unsigned() || value.is_number_integer()) {
        set(key, std::to_string(value.get<int64_t>()));
      } else if (value.is_number_float()) {
        set(key, fmt::format("{}", value.get<double>()));
      } else if (value.is_boolean()) {
        set(key, value.get<bool>() ? "true" : "false");
      } else {
        throw Error(fmt::format("expected a string, number or boolean, got {}", value.dump()));
      }
    } catch (const Error& e) {
      throw Error(fmt::format("{}: \"{}\": {}", origin, key, e.what()), e.hint());
    }
  }
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json object = nlohmann::json::object();
  for (const Field& f : fields()) object[std::string(f.setting.name)] = f.get(*this);
  return object;
}

const std::vector<TrainConfig::Setting>& TrainConfig::settings() {
  static const std::vector<Setting> list = [] {
    std::vector<Setting> s;
    for (const Field& f : fields()) s.push_back(f.setting);
    return s;
  }();
  return list;
}

bool TrainConfig::resumable_change(std::string_view name) {
  for (std::string_view ok :
       {"steps", "tokens", "save_every", "eval_every", "keep_checkpoints", "recompute",
        "recompute_layers", "recompute_rest", "loss_chunk", "mlp_chunk", "offload_optimizer",
        "shard_optimizer", "gpu_memory_gib", "device", "out", "save_dtype", "peak_tflops"}) {
    if (name == ok) return true;
  }
  return false;
}

void TrainConfig::validate() const {
  auto bad = [](std::string_view name, const std::string& why) {
    return Error(fmt::format("--{}: {}", name, why));
  };
  if (model.empty()) throw bad("model", "a model directory is required");
  if (data.empty()) throw bad("data", "a dataset is required");
  if (out.empty()) throw bad("out", "a run directory is required");
  if (!(lr > 0)) throw bad("lr", fmt::format("must be positive, got {}", lr));
  if (min_lr < 0 || min_lr > lr)
    throw bad("min-lr", fmt::format("must be in [0, --lr], got {}", min_lr));
  if (weight_decay < 0) throw bad("weight-decay", "must not be negative");
  if (!(adam_beta1 >= 0 && adam_beta1 < 1)) throw bad("adam-beta1", "must be in [0, 1)");
  if (!(adam_beta2 >= 0 && adam_beta2 < 1)) throw bad("adam-beta2", "must be in [0, 1)");
  if (!(adam_eps > 0)) throw bad("adam-eps", "must be positive");
  if (grad_clip < 0) throw bad("grad-clip", "must not be negative (0 turns clipping off)");
  if (batch_tokens == 0) throw bad("batch-tokens", "must be positive");
  if (tokens == 0 && steps == 0) throw bad("tokens", "give --tokens or --steps");
  if (micro_batch == 0) throw bad("micro-batch", "must be at least 1");
  if (loss_chunk == 0) throw bad("loss-chunk", "must be at least 1");
  if (rope_theta && !(*rope_theta > 1)) throw bad("rope-theta", "must be greater than 1");
  if (gpu_memory_gib < 0) throw bad("gpu-memory-gib", "must not be negative");
  if (peak_tflops && !(*peak_tflops > 0))
    throw bad("peak-tflops", fmt::format("must be positive, got {}", *peak_tflops));
  if (document_mask && micro_batch != 1)
    throw Error("--document-mask needs --micro-batch 1 (each row has its own documents)");
}

double learning_rate(const TrainConfig& c, uint64_t step, uint64_t total_steps) {
  if (step < c.warmup_steps)
    return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  if (c.schedule == LrSchedule::kConstant || total_steps <= c.warmup_steps) return c.lr;
  double progress = static_cast<double>(step - c.warmup_steps) /
                    static_cast<double>(total_steps - c.warmup_steps);
  progress = std::min(1.0, progress);
  if (c.schedule == LrSchedule::kLinear) return c.lr + (c.min_lr - c.lr) * progress;
  return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(std::numbers::pi * progress));
}

std::vector<bool> parse_layer_set(std::string_view text, int64_t layers) {
  std::vector<bool> set(static_cast<size_t>(layers), false);
  if (text.empty() || text == "all") {
    set.assign(static_cast<size_t>(layers), true);
    return set;
  }
  auto number = [&](std::string_view s) {
    int64_t v = -1;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v >= layers) {
      throw Error(fmt::format("--recompute-layers: '{}' is not a layer of 0-{}", s, layers - 1),
                  "write layers like all, 0-11 or 0-3,8");
    }
    return v;
  };
  for (const std::string& item : split(text, ',')) {
    size_t dash = item.find('-');
    int64_t first = number(std::string_view(item).substr(0, dash));
    int64_t last =
        dash == std::string::npos ? first : number(std::string_view(item).substr(dash + 1));
    if (last < first)
      throw Error(fmt::format("--recompute-layers: range '{}' runs backwards", item));
    for (int64_t l = first; l <= last; ++l) set[static_cast<size_t>(l)] = true;
  }
  return set;
}

}  // namespace longctx
