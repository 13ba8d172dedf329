// Data-parallel training on the CPU: two ranks (threads of the test, joined over TCP) train the
// debug model as one process does. Each rank runs half of every step's rows and the gradient
// sums are added, so the losses and the weights are those of one process running all rows;
// rank 0 alone writes the run's files; a two-rank run resumes to a straight run's weights.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/train/process_group.h"
#include "longctx/train/trainer.h"
#include "support/trainer_test_support.h"

namespace longctx {
namespace {

auto quiet = [](const std::string&) {};

TEST(DataParallel, TwoRanksTakeTheStepsOfOneProcess) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 16, 64);
  fs::path model = write_debug_model(tmp.path());

  TrainConfig one = debug_config(model, data, tmp.path() / "one");
  one.save_dtype = "float32";
  std::vector<StepMetrics> alone;
  Trainer(one, {.note = quiet}).run([&](const StepMetrics& m) { alone.push_back(m); });

  TrainConfig two = debug_config(model, data, tmp.path() / "two");
  two.save_dtype = "float32";
  std::vector<std::vector<StepMetrics>> ranks(2);
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    Trainer trainer(two, {.note = quiet, .group = group});
    EXPECT_EQ(trainer.rows_per_step(), 4u);  // the step is the same; each rank runs 2 rows
    trainer.run(
        [&](const StepMetrics& m) { ranks[static_cast<size_t>(group->rank())].push_back(m); });
  });

  ASSERT_EQ(alone.size(), 6u);
  for (const std::vector<StepMetrics>& rank : ranks) {
    ASSERT_EQ(rank.size(), alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      // Every rank reports the whole step: the loss over all 4 rows, the global gradient norm.
      EXPECT_NEAR(rank[i].loss, alone[i].loss, 1e-6 * alone[i].loss) << "step " << i + 1;
      EXPECT_NEAR(rank[i].grad_norm, alone[i].grad_norm, 1e-5 * alone[i].grad_norm)
          << "step " << i + 1;
      EXPECT_EQ(rank[i].tokens, alone[i].tokens);
      EXPECT_EQ(rank[i].domain_loss.is_null(), alone[i].domain_loss.is_null());
      if (!alone[i].domain_loss.is_null()) {
        EXPECT_EQ(rank[i].domain_loss["all"]["tokens"], alone[i].domain_loss["all"]["tokens"]);
      }
    }
  }
  // The same weights: each rank's micro-batch is one of the single process's, and the sums
  // add in the same order, so only float32 rounding in the reductions may differ.
  auto a = parameters_of(tmp.path() / "one" / "model");
  auto b = parameters_of(tmp.path() / "two" / "model");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a)
    EXPECT_TRUE(torch::allclose(tensor, b.at(name), 1e-5, 1e-6)) << name;
  // Rank 0 wrote one line per step, and the checkpoint says how many ranks ran.
  EXPECT_EQ(metric_lines(tmp.path() / "two").size(), 6u);
  nlohmann::json state = nlohmann::json::parse(
      read_file(tmp.path() / "two" / "checkpoints" / "step-000006" / "trainer_state.json"));
  EXPECT_EQ(state["world_size"], 2);
}

TEST(DataParallel, TwoRanksResumeToTheWeightsOfAStraightRun) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 10, 64);
  fs::path model = write_debug_model(tmp.path());
  TrainConfig straight = debug_config(model, data, tmp.path() / "straight");
  straight.save_dtype = "float32";
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    Trainer(straight, {.note = quiet, .group = group}).run();
  });
  TrainConfig halves = debug_config(model, data, tmp.path() / "halves");
  halves.save_dtype = "float32";
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    Trainer first(halves, {.note = quiet, .group = group});
    for (int i = 0; i < 3; ++i) first.train_step();
    first.save_checkpoint();
    first.train_step();  // lost with the "crash"
  });
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    Trainer second(halves, {.resume = true, .note = quiet, .group = group});
    EXPECT_EQ(second.step(), 3u);
    second.run();
  });
  auto a = parameters_of(tmp.path() / "straight" / "model");
  auto b = parameters_of(tmp.path() / "halves" / "model");
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  EXPECT_EQ(metric_lines(tmp.path() / "halves").size(), 6u);
}

TEST(DataParallel, StepsHoldWholeMicroBatchesOnEveryRank) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 16, 64);
  TrainConfig c = debug_config(write_debug_model(tmp.path()), data, tmp.path() / "run");
  c.batch_tokens = 3 * 64;  // 3 rows, micro-batch 2, 2 ranks: 4 rows
  c.steps = 1;
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    Trainer trainer(c, {.note = quiet, .group = group});
    EXPECT_EQ(trainer.rows_per_step(), 4u);
  });
}

TEST(DataParallel, RanksWithDifferentSettingsStopBeforeTraining) {
  ScratchDir tmp;
  fs::path data = write_counting_dataset(tmp.path(), 16, 64);
  TrainConfig c = debug_config(write_debug_model(tmp.path()), data, tmp.path() / "run");
  std::vector<std::string> errors(2);
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& group) {
    TrainConfig mine = c;
    if (group->rank() == 1) mine.lr = 3e-3;
    try {
      Trainer trainer(mine, {.note = quiet, .group = group});
    } catch (const Error& e) {
      errors[static_cast<size_t>(group->rank())] = e.what();
    }
  });
  for (const std::string& e : errors)
    EXPECT_NE(e.find("the ranks differ in their settings"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path() / "run" / "metrics.jsonl"));
}

}  // namespace
}  // namespace longctx
