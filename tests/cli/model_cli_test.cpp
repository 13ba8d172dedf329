// End-to-end tests of the model commands on the CPU: `init` a random-weight debug model with the
// checked-in SentencePiece .model (read natively, so the binary links libtorch and no
// libsentencepiece), `score` it and `generate` from it; and `score` against transformers' own
// loss on a fixture model (tests/model/fixtures, made by scripts/gpu/make_model_fixtures.py).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "longctx/base/files.h"
#include "support/fixtures.h"
#include "support/safetensors_reader.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = LONGCTX_SOURCE_DIR;
const fs::path kFixtures = kSource / "tests/model/fixtures";

nlohmann::json run_json(const std::string& args) {
  testing::CommandResult r = testing::run_longctx(args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

void write_ids(const fs::path& path, const std::vector<int64_t>& ids) {
  std::string text;
  for (int64_t id : ids) text += std::to_string(id) + " ";
  testing::write_file(path, text + "\n");
}

// A debug model (2 layers, d=64) over the 1600-piece tiny_bpe.model, made once.
class DebugModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    fs::create_directories(dir_->path() / "tokenizer");
    fs::copy_file(kSource / "tests/tokenizer/goldens/tiny_bpe.model",
                  dir_->path() / "tokenizer/tokenizer.model");
    testing::CommandResult r = testing::run_longctx(
        fmt::format("init --preset debug --tokenizer {} --out {} --seed 3",
                    (dir_->path() / "tokenizer/tokenizer.model").string(), model().string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    init_out_ = new std::string(r.out);
  }
  static void TearDownTestSuite() {
    delete init_out_;
    delete dir_;
  }
  static fs::path model() { return dir_->path() / "model"; }
  static testing::TempDir* dir_;
  static std::string* init_out_;
};
testing::TempDir* DebugModel::dir_ = nullptr;
std::string* DebugModel::init_out_ = nullptr;

TEST(ModelCli, BinaryRunsAndDoesNotLinkLibSentencePiece) {
  testing::CommandResult help = testing::run_longctx("--help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* command : {"init", "score", "generate", "tokenize"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
  // libsentencepiece embeds a protobuf runtime that crashes libtorch's at load time.
  testing::CommandResult ldd = testing::run_command(fmt::format("ldd {}", LONGCTX_BINARY));
  ASSERT_EQ(ldd.exit_code, 0) << ldd.err;
  EXPECT_EQ(ldd.out.find("sentencepiece"), std::string::npos) << ldd.out;
}

TEST_F(DebugModel, InitWritesAModelWithTheTokenizersVocabulary) {
  EXPECT_NE(init_out_->find("vocabulary 1600 (sentencepiece:"), std::string::npos) << *init_out_;
  nlohmann::json config = nlohmann::json::parse(read_file(model() / "config.json"));
  EXPECT_EQ(config["vocab_size"], 1600);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_TRUE(fs::exists(model() / "model.safetensors"));
  EXPECT_TRUE(fs::exists(model() / "tokenizer.model"));
}

TEST_F(DebugModel, InitWritesBfloat16WeightsAndNamesABadDevice) {
  fs::path half = dir_->path() / "model-bf16";
  testing::CommandResult r = testing::run_longctx(
      fmt::format("init --preset debug --tokenizer {} --out {} --dtype bfloat16 --device cpu",
                  (dir_->path() / "tokenizer/tokenizer.model").string(), half.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json config = nlohmann::json::parse(read_file(half / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  // Two bytes a weight against float32's four (the headers are alike).
  double ratio = static_cast<double>(fs::file_size(half / "model.safetensors")) /
                 static_cast<double>(fs::file_size(model() / "model.safetensors"));
  EXPECT_NEAR(ratio, 0.5, 0.02);
  write_ids(dir_->path() / "ids-half.txt", {1, 20, 300, 1000, 7, 99, 1500, 2});
  nlohmann::json out =
      run_json(fmt::format("score --model {} --ids-file {} --json --device cpu", half.string(),
                           (dir_->path() / "ids-half.txt").string()));
  ASSERT_FALSE(out.is_null());
  EXPECT_NEAR(out["mean_loss"].get<double>(), std::log(1600.0), 0.2);

  testing::CommandResult bad =
      testing::run_longctx(fmt::format("init --preset debug --tokenizer {} --out {} --device gpu0",
                                       (dir_->path() / "tokenizer/tokenizer.model").string(),
                                       (dir_->path() / "model-bad").string()));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--device"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir_->path() / "model-bad" / "config.json"));
}

// Random weights (std 0.02) give near-uniform predictions: every loss close to ln(vocab).
TEST_F(DebugModel, ScoreOfRandomWeightsIsNearLnVocab) {
  std::mt19937 rng(5);
  std::vector<int64_t> ids(64);
  for (int64_t& id : ids) id = static_cast<int64_t>(rng() % 1600);
  write_ids(dir_->path() / "ids.txt", ids);
  nlohmann::json out = run_json(fmt::format("score --model {} --ids-file {} --json --device cpu",
                                            model().string(), (dir_->path() / "ids.txt").string()));
  ASSERT_FALSE(out.is_null());
  EXPECT_EQ(out["tokens"], 64);
  ASSERT_EQ(out["losses"].size(), 63u);
  for (double loss : out["losses"].get<std::vector<double>>()) EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(out["mean_loss"].get<double>(), std::log(1600.0), 0.1);

  // A text through the model's own tokenizer (BOS first).
  testing::write_file(dir_->path() / "text.txt", "The quick brown fox jumps over the lazy dog.");
  nlohmann::json text =
      run_json(fmt::format("score --model {} --text-file {} --json --device cpu", model().string(),
                           (dir_->path() / "text.txt").string()));
  ASSERT_FALSE(text.is_null());
  EXPECT_GT(text["tokens"].get<int>(), 5);
  EXPECT_NEAR(text["mean_loss"].get<double>(), std::log(1600.0), 0.1);
}

TEST_F(DebugModel, GenerateIsGreedyAndDeterministic) {
  std::string args = fmt::format(
      "generate --model {} --prompt \"kato rine musa\" --max-new-tokens 5 --json --device cpu",
      model().string());
  nlohmann::json a = run_json(args), b = run_json(args);
  ASSERT_FALSE(a.is_null());
  std::vector<int32_t> generated = a["generated_ids"];
  if (a["stop"] == "max_new_tokens") {
    EXPECT_EQ(generated.size(), 5u);
  } else {
    EXPECT_EQ(a["stop"], "stop_token");
    EXPECT_LT(generated.size(), 5u);
  }
  for (int32_t id : generated) EXPECT_LT(id, 1600);
  EXPECT_EQ(a["generated_ids"], b["generated_ids"]);
  EXPECT_EQ(a["text"], b["text"]);
  EXPECT_GT(a["prompt_tokens"].get<int>(), 1);
}

// Llama-2's vocabulary as a .model (scripts/fetch_tokenizers.sh builds it into the cache).
TEST(ModelCli, InitAndScoreWithTheLlama2TokenizerModel) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  fs::path cache = xdg ? fs::path(xdg) : fs::path(home ? home : "/nonexistent") / ".cache";
  fs::path llama2 = cache / "longctx/tokenizers/llama2/tokenizer.model";
  if (!fs::exists(llama2)) GTEST_SKIP() << llama2 << " absent (run scripts/fetch_tokenizers.sh)";
  testing::TempDir dir;
  fs::path model = dir.path() / "model";
  testing::CommandResult init = testing::run_longctx(
      fmt::format("init --preset debug --tokenizer {} --out {}", llama2.string(), model.string()));
  ASSERT_EQ(init.exit_code, 0) << init.err;
  nlohmann::json config = nlohmann::json::parse(read_file(model / "config.json"));
  EXPECT_EQ(config["vocab_size"], 32000);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_EQ(config["eos_token_id"], 2);
  testing::write_file(dir.path() / "text.txt", "Hello world, this is Llama-2's vocabulary.");
  nlohmann::json out = run_json(fmt::format("score --model {} --text-file {} --json --device cpu",
                                            model.string(), (dir.path() / "text.txt").string()));
  ASSERT_FALSE(out.is_null());
  EXPECT_NEAR(out["mean_loss"].get<double>(), std::log(32000.0), 0.1);
}

// The fixture's ids (expected.safetensors "ids", [1, 96] int64) as a file for --ids-file.
std::vector<int64_t> fixture_ids(const std::string& variant) {
  testing::SafetensorsTensor view =
      testing::read_safetensors_tensor(kFixtures / variant / "expected.safetensors", "ids");
  EXPECT_EQ(view.dtype, "I64");
  std::vector<int64_t> ids(view.bytes.size() / sizeof(int64_t));
  std::memcpy(ids.data(), view.bytes.data(), ids.size() * sizeof(int64_t));
  return ids;
}

double fixture_loss(const std::string& variant) {
  nlohmann::json summary = nlohmann::json::parse(read_file(kFixtures / "summary.json"));
  return summary[variant]["loss_f32"].get<double>();
}

// A chunk longer than the 4096 rows of LM head that score computes at a time gives the losses
// of short chunks: every row scored once, against the right target.
TEST_F(DebugModel, ScoreOfOneLongChunkEqualsShortChunks) {
  std::mt19937 rng(6);
  std::vector<int64_t> ids(5000);
  for (int64_t& id : ids) id = static_cast<int64_t>(rng() % 1600);
  write_ids(dir_->path() / "long.txt", ids);
  std::string args = fmt::format("score --model {} --ids-file {} --json --device cpu",
                                 model().string(), (dir_->path() / "long.txt").string());
  nlohmann::json one = run_json(args + " --chunk 5000"),
                 short_chunks = run_json(args + " --chunk 700");
  ASSERT_FALSE(one.is_null() || short_chunks.is_null());
  std::vector<double> a = one["losses"], b = short_chunks["losses"];
  ASSERT_EQ(a.size(), 4999u);
  ASSERT_EQ(b.size(), 4999u);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << "token " << i;
}

// transformers' loss (model(ids, labels=ids).loss in float32) on the fixture models, dynamic
// NTK included (96 tokens, beyond its 48 positions).
TEST(ModelCli, ScoreEqualsTransformersLossOnFixtures) {
  testing::TempDir dir;
  for (const char* variant : {"dynamic", "default"}) {
    SCOPED_TRACE(variant);
    write_ids(dir.path() / "ids.txt", fixture_ids(variant));
    nlohmann::json out =
        run_json(fmt::format("score --model {} --ids-file {} --json --device cpu",
                             (kFixtures / variant).string(), (dir.path() / "ids.txt").string()));
    ASSERT_FALSE(out.is_null());
    EXPECT_EQ(out["tokens"], 96);
    double want = fixture_loss(variant);
    EXPECT_NEAR(out["mean_loss"].get<double>(), want, 1e-4 * want);
  }
}

// Chunks of 10 through the KV cache give the losses of one forward. Dynamic NTK is the
// exception, in transformers as here: its base follows the longest position of each call, so an
// earlier chunk's keys were cached with a smaller base (per-token losses move by ~6e-4 on the
// fixture, the mean by ~6e-6 relative).
TEST(ModelCli, ChunkedScoreEqualsUnchunked) {
  testing::TempDir dir;
  for (const char* variant : {"default", "gqa_theta500k", "yarn", "dynamic"}) {
    SCOPED_TRACE(variant);
    const bool dynamic = std::string(variant) == "dynamic";
    write_ids(dir.path() / "ids.txt", fixture_ids(variant));
    std::string args =
        fmt::format("score --model {} --ids-file {} --json --device cpu",
                    (kFixtures / variant).string(), (dir.path() / "ids.txt").string());
    nlohmann::json whole = run_json(args), chunked = run_json(args + " --chunk 10");
    ASSERT_FALSE(whole.is_null() || chunked.is_null());
    std::vector<double> a = whole["losses"], b = chunked["losses"];
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i], b[i], dynamic ? 3e-3 : 1e-4) << "token " << i;
    }
    double mean = whole["mean_loss"];
    EXPECT_NEAR(chunked["mean_loss"].get<double>(), mean, (dynamic ? 1e-4 : 1e-6) * mean);
  }
}

}  // namespace
}  // namespace longctx
