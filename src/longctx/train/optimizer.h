// What the trainer asks of its optimizer, whichever holds the state: MasterAdamW (adamw.h: the
// whole float32 state on every rank) or ShardedAdamW (sharded_adamw.h: ZeRO-2, each rank 1/N of
// it). A step, on every rank:
//
//   for each micro-batch: loss.backward(); opt.accumulate();
//   opt.reduce_gradients();                  // the ranks' sums added (MasterAdamW)
//   double norm = opt.clip_grad_norm(1.0);   // of the whole step's gradient
//   opt.step(lr);                            // the model's parameters updated on every rank
//
// save() and load() are called by every rank: a checkpoint's optimizer.safetensors holds whole
// tensors by parameter name (format in docs/formats.md), written by rank 0 alone, so that any
// number of ranks, sharded or not, resumes from it.
#pragma once

#include <cstdint>
#include <filesystem>

namespace longctx {

class TrainingOptimizer {
 public:
  virtual ~TrainingOptimizer() = default;
  // After every backward of a step: takes the parameters' .grad into float32 sums and clears
  // .grad.
  virtual void accumulate() = 0;
  // After a step's last accumulate(): every rank then holds what it needs of the sum over the
  // ranks.
  virtual void reduce_gradients() = 0;
  // Global L2 norm of the step's gradient; above max_norm (> 0) the gradient is scaled to it.
  virtual double clip_grad_norm(double max_norm) = 0;
  // One AdamW step at `lr`; the model's parameters take the new weights; the sums are zeroed.
  virtual void step(double lr) = 0;
  virtual void zero_grad() = 0;
  virtual int64_t steps() const = 0;
  virtual void save(const std::filesystem::path& file) const = 0;
  virtual void load(const std::filesystem::path& file) = 0;
};

}  // namespace longctx
