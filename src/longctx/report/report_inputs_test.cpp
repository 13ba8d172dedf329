#include "longctx/report/report_inputs.h"

#include <gtest/gtest.h>

#include <functional>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "support/fixtures.h"
#include "support/report_fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> names(const ReportSelection& s) {
  std::vector<std::string> out;
  for (const ReportInput& input : s.inputs) out.push_back(input.name);
  return out;
}

// A recipe's output: stats.json at the top, runs one and two levels down, an empty folder
// and a hidden one.
fs::path make_recipe(const fs::path& root) {
  testing::write_stats_json(root / "stats.json");
  testing::write_mix(root / "mix-per-source");
  testing::write_mix(root / "mix-original", {.strategy = "original"});
  testing::write_train_run(root / "runs" / "per-source");
  testing::write_needle_run(root / "runs" / "needle-per-source");
  testing::write_file(root / "logs" / "run.log", "hello");
  testing::write_needle_run(root / ".hidden");
  testing::write_train_run(root / "runs" / "per-source" / "nested-is-ignored");
  return root;
}

TEST(FindReportInputs, ARecipeDirectoryInSortedOrderWithSkippedOnesCounted) {
  testing::TempDir dir;
  fs::path root = make_recipe(dir.path() / "recipe");
  ReportSelection s = find_report_inputs({root});
  EXPECT_EQ(names(s), (std::vector<std::string>{"recipe", "mix-original", "mix-per-source",
                                                "needle-per-source", "per-source"}));
  ASSERT_EQ(s.inputs.size(), 5u);
  EXPECT_EQ(s.inputs[0].kind, ReportInputKind::kStats);
  EXPECT_EQ(s.inputs[0].path, root / "stats.json");
  EXPECT_EQ(s.inputs[1].kind, ReportInputKind::kMix);
  EXPECT_EQ(s.inputs[3].kind, ReportInputKind::kNeedle);
  EXPECT_EQ(s.inputs[4].kind, ReportInputKind::kTrain);
  EXPECT_EQ(s.inputs[4].files, (std::vector<fs::path>{root / "runs/per-source/config.json",
                                                      root / "runs/per-source/metrics.jsonl"}));
  EXPECT_EQ(s.skipped, (std::vector<fs::path>{root / "logs"}));
}

TEST(FindReportInputs, ArgumentsInOrderFilesAndDuplicatesOnce) {
  testing::TempDir dir;
  fs::path root = make_recipe(dir.path() / "recipe");
  testing::write_stats_json(dir.path() / "corpus.json");
  ReportSelection s =
      find_report_inputs({root / "runs" / "per-source", dir.path() / "corpus.json",
                          root / "mix-original", root / "runs" / "per-source" / ""});
  EXPECT_EQ(names(s), (std::vector<std::string>{"per-source", "corpus", "mix-original"}));
  EXPECT_TRUE(s.skipped.empty());
}

TEST(FindReportInputs, NamesGrowParentsUntilUniqueAndSlugsAreSafe) {
  testing::TempDir dir;
  testing::write_train_run(dir.path() / "a" / "train");
  testing::write_train_run(dir.path() / "b" / "train");
  testing::write_needle_run(dir.path() / "c" / "weird name <1>");
  ReportSelection s = find_report_inputs(
      {dir.path() / "a" / "train", dir.path() / "b" / "train", dir.path() / "c"});
  EXPECT_EQ(names(s), (std::vector<std::string>{"a/train", "b/train", "weird name <1>"}));
  EXPECT_EQ(s.inputs[0].slug, "a-train");
  EXPECT_EQ(s.inputs[2].slug, "weird-name--1-");
}

TEST(FindReportInputs, ClearErrorsNameThePath) {
  testing::TempDir dir;
  fs::path missing = dir.path() / "nope";
  EXPECT_NE(
      error_of([&] { find_report_inputs({missing}); }).find(missing.string() + " does not exist"),
      std::string::npos);
  testing::write_file(dir.path() / "empty" / "notes.txt", "x");
  std::string empty = error_of([&] { find_report_inputs({dir.path() / "empty"}); });
  EXPECT_NE(empty.find((dir.path() / "empty").string() + " holds no input"), std::string::npos)
      << empty;
  testing::write_file(dir.path() / "other.json", "{\"format\": \"something\"}");
  EXPECT_NE(error_of([&] {
              find_report_inputs({dir.path() / "other.json"});
            }).find("not the JSON of `longctx stats --json`"),
            std::string::npos);
  testing::write_file(dir.path() / "broken.json", "{");
  EXPECT_NE(
      error_of([&] { find_report_inputs({dir.path() / "broken.json"}); }).find("not valid JSON"),
      std::string::npos);
  EXPECT_EQ(error_of([&] { find_report_inputs({}); }), "nothing to report");
}

TEST(FindReportInputs, TheReportsOwnOutputAndEarlierReportsAreNotInputs) {
  testing::TempDir dir;
  fs::path root = make_recipe(dir.path() / "recipe");
  // An earlier report inside the recipe, holding copies of a needle run under raw/.
  testing::write_file(root / "old-report" / "index.html", "<html></html>");
  testing::write_needle_run(root / "old-report" / "figures" / "x");
  testing::write_needle_run(root / "report" / "raw");
  ReportSelection s = find_report_inputs({root}, root / "report");
  EXPECT_EQ(s.inputs.size(), 5u);
  EXPECT_EQ(s.skipped, (std::vector<fs::path>{root / "logs"}));
}

TEST(LoadReportData, ReadsEveryKindAndSkipsMalformedLines) {
  testing::TempDir dir;
  fs::path root = make_recipe(dir.path() / "recipe");
  std::string metrics = root / "runs/per-source/metrics.jsonl";
  testing::write_file(metrics, read_file(metrics) + "{\"step\": \"four\"}\nnot json\n\n");
  ReportData data = load_report_data(find_report_inputs({root}));
  ASSERT_EQ(data.stats.size(), 1u);
  EXPECT_EQ(data.stats[0].stats["total"]["tokens"], 5600);
  ASSERT_EQ(data.mixes.size(), 2u);
  EXPECT_EQ(data.inputs[data.mixes[0].input].name, "mix-original");
  EXPECT_EQ(data.mixes[1].report["settings"]["strategy"], "per-source");
  ASSERT_EQ(data.runs.size(), 1u);
  ASSERT_EQ(data.runs[0].steps.size(), 3u);
  EXPECT_EQ(data.runs[0].steps[2].step, 3);
  EXPECT_DOUBLE_EQ(data.runs[0].steps[2].tokens, 2 * 128 * 3);
  EXPECT_DOUBLE_EQ(data.runs[0].steps[2].loss, 6.0);
  EXPECT_DOUBLE_EQ(data.runs[0].steps[1].domain_loss.at("RedPajamaBook"), 5.5);
  EXPECT_FALSE(data.runs[0].steps[0].mfu.has_value());  // "mfu": null is a step, not an error
  ASSERT_EQ(data.runs[0].skipped_lines.size(), 2u);
  EXPECT_EQ(data.runs[0].skipped_lines[0].rfind(metrics + ":4: ", 0), 0u)
      << data.runs[0].skipped_lines[0];
  ASSERT_EQ(data.evals.size(), 1u);
  EXPECT_EQ(data.evals[0].task, "needle");
  EXPECT_EQ(data.evals[0].scorer, NeedleScorer::kPaper);
  EXPECT_EQ(data.evals[0].results.size(), 4u);
}

TEST(LoadReportData, MfuIsReadWhereTheRunKnewItsPeak) {
  testing::TempDir dir;
  fs::path run = dir.path() / "gpu-run";
  testing::write_train_run(run, {.mfu = 0.42});
  ReportData data = load_report_data(find_report_inputs({run}));
  ASSERT_EQ(data.runs.size(), 1u);
  ASSERT_EQ(data.runs[0].steps.size(), 3u);
  EXPECT_TRUE(data.runs[0].skipped_lines.empty());
  ASSERT_TRUE(data.runs[0].steps[2].mfu.has_value());
  EXPECT_DOUBLE_EQ(*data.runs[0].steps[2].mfu, 0.42);
}

TEST(LoadReportData, ARerunCellCountsWithItsLatestLine) {
  testing::TempDir dir;
  testing::write_needle_run(dir.path() / "n", {.task = "passkey",
                                               .model = "m",
                                               .scorer = "exact",
                                               .cells = {{1000, 0, 0.0}, {1000, 0, 1.0}}});
  ReportData data = load_report_data(find_report_inputs({dir.path() / "n"}));
  ASSERT_EQ(data.evals[0].results.size(), 1u);
  EXPECT_EQ(data.evals[0].results[0].scores.exact, 1.0);
  EXPECT_EQ(data.evals[0].scorer, NeedleScorer::kExact);
  EXPECT_EQ(data.evals[0].task, "passkey");
}

TEST(NeedleModel, NameAndTrainingLengthFromTheRunThatMadeIt) {
  testing::TempDir dir;
  fs::path run = dir.path() / "runs" / "per-source";
  testing::write_train_run(run, {.seq_len = 640});
  testing::write_needle_run(dir.path() / "needle", {.model = (run / "model").string()});
  testing::write_needle_run(dir.path() / "ckpt",
                            {.model = (run / "checkpoints" / "step-000002").string()});
  testing::write_needle_run(dir.path() / "other", {.model = "/models/Llama-2-7b-hf/"});
  ReportData data = load_report_data(
      find_report_inputs({run, dir.path() / "needle", dir.path() / "ckpt", dir.path() / "other"}));
  ASSERT_EQ(data.evals.size(), 3u);
  EXPECT_EQ(needle_model_name(data.evals[0]), "per-source");
  EXPECT_EQ(needle_model_name(data.evals[1]), "per-source/step-000002");
  EXPECT_EQ(needle_model_name(data.evals[2]), "Llama-2-7b-hf");
  EXPECT_EQ(needle_train_length(data.evals[0], data), 640);
  EXPECT_EQ(needle_train_length(data.evals[1], data), 640);
  EXPECT_EQ(needle_train_length(data.evals[2], data), std::nullopt);

  // Without the train run among the inputs, its config.json is read from the path.
  ReportData alone = load_report_data(find_report_inputs({dir.path() / "needle"}));
  EXPECT_EQ(needle_train_length(alone.evals[0], alone), 640);
}

}  // namespace
}  // namespace longctx
