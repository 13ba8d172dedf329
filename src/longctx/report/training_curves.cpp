#include "longctx/report/training_curves.h"

#include <map>

#include "longctx/report/mixture_panels.h"

namespace longctx {
namespace {

// One line per run of `value(step)` against tokens or steps.
template <typename Value>
std::vector<LineSeries> per_run(std::span<const NamedSteps> runs, bool by_tokens, Value value) {
  std::vector<LineSeries> out;
  for (const NamedSteps& run : runs) {
    LineSeries series{.label = run.name, .points = {}, .color = ""};
    for (const TrainStep& s : *run.steps) {
      series.points.emplace_back(by_tokens ? s.tokens : static_cast<double>(s.step), value(s));
    }
    out.push_back(std::move(series));
  }
  return out;
}

}  // namespace

LineChart loss_chart(std::span<const NamedSteps> runs) {
  return {.title = "Training loss",
          .x_label = "tokens trained",
          .y_label = "loss (nats)",
          .x_format = TickFormat::kCount,
          .y_format = TickFormat::kNumber,
          .y_from_zero = false,
          .series = per_run(runs, true, [](const TrainStep& s) { return s.loss; })};
}

LineChart domain_loss_chart(const NamedSteps& run) {
  std::map<std::string, LineSeries> by_domain;
  std::vector<std::string> order;  // domains in order of first appearance
  for (const TrainStep& s : *run.steps) {
    for (const auto& [domain, loss] : s.domain_loss) {
      auto [it, fresh] = by_domain.try_emplace(domain);
      if (fresh) {
        it->second.label = short_domain_name(domain);
        order.push_back(domain);
      }
      it->second.points.emplace_back(s.tokens, loss);
    }
  }
  LineChart chart{.title = run.name + ": training loss by domain",
                  .x_label = "tokens trained",
                  .y_label = "loss (nats)",
                  .x_format = TickFormat::kCount,
                  .y_format = TickFormat::kNumber,
                  .y_from_zero = false,
                  .series = {}};
  for (const std::string& domain : order) chart.series.push_back(std::move(by_domain[domain]));
  return chart;
}

LineChart throughput_chart(std::span<const NamedSteps> runs) {
  return {.title = "Throughput",
          .x_label = "step",
          .y_label = "tokens / s",
          .x_format = TickFormat::kCount,
          .y_format = TickFormat::kCount,
          .y_from_zero = true,
          .x_whole = true,
          .series = per_run(runs, false, [](const TrainStep& s) { return s.tokens_per_s; })};
}

LineChart learning_rate_chart(std::span<const NamedSteps> runs) {
  return {.title = "Learning rate",
          .x_label = "step",
          .y_label = "learning rate",
          .x_format = TickFormat::kCount,
          .y_format = TickFormat::kScientific,
          .y_from_zero = true,
          .x_whole = true,
          .series = per_run(runs, false, [](const TrainStep& s) { return s.lr; })};
}

}  // namespace longctx
