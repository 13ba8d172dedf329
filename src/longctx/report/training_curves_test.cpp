#include "longctx/report/training_curves.h"

#include <gtest/gtest.h>

namespace longctx {
namespace {

// Four steps of 256 tokens; per-domain loss on steps 2 and 4 (--eval-every 2).
std::vector<TrainStep> four_steps() {
  std::vector<TrainStep> steps;
  for (int i = 1; i <= 4; ++i) {
    TrainStep s;
    s.step = i;
    s.tokens = 256.0 * i;
    s.loss = 8.0 - i;
    s.lr = 1e-3 * i;
    s.tokens_per_s = 100.0 * i;
    if (i % 2 == 0) {
      s.domain_loss["RedPajamaC4"] = 7.5 - i;
      if (i == 4) s.domain_loss["RedPajamaBook"] = 3.25;  // Book appears later
    }
    steps.push_back(s);
  }
  return steps;
}

TEST(TrainingCurves, LossAgainstTokensOneLinePerRun) {
  std::vector<TrainStep> a = four_steps(), b = four_steps();
  b.pop_back();
  std::vector<NamedSteps> runs = {{"a", &a}, {"b", &b}};
  LineChart chart = loss_chart(runs);
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].label, "a");
  ASSERT_EQ(chart.series[0].points.size(), 4u);
  EXPECT_EQ(chart.series[0].points[2], (std::pair<double, double>{768, 5.0}));
  EXPECT_EQ(chart.series[1].points.size(), 3u);
  EXPECT_EQ(chart.x_format, TickFormat::kCount);
}

TEST(TrainingCurves, ThroughputAndLearningRateAgainstSteps) {
  std::vector<TrainStep> a = four_steps();
  std::vector<NamedSteps> runs = {{"a", &a}};
  LineChart rate = throughput_chart(runs);
  EXPECT_EQ(rate.series[0].points[3], (std::pair<double, double>{4, 400}));
  EXPECT_TRUE(rate.y_from_zero);
  EXPECT_TRUE(rate.x_whole);  // steps: no tick at step 1.5
  LineChart lr = learning_rate_chart(runs);
  EXPECT_EQ(lr.series[0].points[0], (std::pair<double, double>{1, 1e-3}));
  EXPECT_EQ(lr.y_format, TickFormat::kScientific);
}

TEST(TrainingCurves, DomainLossFromTheReportingStepsOnly) {
  std::vector<TrainStep> a = four_steps();
  LineChart chart = domain_loss_chart({"a", &a});
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].label, "C4");
  EXPECT_EQ(chart.series[0].points,
            (std::vector<std::pair<double, double>>{{512, 5.5}, {1024, 3.5}}));
  EXPECT_EQ(chart.series[1].label, "Book");
  EXPECT_EQ(chart.series[1].points, (std::vector<std::pair<double, double>>{{1024, 3.25}}));
  EXPECT_EQ(chart.title, "a: training loss by domain");

  std::vector<TrainStep> none = four_steps();
  for (TrainStep& s : none) s.domain_loss.clear();
  EXPECT_TRUE(domain_loss_chart({"n", &none}).series.empty());
}

}  // namespace
}  // namespace longctx
