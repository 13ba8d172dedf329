// `longctx train`: continual pretraining of a Hugging Face LLaMA checkpoint on a packed
// dataset at long context (RECIPE.md section 3). One Trainer is one run directory:
//
//   RUN/config.json                  the resolved TrainConfig
//   RUN/metrics.jsonl                one JSON object per step (units in the key names)
//   RUN/checkpoints/step-000100/     config.json + model.safetensors (HF: transformers loads
//                                    it), optimizer.safetensors (fp32 masters and moments),
//                                    trainer_state.json (step, data position, metrics size)
//   RUN/checkpoints/latest           the name of the newest complete checkpoint
//   RUN/model/                       the final model (HF layout), written at the end
//
// A step: micro-batches of rows (in DataOrder) run forward_train and the chunked loss, and
// their gradients accumulate in float32 until --batch-tokens; the loss is normalised by the
// step's total target tokens (global-token normalisation), then clipping and AdamW. With N
// data-parallel ranks (TrainerOptions::group) each runs 1/N of the step's rows, and their
// gradient sums are added before clipping: the same step as one process running them all.
//
//   Trainer trainer(config, {.resume = true});
//   while (!trainer.done()) StepMetrics m = trainer.train_step();
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "longctx/base/error.h"
#include "longctx/train/plan.h"
#include "longctx/train/process_group.h"
#include "longctx/train/train_config.h"

namespace longctx {

// Thrown by the Trainer's constructor when the memory plan says the configuration does not fit
// the budget (its message names what would fit): a result for a benchmark, not a fault.
class DoesNotFit : public Error {
 public:
  using Error::Error;
};

struct StepMetrics {
  uint64_t step = 0;    // 1-based: the number of optimizer steps done
  uint64_t tokens = 0;  // tokens trained on so far
  double loss = 0;      // mean next-token loss of this step's tokens
  double lr = 0;
  double grad_norm = 0;  // before clipping
  double step_seconds = 0;
  double tokens_per_second = 0;
  // RECIPE.md section 5 (6 N + 6 L T d per token) over the peak below; unset when the peak is
  // unknown (the CPU, a GPU outside base/device_peaks.h, and no --peak-tflops).
  std::optional<double> mfu;
  std::optional<double> peak_tflops;  // dense bf16, one GPU: --peak-tflops or the device's
  double peak_memory_gib = 0;
  // {"Book": {"loss": 2.1, "tokens": 81919}, ...} on --eval-every steps, else null
  nlohmann::json domain_loss;
};

struct TrainerOptions {
  bool resume = false;  // continue RUN from checkpoints/latest
  // Notes for the user (warnings, the chosen memory option); default: stderr.
  std::function<void(const std::string&)> note;
  // Polled after every step by run(): true saves a checkpoint and returns early (the CLI sets
  // it on SIGINT/SIGTERM, so a preempted job resumes from its last step).
  std::function<bool()> stop_requested;
  // Data parallelism: this process is rank group->rank() of group->size(). Each rank trains
  // on its share of every step's rows (on cuda:local_rank when --device is cuda or auto), the
  // gradient sums are added over the ranks, and rank 0 alone writes the run's files. Null:
  // one process.
  std::shared_ptr<ProcessGroup> group;
};

class Trainer {
 public:
  // Validates `config`, opens the dataset, loads the model, checks that the configuration
  // fits (plan.h) and, with options.resume, restores the newest checkpoint. Throws Error.
  Trainer(TrainConfig config, TrainerOptions options = {});
  ~Trainer();

  const TrainConfig& config() const;  // resolved: recompute chosen, seq_len filled in
  const PlanRow& plan() const;        // the memory plan's row this run follows
  uint64_t step() const;              // optimizer steps done
  uint64_t total_steps() const;
  uint64_t rows_per_step() const;  // over all ranks
  bool done() const { return step() >= total_steps(); }

  // One optimizer step; appends its line to metrics.jsonl. Throws Error on a non-finite loss
  // or gradient, before touching the weights (the last checkpoint stays the newest).
  StepMetrics train_step();
  // Writes checkpoints/step-N (atomically: a temporary directory, then rename) and updates
  // `latest`; removes step checkpoints beyond --keep-checkpoints.
  std::filesystem::path save_checkpoint();
  // The model in HF layout (RUN/model unless `dir` is given).
  void save_model(const std::optional<std::filesystem::path>& dir = std::nullopt);
  // The training loop: steps, checkpoints every --save-every, a checkpoint and RUN/model at
  // the end (or only a checkpoint when stop_requested). `on_step` sees every step's metrics.
  void run(const std::function<void(const StepMetrics&)>& on_step = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace longctx
