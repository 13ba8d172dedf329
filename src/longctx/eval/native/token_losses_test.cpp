// Per-token losses of rows under our model against an explicit computation on the CPU: the
// whole row's [T, V] logits from one plain forward (no cache, no chunks, no batching), a
// float32 log-softmax and the target's entry. Then evaluate_loss over a mix dataset, checked
// against those losses summed by domain and bucket here.
#include "longctx/eval/native/token_losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/dataset/format.h"
#include "longctx/dataset/writer.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "support/scratch_dir.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

LlamaForCausalLM debug_model() {
  ModelConfig config = model_preset("debug");  // vocab 256
  return init_model(config, /*seed=*/3);
}

// [B, T - 1]: -log_softmax(forward(ids))[p, ids[p + 1]].
torch::Tensor explicit_losses(LlamaForCausalLM& model, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  torch::Tensor lp = torch::log_softmax(model->forward(ids).to(torch::kFloat), -1);  // [B, T, V]
  return -lp.slice(1, 0, -1).gather(-1, ids.slice(1, 1).unsqueeze(-1)).squeeze(-1);
}

torch::Tensor random_ids(int64_t b, int64_t t, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<int64_t> ids(static_cast<size_t>(b * t));
  for (int64_t& id : ids) id = static_cast<int64_t>(rng() % 256);
  return torch::tensor(ids, torch::kLong).view({b, t});
}

TEST(TokenLosses, EqualAnExplicitLogSoftmaxOverTheWholeRowsLogits) {
  LlamaForCausalLM model = debug_model();
  torch::Tensor ids = random_ids(3, 50, 1);
  torch::Tensor expected = explicit_losses(model, ids);
  // Chunks of 16 positions (the last one odd), the head 7 rows-times-positions at a time.
  KvCache cache(model->config(), 3, 50, torch::kCPU, torch::kFloat);
  torch::Tensor losses =
      row_token_losses(model, ids, cache, {.chunk_tokens = 16, .head_tokens = 7});
  ASSERT_EQ(losses.sizes(), expected.sizes());
  EXPECT_LT((losses - expected).abs().max().item<double>(), 2e-5);
  // One row at a time, one chunk: the same.
  for (int64_t b = 0; b < 3; ++b) {
    KvCache one(model->config(), 1, 50, torch::kCPU, torch::kFloat);
    torch::Tensor row = row_token_losses(model, ids.slice(0, b, b + 1), one,
                                         {.chunk_tokens = 4096, .head_tokens = 4096});
    EXPECT_LT((row[0] - expected[b]).abs().max().item<double>(), 2e-5) << b;
  }
}

TEST(TokenLosses, ChunksOnTheCpuDefaultToTheCpuPrefillChunkPerRow) {
  ModelConfig config = model_preset("debug");
  EXPECT_EQ(loss_chunk_tokens(config, torch::kCPU, torch::kFloat, 1, 131072, 4096), 4096);
  EXPECT_EQ(loss_chunk_tokens(config, torch::kCPU, torch::kFloat, 4, 131072, 4096), 1024);
  EXPECT_EQ(loss_chunk_tokens(config, torch::kCPU, torch::kFloat, 64, 131072, 4096), 256);
}

// 5 rows of 40 tokens; each row is a C4 span [0, 13) then a Book span [13, 40).
fs::path write_dataset(const fs::path& dir, const torch::Tensor& ids, int64_t vocab = 256) {
  DatasetLayout layout;
  layout.dir = dir;
  layout.state_dir = dir / ".state";
  fs::create_directories(layout.state_dir);
  layout.seq_len = 40;
  layout.domains = {"RedPajamaC4", "RedPajamaBook"};
  layout.files = {"x.jsonl"};
  DatasetWriter writer(layout, nullptr);
  for (int64_t r = 0; r < ids.size(0); ++r) {
    std::vector<int32_t> row;
    for (int64_t p = 0; p < 40; ++p) row.push_back(static_cast<int32_t>(ids[r][p].item<int64_t>()));
    writer.write_row(row, std::vector<SpanRecord>{{0, 0, 1, 0, 13, 0}, {0, 1, 2, 13, 40, 0}});
  }
  writer.finish();
  fs::remove_all(layout.state_dir);
  nlohmann::json manifest = {{"format", "longctx-mix"},   {"version", 1},
                             {"rows", ids.size(0)},       {"seq_len", 40},
                             {"token_type", "uint16"},    {"vocab_size", vocab},
                             {"tokenizer", "t"},          {"tokenizer_fingerprint", ""},
                             {"domains", layout.domains}, {"files", layout.files}};
  write_file_atomic(dir / kManifestJson, manifest.dump());
  return dir;
}

TEST(TokenLosses, EvaluateLossCountsEveryRowByDomainAndBucket) {
  ScratchDir dir;
  LlamaForCausalLM model = debug_model();
  torch::Tensor ids = random_ids(5, 40, 2);
  TrainingData data = TrainingData::open(write_dataset(dir.path() / "mix", ids), 0);
  torch::Tensor expected = explicit_losses(model, ids).to(torch::kDouble);  // [5, 39]
  // By hand: token p in [1, 13) is C4, [13, 40) Book; buckets [0, 20) and [20, 40).
  double c4 = expected.slice(1, 0, 12).sum().item<double>() / (5 * 12);
  double book_early = expected.slice(1, 12, 19).sum().item<double>() / (5 * 7);
  double book_late = expected.slice(1, 19, 39).sum().item<double>() / (5 * 20);
  double upto16 = expected.slice(1, 0, 15).sum().item<double>() / (5 * 15);

  LossEvalOptions options;
  options.settings.bucket_bounds_tokens = {0, 20, 40};
  options.settings.loss_at_tokens = {16, 64};
  options.settings.bootstrap_samples = 20;
  options.batch_rows = 2;  // 5 rows: batches of 2, 2 and 1
  options.losses = {.chunk_tokens = 16, .head_tokens = 5};
  std::vector<uint64_t> seen;
  options.row_losses = [&](uint64_t row, std::span<const float> l) {
    seen.push_back(row);
    EXPECT_EQ(l.size(), 39u);
    EXPECT_NEAR(l[3], expected[static_cast<int64_t>(row)][3].item<double>(), 2e-5);
  };
  LossResult r = evaluate_loss(model, data, options);
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(r.rows, 5u);
  EXPECT_NEAR(r.cell("RedPajamaC4", 0, 20)->stat.mean_loss, c4, 1e-5);
  EXPECT_EQ(r.cell("RedPajamaC4", 20, 40)->stat.tokens, 0u);
  EXPECT_NEAR(r.cell("RedPajamaBook", 0, 20)->stat.mean_loss, book_early, 1e-5);
  EXPECT_NEAR(r.cell("RedPajamaBook", 20, 40)->stat.mean_loss, book_late, 1e-5);
  EXPECT_EQ(r.cell("all", 20, 40)->stat.tokens, 100u);
  EXPECT_NEAR(r.at("all", 16)->stat.mean_loss, upto16, 1e-5);
  EXPECT_EQ(r.at("all", 64)->stat.tokens, 0u);

  options.max_rows = 2;
  EXPECT_EQ(evaluate_loss(model, data, options).rows, 2u);
}

TEST(TokenLosses, IdsOutsideTheVocabularyAreAnError) {
  ScratchDir dir;
  ModelConfig small = model_preset("debug");
  small.vocab_size = 100;
  LlamaForCausalLM model = init_model(small, 1);
  torch::Tensor ids = random_ids(1, 40, 3).remainder(97) + 3;  // inside the vocabulary of 100
  ids[0][5] = 200;
  TrainingData data = TrainingData::open(write_dataset(dir.path() / "mix", ids, 100), 0);
  try {
    evaluate_loss(model, data, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 0 holds token id 200"), std::string::npos)
        << e.what();
  }
  // A dataset whose manifest names a larger vocabulary is refused before any row is read.
  TrainingData wider = TrainingData::open(write_dataset(dir.path() / "wide", ids, 256), 0);
  EXPECT_THROW(evaluate_loss(model, wider, {}), Error);
}

}  // namespace
}  // namespace longctx
