#include "longctx/model/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

#include "longctx/base/error.h"
#include "longctx/base/files.h"

namespace longctx {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Fields that do not change what the model computes: bookkeeping, initialisation, generation
// defaults (longctx's generate takes its settings from flags), heads for other tasks. Their
// values are not read.
// clang-format off
const std::set<std::string, std::less<>> kHarmlessFields = {
    "_attn_implementation_autoset", "_name_or_path", "add_cross_attention", "architectures",
    "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "decoder_start_token_id", "diversity_penalty", "do_sample",
    "early_stopping", "encoder_no_repeat_ngram_size", "exponential_decay_length_penalty",
    "finetuning_task", "forced_bos_token_id", "forced_eos_token_id", "id2label",
    "initializer_range", "is_decoder", "is_encoder_decoder", "label2id", "length_penalty",
    "max_length", "min_length", "no_repeat_ngram_size", "num_beam_groups", "num_beams",
    "num_return_sequences", "output_attentions", "output_hidden_states", "output_scores",
    "pad_token_id", "prefix", "problem_type", "remove_invalid_values", "repetition_penalty",
    "return_dict", "return_dict_in_generate", "sep_token_id", "suppress_tokens",
    "task_specific_params", "temperature", "tf_legacy_loss", "tie_encoder_decoder",
    "tokenizer_class", "top_k", "top_p", "torchscript", "transformers_version", "typical_p",
    "use_bfloat16", "use_cache"};
// clang-format on

// Reads fields of one JSON object, remembering which were read so the rest can be checked.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  const json* find(const std::string& key) {
    seen_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  // Present and not null.
  const json* value(const std::string& key) {
    const json* v = find(key);
    return v && !v->is_null() ? v : nullptr;
  }
  void read(const std::string& key, int64_t& out) {
    if (const json* v = value(key)) out = integer(key, *v);
  }
  void read(const std::string& key, double& out) {
    if (const json* v = value(key)) out = number(key, *v);
  }
  void read(const std::string& key, bool& out) {
    if (const json* v = value(key)) {
      if (!v->is_boolean()) throw bad(key, *v, "true or false");
      out = v->get<bool>();
    }
  }
  void read(const std::string& key, std::optional<int64_t>& out) {
    if (const json* v = value(key)) out = integer(key, *v);
  }
  void read(const std::string& key, std::optional<double>& out) {
    if (const json* v = value(key)) out = number(key, *v);
  }
  std::optional<std::string> string(const std::string& key) {
    const json* v = value(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw bad(key, *v, "a string");
    return v->get<std::string>();
  }

  int64_t integer(const std::string& key, const json& v) const {
    if (!v.is_number_integer()) throw bad(key, v, "an integer");
    return v.get<int64_t>();
  }
  double number(const std::string& key, const json& v) const {
    if (!v.is_number()) throw bad(key, v, "a number");
    return v.get<double>();
  }
  Error bad(const std::string& key, const json& v, std::string_view expected) const {
    return Error(fmt::format("{}: \"{}\" is {}, expected {}", where_, key, v.dump(), expected));
  }
  // Keys that were never asked for and are not harmless.
  std::vector<std::string> unread(const std::set<std::string, std::less<>>& harmless) const {
    std::vector<std::string> keys;
    for (const auto& [key, v] : object_.items()) {
      if (!seen_.contains(key) && !harmless.contains(key)) keys.push_back(key);
    }
    return keys;
  }
  const std::string& where() const { return where_; }

 private:
  const json& object_;
  std::string where_;
  std::set<std::string> seen_;
};

ModelConfig defaults_for(ModelType type) {
  ModelConfig c;  // LlamaConfig's defaults
  c.model_type = type;
  if (type == ModelType::kMistral) {  // MistralConfig's
    c.intermediate_size = 14336;
    c.num_key_value_heads = 8;
    c.max_position_embeddings = 4096 * 32;
  }
  return c;
}

// The RoPE fields of one rope dict (rope_scaling or rope_parameters), into `rope`.
void read_rope_dict(const json& dict, const std::string& where, RopeParameters& rope,
                    std::optional<double>& theta) {
  if (!dict.is_object())
    throw Error(fmt::format("{} is {}, expected an object", where, dict.dump()));
  Fields f(dict, where);
  std::optional<std::string> type = f.string("rope_type");
  std::optional<std::string> old_type = f.string("type");  // the key before transformers 4.43
  if (type && old_type && *type != *old_type)
    throw Error(fmt::format("{}: \"rope_type\" \"{}\" and \"type\" \"{}\" disagree", where, *type,
                            *old_type));
  try {
    rope.type = parse_rope_type(type ? *type : old_type.value_or("default"));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()), e.hint());
  }
  f.read("rope_theta", theta);
  std::optional<double> partial;
  f.read("partial_rotary_factor", partial);
  if (partial && *partial != 1.0)
    throw Error(fmt::format("{}: partial_rotary_factor {} is not supported", where, *partial),
                "LLaMA-family models rotate the whole head (partial_rotary_factor 1)");

  std::set<std::string, std::less<>> ignored;
  switch (rope.type) {
    case RopeType::kDefault:
      break;
    case RopeType::kLinear:
    case RopeType::kDynamic:
      if (!f.value("factor")) throw Error(fmt::format("{}: \"factor\" is missing", where));
      f.read("factor", rope.factor);
      // transformers accepts it for dynamic and does not use it; neither do we.
      if (rope.type == RopeType::kDynamic)
        f.read("original_max_position_embeddings", rope.original_max_position_embeddings);
      break;
    case RopeType::kYarn: {
      const json* factor = f.find("factor");
      if (!factor) throw Error(fmt::format("{}: \"factor\" is missing", where));
      f.read("factor", rope.factor);
      if (factor->is_null()) rope.factor = 0;  // resolved below: max / original
      f.read("original_max_position_embeddings", rope.original_max_position_embeddings);
      f.read("attention_factor", rope.attention_factor);
      f.read("beta_fast", rope.beta_fast);
      f.read("beta_slow", rope.beta_slow);
      f.read("mscale", rope.mscale);
      f.read("mscale_all_dim", rope.mscale_all_dim);
      f.read("truncate", rope.truncate);
      ignored.insert("finetuned");  // YaRN's own repository writes it; transformers ignores it
      break;
    }
    case RopeType::kLlama3:
      for (const char* key :
           {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
        if (!f.value(key))
          throw Error(fmt::format("{}: \"{}\" is missing", where, key),
                      "llama3 scaling needs factor, low_freq_factor, "
                      "high_freq_factor and original_max_position_embeddings");
      }
      f.read("factor", rope.factor);
      f.read("low_freq_factor", rope.low_freq_factor);
      f.read("high_freq_factor", rope.high_freq_factor);
      f.read("original_max_position_embeddings", rope.original_max_position_embeddings);
      break;
  }
  std::vector<std::string> unknown = f.unread(ignored);
  if (!unknown.empty())
    throw Error(fmt::format("{}: unknown field(s) for rope_type \"{}\": {}", where,
                            rope_type_name(rope.type), fmt::join(unknown, ", ")),
                "a field longctx does not know could change the positions; remove it if it "
                "does not");
}

bool same_rope(const RopeParameters& a, const RopeParameters& b) {
  return a.type == b.type && a.factor == b.factor &&
         a.original_max_position_embeddings == b.original_max_position_embeddings &&
         a.attention_factor == b.attention_factor && a.beta_fast == b.beta_fast &&
         a.beta_slow == b.beta_slow && a.mscale == b.mscale &&
         a.mscale_all_dim == b.mscale_all_dim && a.truncate == b.truncate &&
         a.low_freq_factor == b.low_freq_factor && a.high_freq_factor == b.high_freq_factor;
}

// The model's RoPE from rope_theta / rope_scaling (classic) and rope_parameters (transformers 5).
void read_rope(Fields& top, ModelConfig& c) {
  std::optional<double> top_theta;
  top.read("rope_theta", top_theta);
  const json* scaling = top.value("rope_scaling");
  const json* parameters = top.value("rope_parameters");
  std::optional<double> scaling_theta, parameters_theta;
  RopeParameters from_scaling, from_parameters;
  if (scaling)
    read_rope_dict(*scaling, top.where() + ": rope_scaling", from_scaling, scaling_theta);
  if (parameters)
    read_rope_dict(*parameters, top.where() + ": rope_parameters", from_parameters,
                   parameters_theta);
  if (scaling && parameters && !same_rope(from_scaling, from_parameters))
    throw Error(fmt::format("{}: rope_scaling and rope_parameters disagree", top.where()),
                "keep one of them (transformers 5 would use rope_scaling)");
  c.rope = scaling ? from_scaling : parameters ? from_parameters : RopeParameters{};

  // rope_theta may sit at the top, in the dict, or both (then they must agree).
  std::optional<double> theta = top_theta;
  for (const std::optional<double>& t : {scaling_theta, parameters_theta}) {
    if (!t) continue;
    if (theta && *theta != *t)
      throw Error(fmt::format("{}: rope_theta {} and {} disagree", top.where(), *theta, *t));
    theta = t;
  }
  c.rope.theta = theta.value_or(10000.0);

  // Phi-3 style top-level original_max_position_embeddings: transformers 5 uses it for yarn and
  // llama3, transformers 4 did not. Accept it only where the two agree.
  std::optional<int64_t> top_original;
  top.read("original_max_position_embeddings", top_original);
  bool uses_original = c.rope.type == RopeType::kYarn || c.rope.type == RopeType::kLlama3;
  if (top_original && uses_original && c.rope.original_max_position_embeddings != top_original)
    throw Error(fmt::format("{}: top-level original_max_position_embeddings {} is not the RoPE "
                            "dict's",
                            top.where(), *top_original),
                "transformers 4 and 5 read it differently; put it in rope_scaling only");
}

}  // namespace

std::string_view model_type_name(ModelType type) {
  return type == ModelType::kMistral ? "mistral" : "llama";
}

void ModelConfig::validate() const {
  auto positive = [](std::string_view field, int64_t v) {
    if (v <= 0) throw Error(fmt::format("config: {} is {}, expected a positive number", field, v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", max_position_embeddings);
  if (num_attention_heads % num_key_value_heads != 0)
    throw Error(
        fmt::format("config: num_attention_heads {} is not a multiple of "
                    "num_key_value_heads {}",
                    num_attention_heads, num_key_value_heads));
  if (!(rms_norm_eps > 0 && std::isfinite(rms_norm_eps)))
    throw Error(
        fmt::format("config: rms_norm_eps is {}, expected a positive number", rms_norm_eps));
  if (hidden_act != "silu")
    throw Error(fmt::format("config: hidden_act \"{}\" is not supported", hidden_act),
                "LLaMA-family models use silu (SwiGLU)");
  if (torch_dtype && *torch_dtype != "float32" && *torch_dtype != "float16" &&
      *torch_dtype != "bfloat16")
    throw Error(fmt::format("config: torch_dtype \"{}\" is not float32, float16 or bfloat16",
                            *torch_dtype));
  if (bos_token_id && *bos_token_id < 0)
    throw Error(fmt::format("config: bos_token_id is {}", *bos_token_id));
  for (int64_t id : eos_token_ids) {
    if (id < 0) throw Error(fmt::format("config: eos_token_id {} is negative", id));
  }
  if (model_type == ModelType::kMistral && (attention_bias || mlp_bias))
    throw Error("config: Mistral has no attention or MLP biases");
  if (rope.head_dim != head_dim || rope.max_position_embeddings != max_position_embeddings)
    throw Error("config: the RoPE's head_dim and max_position_embeddings must be the model's");
  rope.validate();
}

ModelConfig parse_model_config(const json& doc, const std::string& origin) {
  if (!doc.is_object()) throw Error(fmt::format("{}: expected a JSON object", origin));
  Fields f(doc, origin);
  std::optional<std::string> type = f.string("model_type");
  if (!type)
    throw Error(fmt::format("{}: \"model_type\" is missing", origin),
                "a Hugging Face config.json names its model_type");
  if (*type != "llama" && *type != "mistral")
    throw Error(fmt::format("{}: model_type \"{}\" is not a LLaMA-family model", origin, *type),
                "supported: llama (Llama 2/3, TinyLlama) and mistral");
  ModelConfig c = defaults_for(*type == "mistral" ? ModelType::kMistral : ModelType::kLlama);

  f.read("vocab_size", c.vocab_size);
  f.read("hidden_size", c.hidden_size);
  f.read("intermediate_size", c.intermediate_size);
  f.read("num_hidden_layers", c.num_hidden_layers);
  f.read("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads =
      c.model_type == ModelType::kLlama ? c.num_attention_heads : c.num_key_value_heads;
  f.read("num_key_value_heads", c.num_key_value_heads);  // null keeps the default
  if (c.num_attention_heads <= 0)
    throw Error(fmt::format("{}: num_attention_heads is {}, expected a positive number", origin,
                            c.num_attention_heads));
  c.head_dim = c.hidden_size / c.num_attention_heads;
  f.read("head_dim", c.head_dim);
  f.read("rms_norm_eps", c.rms_norm_eps);
  f.read("max_position_embeddings", c.max_position_embeddings);
  f.read("tie_word_embeddings", c.tie_word_embeddings);
  std::optional<std::string> torch_dtype = f.string("torch_dtype");
  std::optional<std::string> dtype = f.string("dtype");  // transformers 5's name
  if (torch_dtype && dtype && *torch_dtype != *dtype)
    throw Error(fmt::format("{}: torch_dtype \"{}\" and dtype \"{}\" disagree", origin,
                            *torch_dtype, *dtype));
  c.torch_dtype = torch_dtype ? torch_dtype : dtype;

  if (const json* bos = f.find("bos_token_id")) {
    c.bos_token_id = bos->is_null() ? std::nullopt : std::optional(f.integer("bos_token_id", *bos));
  }
  if (const json* eos = f.find("eos_token_id")) {
    c.eos_token_ids.clear();
    c.eos_token_id_is_list = eos->is_array();
    if (eos->is_array()) {
      for (const json& id : *eos) c.eos_token_ids.push_back(f.integer("eos_token_id", id));
    } else if (!eos->is_null()) {
      c.eos_token_ids.push_back(f.integer("eos_token_id", *eos));
    }
  }
  if (c.model_type == ModelType::kLlama) {
    f.read("attention_bias", c.attention_bias);
    f.read("mlp_bias", c.mlp_bias);
    int64_t tp = 1;
    f.read("pretraining_tp", tp);
    if (tp != 1)
      throw Error(fmt::format("{}: pretraining_tp {} is not supported", origin, tp),
                  "pretraining_tp > 1 splits the projections' matmuls (Llama-2's original "
                  "checkpoints); use a config with pretraining_tp 1");
  }
  if (std::optional<std::string> act = f.string("hidden_act")) c.hidden_act = *act;
  double dropout = 0;
  f.read("attention_dropout", dropout);
  if (dropout != 0)
    throw Error(fmt::format("{}: attention_dropout {} is not supported", origin, dropout),
                "continued pretraining in the recipe uses no dropout; set it to 0.0");
  if (c.model_type == ModelType::kMistral) {
    // MistralConfig's default sliding_window is 4096: only an explicit null turns it off.
    const json* window = f.find("sliding_window");
    if (!window || !window->is_null())
      throw Error(fmt::format("{}: sliding-window attention ({}) is not supported", origin,
                              window ? window->dump() : "4096, MistralConfig's default"),
                  "full attention needs \"sliding_window\": null (Mistral-7B v0.2 and later)");
  }
  if (const json* partial = f.value("partial_rotary_factor")) {
    if (f.number("partial_rotary_factor", *partial) != 1.0)
      throw Error(
          fmt::format("{}: partial_rotary_factor {} is not supported", origin, partial->dump()));
  }
  if (const json* pruned = f.value("pruned_heads")) {
    if (!pruned->empty())
      throw Error(fmt::format("{}: pruned_heads {} is not supported", origin, pruned->dump()));
  }
  read_rope(f, c);
  if (c.rope.type == RopeType::kYarn && c.rope.factor == 0) {  // "factor": null
    c.rope.factor = static_cast<double>(c.max_position_embeddings) /
                    static_cast<double>(c.rope.pretraining_context_tokens());
  }
  c.rope.head_dim = c.head_dim;
  c.rope.max_position_embeddings = c.max_position_embeddings;

  std::vector<std::string> unknown = f.unread(kHarmlessFields);
  if (!unknown.empty())
    throw Error(fmt::format("{}: unknown field(s): {}", origin, fmt::join(unknown, ", ")),
                "longctx refuses fields that could change the computation; remove them if they "
                "do not (quantization_config, auto_map and sliding windows are not supported)");
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", origin, e.what()), e.hint());
  }
  return c;
}

ModelConfig load_model_config(const fs::path& path) {
  fs::path file = fs::is_directory(path) ? path / "config.json" : path;
  if (!fs::exists(file))
    throw Error(fmt::format("{} does not exist", file.string()),
                "point at a Hugging Face model directory (it holds config.json)");
  json doc;
  try {
    doc = json::parse(read_file(file));
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
  return parse_model_config(doc, file.string());
}

json model_config_json(const ModelConfig& c) {
  c.validate();
  const bool llama = c.model_type == ModelType::kLlama;
  json out = {
      {"architectures", {llama ? "LlamaForCausalLM" : "MistralForCausalLM"}},
      {"attention_dropout", 0.0},
      {"bos_token_id", c.bos_token_id ? json(*c.bos_token_id) : json(nullptr)},
      {"head_dim", c.head_dim},
      {"hidden_act", c.hidden_act},
      {"hidden_size", c.hidden_size},
      {"initializer_range", 0.02},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"model_type", model_type_name(c.model_type)},
      {"num_attention_heads", c.num_attention_heads},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_key_value_heads", c.num_key_value_heads},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope.theta},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"use_cache", true},
      {"vocab_size", c.vocab_size},
  };
  if (c.eos_token_id_is_list) {
    out["eos_token_id"] = c.eos_token_ids;
  } else {
    out["eos_token_id"] = c.eos_token_ids.empty() ? json(nullptr) : json(c.eos_token_ids[0]);
  }
  if (llama) {
    out["attention_bias"] = c.attention_bias;
    out["mlp_bias"] = c.mlp_bias;
    out["pretraining_tp"] = 1;
  } else {
    out["sliding_window"] = nullptr;
  }
  if (c.torch_dtype) out["torch_dtype"] = *c.torch_dtype;

  const RopeParameters& r = c.rope;
  if (r.type == RopeType::kDefault) {
    out["rope_scaling"] = nullptr;
  } else {
    json s = {{"rope_type", rope_type_name(r.type)},
              {"type", rope_type_name(r.type)},
              {"factor", r.factor}};
    if (r.type == RopeType::kYarn) {
      if (r.original_max_position_embeddings)
        s["original_max_position_embeddings"] = *r.original_max_position_embeddings;
      if (r.attention_factor) s["attention_factor"] = *r.attention_factor;
      s["beta_fast"] = r.beta_fast;
      s["beta_slow"] = r.beta_slow;
      if (r.mscale) s["mscale"] = *r.mscale;
      if (r.mscale_all_dim) s["mscale_all_dim"] = *r.mscale_all_dim;
      if (!r.truncate) s["truncate"] = false;  // the default; older readers do not know the key
    }
    if (r.type == RopeType::kLlama3) {
      s["low_freq_factor"] = r.low_freq_factor;
      s["high_freq_factor"] = r.high_freq_factor;
      s["original_max_position_embeddings"] = *r.original_max_position_embeddings;
    }
    out["rope_scaling"] = s;
  }
  return out;
}

void write_model_config(const ModelConfig& config, const fs::path& path) {
  write_file_atomic(path, model_config_json(config).dump(2) + "\n");
}

}  // namespace longctx
