// The trainer on the debug model (2 layers, width 64) on CPU: the loss falls, a resumed run
// ends with the same weights as a straight one, checkpoints load back, the loss chunking does
// not change the result, and the failure paths stop before touching the weights. AdamW is
// checked against libtorch's own torch::optim::AdamW.
#include "longctx/train/trainer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/dataset/format.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/presets.h"
#include "longctx/train/adamw.h"
#include "longctx/train/plan.h"
#include "longctx/train/train_config.h"
#include "support/trainer_test_support.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

TEST(TrainerTest, LossFallsOnTheDebugModel) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 16, 64);
  TrainConfig c = debug_config(write_debug_model(tmp.path()), data, tmp.path() / "run");
  c.steps = 40;
  Trainer trainer(c, {.note = [](const std::string&) {}});
  std::vector<double> losses;
  trainer.run([&](const StepMetrics& m) { losses.push_back(m.loss); });
  ASSERT_EQ(losses.size(), 40u);
  // Random init: about ln(256) = 5.55. The counting pattern is learnable from one token.
  EXPECT_GT(losses.front(), 5.0);
  EXPECT_LT(losses.back(), 0.5) << "the debug model did not learn the counting pattern";
  std::vector<nlohmann::json> lines = metric_lines(c.out);
  ASSERT_EQ(lines.size(), 40u);
  EXPECT_EQ(lines[0]["tokens"], 256);
  EXPECT_TRUE(lines[1].contains("domain_loss"));  // --eval-every 2
  EXPECT_FALSE(lines[0].contains("domain_loss"));
  EXPECT_GT(lines[1]["domain_loss"]["all"]["tokens"].get<uint64_t>(), 0u);
  EXPECT_TRUE(fs::exists(fs::path(c.out) / "model" / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(c.out) / "config.json"));
}

TEST(TrainerTest, ResumeGivesTheSameWeightsAsAStraightRun) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 10, 64);
  fs::path model = write_debug_model(tmp.path());
  auto quiet = [](const std::string&) {};

  TrainConfig straight = debug_config(model, data, tmp.path() / "straight");
  straight.save_dtype = "float32";
  Trainer(straight, {.note = quiet}).run();

  TrainConfig halves = debug_config(model, data, tmp.path() / "halves");
  halves.save_dtype = "float32";
  {
    Trainer first(halves, {.note = quiet});
    for (int i = 0; i < 3; ++i) first.train_step();
    first.save_checkpoint();
    first.train_step();  // a step after the checkpoint that the "crash" loses
  }
  Trainer second(halves, {.resume = true, .note = quiet});
  EXPECT_EQ(second.step(), 3u);
  second.run();

  auto a = parameters_of(tmp.path() / "straight" / "model");
  auto b = parameters_of(tmp.path() / "halves" / "model");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  // metrics.jsonl lost the step after the checkpoint and has each step once.
  std::vector<nlohmann::json> lines = metric_lines(tmp.path() / "halves");
  ASSERT_EQ(lines.size(), 6u);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["step"], i + 1);
  std::vector<nlohmann::json> straight_lines = metric_lines(tmp.path() / "straight");
  ASSERT_EQ(straight_lines.size(), 6u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["loss"], straight_lines[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(lines[i]["grad_norm"], straight_lines[i]["grad_norm"]) << "step " << i + 1;
  }
}

TEST(TrainerTest, CheckpointLoadsBackWithTheTrainedWeights) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  TrainConfig c = debug_config(write_debug_model(tmp.path()), data, tmp.path() / "run");
  c.steps = 2;
  c.save_dtype = "float32";
  Trainer trainer(c, {.note = [](const std::string&) {}});
  trainer.train_step();
  trainer.train_step();
  fs::path checkpoint = trainer.save_checkpoint();
  EXPECT_EQ(checkpoint.filename(), "step-000002");
  EXPECT_EQ(read_file(tmp.path() / "run" / "checkpoints" / "latest"), "step-000002\n");
  auto saved = parameters_of(checkpoint);
  auto original = parameters_of(tmp.path() / "model");
  size_t changed = 0;
  for (const auto& [name, tensor] : saved)
    changed += torch::equal(tensor, original.at(name)) ? 0 : 1;
  EXPECT_EQ(changed, saved.size()) << "every parameter should have moved";
  // The same weights as the ones the run's model writes.
  trainer.save_model(tmp.path() / "final");
  auto final_params = parameters_of(tmp.path() / "final");
  for (const auto& [name, tensor] : saved) EXPECT_TRUE(torch::equal(tensor, final_params.at(name)));
}

TEST(TrainerTest, LossChunkingDoesNotChangeTheLoss) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  fs::path model = write_debug_model(tmp.path());
  std::vector<double> losses[2];
  uint32_t chunks[2] = {7, 1'000'000};
  for (int i = 0; i < 2; ++i) {
    TrainConfig c = debug_config(model, data, tmp.path() / ("run" + std::to_string(i)));
    c.loss_chunk = chunks[i];
    Trainer trainer(c, {.note = [](const std::string&) {}});
    for (int s = 0; s < 3; ++s) losses[i].push_back(trainer.train_step().loss);
  }
  for (int s = 0; s < 3; ++s) EXPECT_NEAR(losses[0][s], losses[1][s], 1e-5 * losses[1][s]);
}

TEST(TrainerTest, RecomputeAndDocumentMaskTrain) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  fs::path model = write_debug_model(tmp.path());
  double reference = 0;
  for (std::string mode : {"none", "full", "attention", "mlp"}) {
    TrainConfig c = debug_config(model, data, tmp.path() / ("run-" + mode));
    c.recompute = mode;
    Trainer trainer(c, {.note = [](const std::string&) {}});
    trainer.train_step();
    double loss = trainer.train_step().loss;
    if (mode == "none") reference = loss;
    EXPECT_NEAR(loss, reference, 1e-5 * reference) << mode;  // recomputation changes no math
  }
  {
    // Layer 1 recomputes in full, layer 0 its MLP; the resolved config records both.
    TrainConfig c = debug_config(model, data, tmp.path() / "mixed");
    c.recompute = "full";
    c.recompute_layers = "1";
    c.recompute_rest = "mlp";
    Trainer trainer(c, {.note = [](const std::string&) {}});
    trainer.train_step();
    EXPECT_NEAR(trainer.train_step().loss, reference, 1e-5 * reference);
    EXPECT_EQ(recompute_label(trainer.plan()), "full on layers 1, mlp on the others");
    nlohmann::json saved = nlohmann::json::parse(read_file(tmp.path() / "mixed" / "config.json"));
    EXPECT_EQ(saved["recompute_layers"], "1");
    EXPECT_EQ(saved["recompute_rest"], "mlp");
  }
  TrainConfig c = debug_config(model, data, tmp.path() / "masked");
  c.document_mask = true;
  c.micro_batch = 1;
  Trainer trainer(c, {.note = [](const std::string&) {}});
  EXPECT_TRUE(std::isfinite(trainer.train_step().loss));
}

TEST(TrainerTest, AutoTakesAMixOfModesWhenNoSingleModeIsFaster) {
  // A budget a byte short of `none`: the fastest fit is one layer without recomputation and
  // the other recomputing, and train runs and records exactly that.
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  fs::path model = write_debug_model(tmp.path());
  PlanInput in{.config = model_preset("debug"),
               .seq_len = 64,
               .micro_batch = 2,
               .rows_per_step = 4,
               .compute_bytes = 4};
  const uint64_t budget = plan_training(in)[0].total - 1;
  std::optional<PlanRow> mix = auto_recompute(in, budget, false);
  ASSERT_TRUE(mix.has_value());
  ASSERT_NE(mix->recompute_layers, "all");
  EXPECT_EQ(mix->recompute_rest, "none");
  TrainConfig c = debug_config(model, data, tmp.path() / "auto");
  c.gpu_memory_gib = static_cast<double>(budget) / (1 << 30);
  std::vector<std::string> notes;
  Trainer trainer(c, {.note = [&](const std::string& t) { notes.push_back(t); }});
  EXPECT_EQ(trainer.plan().recompute, mix->recompute);
  EXPECT_EQ(trainer.plan().recompute_layers, mix->recompute_layers);
  EXPECT_EQ(trainer.plan().total, mix->total);
  EXPECT_EQ(trainer.config().recompute_layers, mix->recompute_layers);
  EXPECT_EQ(trainer.config().recompute_rest, "none");
  bool noted = false;
  for (const std::string& t : notes)
    noted |= t.find("--recompute-layers " + mix->recompute_layers) != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_TRUE(std::isfinite(trainer.train_step().loss));
}

TEST(TrainerTest, NonFiniteLossStopsBeforeTheWeightsChange) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  TrainConfig c = debug_config(write_debug_model(tmp.path()), data, tmp.path() / "run");
  c.lr = 1e30;  // the first update throws the weights to ~1e30: the next loss is not finite
  c.grad_clip = 0;
  c.save_dtype = "float32";
  Trainer trainer(c, {.note = [](const std::string&) {}});
  trainer.train_step();
  fs::path checkpoint = trainer.save_checkpoint();
  auto before = parameters_of(checkpoint);
  try {
    for (int i = 0; i < 3; ++i) trainer.train_step();
    FAIL() << "expected a non-finite loss";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(tmp.path() / "run" / "checkpoints" / "latest"), "step-000001\n");
  auto after = parameters_of(checkpoint);
  for (const auto& [name, tensor] : before) EXPECT_TRUE(torch::equal(tensor, after.at(name)));
}

TEST(TrainerTest, RefusesWhatCannotWork) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 8, 64);
  fs::path model = write_debug_model(tmp.path());
  auto quiet = [](const std::string&) {};
  auto message = [&](TrainConfig c, bool resume = false) -> std::string {
    try {
      Trainer trainer(c, {.resume = resume, .note = quiet});
    } catch (const Error& e) {
      return std::string(e.what()) + " | " + e.hint();
    }
    return "";
  };
  // A memory budget nothing fits: the error names the budget.
  TrainConfig tiny = debug_config(model, data, tmp.path() / "tiny");
  tiny.gpu_memory_gib = 1e-6;
  EXPECT_NE(message(tiny).find("fits"), std::string::npos);
  // An explicit option that does not fit names one that does.
  TrainConfig tight = debug_config(model, data, tmp.path() / "tight");
  tight.recompute = "none";
  tight.seq_len = 64;
  {
    PlanInput in{.config = model_preset("debug"),
                 .seq_len = 64,
                 .micro_batch = 2,
                 .rows_per_step = 4,
                 .compute_bytes = 4};
    std::vector<PlanRow> rows = plan_training(in);
    const PlanRow* none = &rows[0];
    const PlanRow* full = &rows[4];
    ASSERT_EQ(none->recompute, "none");
    ASSERT_EQ(full->recompute, "full");
    ASSERT_LT(full->total, none->total);
    tight.gpu_memory_gib = static_cast<double>(full->total + none->total) / 2 / (1 << 30);
  }
  std::string text = message(tight);
  EXPECT_NE(text.find("--recompute none needs"), std::string::npos) << text;
  EXPECT_NE(text.find("fits"), std::string::npos) << text;
  // A Megatron dataset needs --seq-len; resuming needs a checkpoint; a run is not overwritten.
  TrainConfig no_len = debug_config(model, data, tmp.path() / "nolen");
  no_len.seq_len = 0;
  EXPECT_NE(message(no_len).find("seq"), std::string::npos);
  TrainConfig fresh = debug_config(model, data, tmp.path() / "fresh");
  EXPECT_NE(message(fresh, /*resume=*/true).find("no checkpoint"), std::string::npos);
  TrainConfig done = debug_config(model, data, tmp.path() / "done");
  done.steps = 1;
  Trainer(done, {.note = quiet}).run();
  EXPECT_NE(message(done).find("already holds a training run"), std::string::npos);
}

TEST(MasterAdamWTest, MatchesLibtorchAdamW) {
  torch::manual_seed(0);
  torch::Tensor w = torch::randn({5, 3}), b = torch::randn({3});
  torch::Tensor w_ref = w.clone().requires_grad_(true), b_ref = b.clone().requires_grad_(true);
  torch::OrderedDict<std::string, torch::Tensor> params;
  params.insert("w", w.clone().requires_grad_(true));
  params.insert("b", b.clone().requires_grad_(true));
  MasterAdamW ours(params, {.beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1});
  // The reference: weight decay on the matrix only, as ours does.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      std::vector<torch::Tensor>{w_ref},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.1)));
  groups.emplace_back(
      std::vector<torch::Tensor>{b_ref},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.0)));
  torch::optim::AdamW reference(groups);
  torch::Tensor x = torch::randn({7, 5});
  for (int step = 0; step < 5; ++step) {
    reference.zero_grad();
    torch::matmul(x, w_ref).add(b_ref).pow(2).sum().backward();
    reference.step();
    torch::matmul(x, params["w"]).add(params["b"]).pow(2).sum().backward();
    ours.accumulate();
    ours.step(0.01);
  }
  EXPECT_TRUE(torch::allclose(params["w"], w_ref, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(params["b"], b_ref, 1e-5, 1e-6));
  EXPECT_EQ(ours.steps(), 5);
}

TEST(MasterAdamWTest, Bfloat16ParametersFollowFloat32Masters) {
  // Weights and gradients that bfloat16 holds exactly: the float32 run and the bfloat16 run
  // with float32 masters then do the same float32 arithmetic.
  auto bf16_exact = [](torch::Tensor t) { return t.to(torch::kBFloat16).to(torch::kFloat); };
  torch::manual_seed(0);
  torch::Tensor w = bf16_exact(torch::randn({4, 4}).abs() + 1.0);  // w >= 1: bf16 ulp >= 2^-7
  torch::OrderedDict<std::string, torch::Tensor> f32, bf16;
  f32.insert("w", w.clone().requires_grad_(true));
  bf16.insert("w", w.to(torch::kBFloat16).requires_grad_(true));
  MasterAdamW a(f32, {}), b(bf16, {});
  EXPECT_GT(b.state_bytes(), a.state_bytes());  // a separate float32 master
  for (int step = 0; step < 20; ++step) {
    torch::Tensor g = bf16_exact(torch::randn({4, 4}));
    f32["w"].mutable_grad() = g.clone();
    bf16["w"].mutable_grad() = g.to(torch::kBFloat16);
    a.accumulate();
    b.accumulate();
    a.step(1e-3);
    b.step(1e-3);
  }
  // Each update (about 1e-3) is below half a bfloat16 ulp here, so updating the bfloat16
  // weights directly would leave them where they started; the master accumulates them.
  EXPECT_EQ(bf16["w"].scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf16["w"], f32["w"].to(torch::kBFloat16)));
  EXPECT_FALSE(torch::equal(bf16["w"], w.to(torch::kBFloat16)));
  // The saved state restores the masters into a fresh model's parameters.
  ScratchDir tmp;
  b.save(tmp.path() / "opt.safetensors");
  torch::OrderedDict<std::string, torch::Tensor> fresh;
  fresh.insert("w", torch::zeros({4, 4}, torch::kBFloat16).requires_grad_(true));
  MasterAdamW c(fresh, {});
  c.load(tmp.path() / "opt.safetensors");
  EXPECT_EQ(c.steps(), 20);
  EXPECT_TRUE(torch::equal(fresh["w"], bf16["w"]));
}

TEST(TrainConfigTest, SettingsRoundTripAndErrorsNameTheSetting) {
  TrainConfig c;
  c.set("seq-len", "81920");
  c.set("rope_theta", "5e5");
  c.set("batch-tokens", "4M");
  c.set("schedule", "cosine");
  c.set("offload_optimizer", "true");
  TrainConfig d;
  d.apply_json(c.to_json(), "test");
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_EQ(d.seq_len, 81920u);
  EXPECT_EQ(d.batch_tokens, 4'000'000u);
  EXPECT_DOUBLE_EQ(*d.rope_theta, 5e5);
  auto error = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error([&] { c.set("lr", "fast"); }).find("--lr"), std::string::npos);
  EXPECT_NE(error([&] { c.set("schedule", "step"); }).find("--schedule"), std::string::npos);
  EXPECT_NE(error([&] { c.set("learning-rate", "1"); }).find("learning-rate"), std::string::npos);
  EXPECT_NE(error([&] {
              c.apply_json({{"lr", "x"}}, "cfg.json");
            }).find("cfg.json"),
            std::string::npos);
  TrainConfig e;
  e.model = "m", e.data = "d", e.out = "o";
  e.lr = -1;
  EXPECT_NE(error([&] { e.validate(); }).find("--lr"), std::string::npos);
}

TEST(TrainConfigTest, LearningRateSchedules) {
  TrainConfig c;
  c.lr = 1.0;
  c.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 100), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate(c, 3, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 50, 100), 1.0);  // constant, the paper's
  c.schedule = LrSchedule::kLinear;
  c.min_lr = 0.0;
  EXPECT_DOUBLE_EQ(learning_rate(c, 4, 104), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 54, 104), 0.5);
  c.schedule = LrSchedule::kCosine;
  EXPECT_NEAR(learning_rate(c, 54, 104), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate(c, 104, 104), 0.0, 1e-12);
  EXPECT_EQ(parse_layer_set("0-1,3", 5), (std::vector<bool>{true, true, false, true, false}));
  EXPECT_EQ(parse_layer_set("all", 2), (std::vector<bool>{true, true}));
  EXPECT_THROW(parse_layer_set("4", 3), Error);
  for (std::string text : {"all", "0-1,3", "2", "0,2,4", "1-3"})
    EXPECT_EQ(format_layer_set(parse_layer_set(text, 5)), text);
}

}  // namespace
}  // namespace longctx
