#include "longctx/model/config.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Configs as the published checkpoints carry them (abridged only where noted).
const char* kLlama2 = R"({
  "_name_or_path": "meta-llama/Llama-2-7b-hf", "architectures": ["LlamaForCausalLM"],
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096,
  "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 4096,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null,
  "tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version": "4.31.0.dev0",
  "use_cache": true, "vocab_size": 32000})";

const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})";

// The same model as transformers 5 writes it: rope_parameters, dtype.
const char* kLlama31V5 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "dtype": "bfloat16", "eos_token_id": [128001, 128008, 128009],
  "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_parameters": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 8192, "rope_theta": 500000.0,
                      "rope_type": "llama3"},
  "tie_word_embeddings": false, "transformers_version": "5.0.0", "use_cache": true,
  "vocab_size": 128256})";

const char* kTinyLlama = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
  "intermediate_size": 5632, "max_position_embeddings": 2048, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false,
  "torch_dtype": "float32", "transformers_version": "4.31.0.dev0", "use_cache": true,
  "vocab_size": 32000})";

const char* kLlama32 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu",
  "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})";

const char* kMistral02 = R"({
  "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
  "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": null,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.36.0",
  "use_cache": true, "vocab_size": 32000})";

// The paper's released checkpoint carries dynamic NTK in the classic spelling ("type").
const char* kPaper80k = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 10.0, "type": "dynamic"},
  "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "use_cache": true, "vocab_size": 32000})";

// YaRN-Mistral-7b-128k (its "finetuned" key comes from YaRN's own code).
const char* kYarnMistral = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 14336, "max_position_embeddings": 131072, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 16.0, "finetuned": true,
  "original_max_position_embeddings": 8192, "type": "yarn"}, "rope_theta": 10000.0,
  "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "use_cache": true, "vocab_size": 32000})";

ModelConfig parse(const std::string& text) {
  return parse_model_config(json::parse(text), "config.json");
}

// The error message of parsing `doc` ("" when it parses).
std::string error_of(const json& doc) {
  try {
    parse_model_config(doc, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// kLlama2 with `patch` merged in (null values delete the key).
json llama2_with(const json& patch) {
  json doc = json::parse(kLlama2);
  doc.merge_patch(patch);
  return doc;
}

TEST(ModelConfig, Llama2) {
  ModelConfig c = parse(kLlama2);
  EXPECT_EQ(c.model_type, ModelType::kLlama);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.head_dim, 128);  // hidden / heads
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "float16");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(c.rope.type, RopeType::kDefault);
  EXPECT_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.rope.head_dim, 128);
  EXPECT_EQ(c.rope.max_position_embeddings, 4096);
}

TEST(ModelConfig, Llama31ClassicAndTransformers5SpellingsAgree) {
  for (const char* text : {kLlama31, kLlama31V5}) {
    ModelConfig c = parse(text);
    EXPECT_EQ(c.num_key_value_heads, 8);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
    EXPECT_TRUE(c.eos_token_id_is_list);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
    EXPECT_EQ(c.rope.type, RopeType::kLlama3);
    EXPECT_EQ(c.rope.theta, 500000.0);
    EXPECT_EQ(c.rope.factor, 8.0);
    EXPECT_EQ(c.rope.low_freq_factor, 1.0);
    EXPECT_EQ(c.rope.high_freq_factor, 4.0);
    EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  }
  EXPECT_EQ(compute_rope(parse(kLlama31).rope).inv_freq,
            compute_rope(parse(kLlama31V5).rope).inv_freq);
}

TEST(ModelConfig, OtherPublishedConfigs) {
  ModelConfig tiny = parse(kTinyLlama);
  EXPECT_EQ(tiny.num_key_value_heads, 4);
  EXPECT_EQ(tiny.head_dim, 64);
  ModelConfig small = parse(kLlama32);
  EXPECT_EQ(small.head_dim, 64);
  EXPECT_TRUE(small.tie_word_embeddings);
  EXPECT_EQ(small.rope.factor, 32.0);
  ModelConfig mistral = parse(kMistral02);
  EXPECT_EQ(mistral.model_type, ModelType::kMistral);
  EXPECT_EQ(mistral.rope.theta, 1e6);
  EXPECT_EQ(mistral.max_position_embeddings, 32768);
  ModelConfig paper = parse(kPaper80k);
  EXPECT_EQ(paper.rope.type, RopeType::kDynamic);
  EXPECT_EQ(paper.rope.factor, 10.0);
  ModelConfig yarn = parse(kYarnMistral);
  EXPECT_EQ(yarn.rope.type, RopeType::kYarn);
  EXPECT_EQ(yarn.rope.factor, 16.0);
  EXPECT_EQ(yarn.rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(compute_rope(yarn.rope).attention_factor, 0.1 * std::log(16.0) + 1);
}

TEST(ModelConfig, DefaultsFollowTransformers) {
  // LlamaConfig: num_key_value_heads = num_attention_heads, head_dim = hidden / heads,
  // max_position_embeddings 2048, rms_norm_eps 1e-6, rope_theta 10000.
  ModelConfig llama = parse(R"({"model_type": "llama", "hidden_size": 256,
                                "num_attention_heads": 8, "num_key_value_heads": null})");
  EXPECT_EQ(llama.num_key_value_heads, 8);
  EXPECT_EQ(llama.head_dim, 32);
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  EXPECT_EQ(llama.rms_norm_eps, 1e-6);
  EXPECT_EQ(llama.rope.theta, 10000.0);
  EXPECT_EQ(llama.intermediate_size, 11008);
  // MistralConfig: 8 KV heads, 32K x 4 positions.
  ModelConfig mistral = parse(R"({"model_type": "mistral", "sliding_window": null})");
  EXPECT_EQ(mistral.num_key_value_heads, 8);
  EXPECT_EQ(mistral.max_position_embeddings, 131072);
  EXPECT_EQ(mistral.intermediate_size, 14336);
  // Null token ids.
  ModelConfig no_ids = parse(R"({"model_type": "llama", "bos_token_id": null,
                                 "eos_token_id": null})");
  EXPECT_FALSE(no_ids.bos_token_id);
  EXPECT_TRUE(no_ids.eos_token_ids.empty());
}

TEST(ModelConfig, YarnWithNullFactorUsesTheLengthRatio) {
  json doc = llama2_with({{"max_position_embeddings", 32768}});
  doc["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", nullptr}, {"original_max_position_embeddings", 4096}};
  ModelConfig c = parse_model_config(doc, "config.json");
  EXPECT_EQ(c.rope.factor, 8.0);
}

TEST(ModelConfig, FieldsThatChangeTheComputationAreErrors) {
  auto has = [](const json& doc, const std::string& want) {
    SCOPED_TRACE(want);
    std::string e = error_of(doc);
    EXPECT_NE(e.find(want), std::string::npos) << "got: " << e;
    EXPECT_NE(e.find("config.json"), std::string::npos) << "got: " << e;
  };
  has(llama2_with({{"model_type", "qwen2"}}), "model_type \"qwen2\" is not a LLaMA-family model");
  has(llama2_with({{"model_type", nullptr}}), "\"model_type\" is missing");
  has(llama2_with({{"quantization_config", {{"bits", 4}}}}),
      "unknown field(s): quantization_config");
  has(llama2_with({{"auto_map", {{"AutoModel", "x.Y"}}}}), "unknown field(s): auto_map");
  has(llama2_with({{"pretraining_tp", 2}}), "pretraining_tp 2 is not supported");
  has(llama2_with({{"hidden_act", "gelu"}}), "hidden_act \"gelu\" is not supported");
  has(llama2_with({{"attention_dropout", 0.1}}), "attention_dropout 0.1 is not supported");
  has(llama2_with({{"partial_rotary_factor", 0.5}}), "partial_rotary_factor 0.5");
  has(llama2_with({{"hidden_size", "4096"}}), "\"hidden_size\" is \"4096\", expected an integer");
  has(llama2_with({{"num_key_value_heads", 5}}), "not a multiple of num_key_value_heads 5");
  has(llama2_with({{"torch_dtype", "int8"}}), "torch_dtype \"int8\"");
  has(llama2_with({{"rope_scaling", {{"rope_type", "longrope"}, {"factor", 2.0}}}}),
      "unsupported RoPE type \"longrope\"");
  has(llama2_with(
          {{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}, {"low_freq_factor", 1.0}}}}),
      "unknown field(s) for rope_type \"linear\": low_freq_factor");
  has(llama2_with({{"rope_scaling", {{"rope_type", "linear"}}}}), "\"factor\" is missing");
  has(llama2_with({{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}}),
      "\"low_freq_factor\" is missing");
  has(llama2_with(
          {{"rope_scaling", {{"rope_type", "linear"}, {"type", "dynamic"}, {"factor", 2.0}}}}),
      "disagree");
  has(llama2_with({{"rope_theta", 1e4},
                   {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 5e5}}}}),
      "rope_theta 10000 and 500000 disagree");
  has(llama2_with({{"rope_parameters", {{"rope_type", "linear"}, {"factor", 4.0}}},
                   {"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}}),
      "rope_scaling and rope_parameters disagree");
  has(llama2_with({{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}},
                   {"original_max_position_embeddings", 1024}}),
      "top-level original_max_position_embeddings 1024");
  json mistral = json::parse(kMistral02);
  mistral["sliding_window"] = 4096;
  has(mistral, "sliding-window attention (4096) is not supported");
  mistral.erase("sliding_window");
  has(mistral, "4096, MistralConfig's default");
  mistral["sliding_window"] = nullptr;
  mistral["attention_bias"] = true;
  has(mistral, "unknown field(s): attention_bias");
}

TEST(ModelConfig, HarmlessFieldsAreAccepted) {
  EXPECT_EQ(error_of(llama2_with({{"pad_token_id", 0},
                                  {"use_cache", false},
                                  {"tokenizer_class", "LlamaTokenizer"},
                                  {"max_length", 4096},
                                  {"attention_dropout", 0.0},
                                  {"rope_scaling",
                                   {{"rope_type", "dynamic"},
                                    {"factor", 2.0},
                                    {"original_max_position_embeddings", 4096}}}})),
            "");
}

TEST(ModelConfig, WrittenConfigReadsBackTheSame) {
  testing::TempDir dir;
  for (const char* text :
       {kLlama2, kLlama31, kLlama31V5, kTinyLlama, kLlama32, kMistral02, kPaper80k, kYarnMistral}) {
    ModelConfig c = parse(text);
    write_model_config(c, dir.path() / "config.json");
    ModelConfig back = load_model_config(dir.path());
    EXPECT_EQ(model_config_json(back), model_config_json(c)) << text;
    EXPECT_EQ(back.rope.type, c.rope.type);
    EXPECT_EQ(compute_rope(back.rope).inv_freq, compute_rope(c.rope).inv_freq);
    EXPECT_EQ(back.eos_token_ids, c.eos_token_ids);
    EXPECT_EQ(back.head_dim, c.head_dim);
    EXPECT_EQ(back.torch_dtype, c.torch_dtype);
  }
  // Classic fields: rope_theta at the top, rope_scaling with both type keys.
  json written = model_config_json(parse(kLlama31V5));
  EXPECT_EQ(written["rope_theta"], 500000.0);
  EXPECT_EQ(written["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(written["rope_scaling"]["type"], "llama3");
  EXPECT_EQ(written["torch_dtype"], "bfloat16");
  EXPECT_FALSE(written.contains("rope_parameters"));
  EXPECT_EQ(model_config_json(parse(kLlama2))["rope_scaling"], nullptr);
  EXPECT_EQ(model_config_json(parse(kMistral02))["sliding_window"], nullptr);
  EXPECT_EQ(read_file(dir.path() / "config.json").back(), '\n');
}

}  // namespace
}  // namespace longctx
