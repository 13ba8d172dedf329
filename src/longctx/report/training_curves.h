// The report's training curves, from each run's metrics.jsonl (report_inputs.h's TrainStep;
// docs/formats.md, "training run directory"): the loss against tokens trained, one line per
// run; one run's per-domain loss (the `domain_loss` of its --eval-every steps) against tokens,
// one line per domain; throughput (tokens/s) and the learning rate against the step.
//
//   std::vector<NamedSteps> runs = {{"per-source", &data.runs[0].steps}};
//   std::string svg = line_chart_svg(loss_chart(runs));
#pragma once

#include <span>
#include <string>
#include <vector>

#include "longctx/report/line_chart.h"
#include "longctx/report/report_inputs.h"

namespace longctx {

struct NamedSteps {
  std::string name;
  const std::vector<TrainStep>* steps = nullptr;
};

LineChart loss_chart(std::span<const NamedSteps> runs);
// No series when the run has no domain_loss entries (fewer steps than --eval-every).
LineChart domain_loss_chart(const NamedSteps& run);
LineChart throughput_chart(std::span<const NamedSteps> runs);
LineChart learning_rate_chart(std::span<const NamedSteps> runs);

}  // namespace longctx
