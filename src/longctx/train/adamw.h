// AdamW with float32 master weights and float32 state, for a model that computes in bfloat16
// (or float32). The model's parameters are the compute copies: after each step they are the
// master weights rounded to the compute dtype. Gradients of several micro-batches accumulate in
// float32. The update is PyTorch's AdamW (torch.optim.AdamW, amsgrad off):
//
//   p <- p * (1 - lr * wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// It runs as PyTorch's fused kernel (at::_fused_adamw_): on CUDA with PyTorch 2.x, on the CPU
// (and with the state offloaded to CPU memory) with 2.4+; elsewhere (Debian's libtorch 1.13) as
// plain tensor ops in the order above.
//
//   MasterAdamW opt(model->named_parameters(), {.weight_decay = 0.1});
//   loss.backward(); opt.accumulate();             // after every micro-batch
//   double norm = opt.clip_grad_norm(1.0);
//   opt.step(lr);                                  // updates masters and the model; zeroes grads
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "longctx/model/safetensors.h"
#include "longctx/train/optimizer.h"

namespace longctx {

class ProcessGroup;

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // on parameters with two or more dimensions only
  // Master weights, gradient sums and moments in (pinned) CPU memory; the GPU holds only the
  // compute copies and their gradients.
  bool offload = false;
  // With offload: up to this many bytes of float32 gradient sums also on the GPU, parameter by
  // parameter in order. Their micro-batches add there and go down once a step, instead of once
  // a micro-batch (1.0 s each at 7B on an H100 host).
  uint64_t gpu_sum_bytes = 0;
  // Data parallelism: the ranks whose gradient sums all_reduce_sums() adds. Offloaded sums in
  // CPU memory are added on the GPU instead, each micro-batch's gradient before it goes down
  // (an NCCL all-reduce of the float32 gradient), which is far faster than adding them in CPU
  // memory at the end of the step.
  ProcessGroup* group = nullptr;
};

// One AdamW update (torch.optim.AdamW, amsgrad off) of float32 `masters` on one device from
// `grads`, in place with the moments, at 1-based step `step`: the fused kernel where the
// libtorch has it for that device, else torch's single-tensor path op for op. `decay`: apply
// options.weight_decay to these tensors. MasterAdamW and ShardedAdamW both step through it.
void adamw_update(const std::vector<torch::Tensor>& masters,
                  const std::vector<torch::Tensor>& grads, const std::vector<torch::Tensor>& avgs,
                  const std::vector<torch::Tensor>& avg_sqs, int64_t step, double lr,
                  const AdamWOptions& options, bool decay);

// optimizer.safetensors, the one format both optimizers write and read (docs/formats.md): per
// parameter "master.<name>", "exp_avg.<name>" and "exp_avg_sq.<name>", whole tensors in float32,
// metadata format "longctx-adamw" and "steps". Whole tensors, whatever the ranks and their
// shards, so that any number of ranks resumes from it.
struct OptimizerStateTensors {
  std::string name;
  torch::Tensor master, exp_avg, exp_avg_sq;  // whole tensors, any device and float dtype
};
void write_optimizer_state(const std::filesystem::path& file,
                           const std::vector<OptimizerStateTensors>& tensors, int64_t steps);

class OptimizerStateFile {
 public:
  // Throws Error unless `file` is a longctx optimizer state of `parameters` parameters.
  OptimizerStateFile(const std::filesystem::path& file, size_t parameters);
  // `kind` ("master", "exp_avg", "exp_avg_sq") of parameter `name`, checked against `shape`:
  // float32 in CPU memory.
  torch::Tensor tensor(std::string_view kind, const std::string& name, at::IntArrayRef shape) const;
  int64_t steps() const { return steps_; }

 private:
  SafetensorsFile file_;
  int64_t steps_ = 0;
};

class MasterAdamW : public TrainingOptimizer {
 public:
  MasterAdamW(const torch::OrderedDict<std::string, torch::Tensor>& parameters,
              AdamWOptions options);

  // Moves the parameters' .grad into the float32 gradient sums and clears .grad. Call after
  // every backward of a step (it is what makes accumulation float32).
  void accumulate() override;
  // Data parallelism (options.group): sums the gradient sums over the ranks, after a step's
  // last accumulate(), so that every rank clips and steps on the gradient of the whole batch.
  void reduce_gradients() override;
  // Global L2 norm of the summed gradients (float64 on the host); when max_norm > 0 and the
  // norm exceeds it, scales them to max_norm as torch.nn.utils.clip_grad_norm_ does.
  double clip_grad_norm(double max_norm) override;
  // One AdamW step at `lr` on the master weights, copies them into the model's parameters and
  // zeroes the gradient sums.
  void step(double lr) override;
  void zero_grad() override;

  int64_t steps() const override { return steps_; }
  // Bytes of optimizer memory (masters, gradient sums, moments) and where it lives.
  uint64_t state_bytes() const;

  // Masters and moments as float32 safetensors ("master.<name>", "exp_avg.<name>",
  // "exp_avg_sq.<name>", metadata "steps"), written by rank 0 alone when there are ranks (they
  // all hold the same state); load() checks every name and shape and writes the masters into
  // the model too.
  void save(const std::filesystem::path& file) const override;
  void load(const std::filesystem::path& file) override;

 private:
  struct Slot {
    std::string name;
    torch::Tensor param;     // the model's parameter (compute dtype, its device)
    torch::Tensor master;    // float32; the parameter itself when it is float32 and not offloaded
    torch::Tensor grad_sum;  // float32, like master
    torch::Tensor gpu_sum;   // offload: float32 on the parameter's GPU, when it got one
    torch::Tensor exp_avg, exp_avg_sq;
    bool decay = false;
    bool has_grad = false;  // grad_sum holds something this step
  };
  void copy_masters_to_params();
  // The sums a step reads: gpu_sum where a slot has one, else grad_sum.
  std::vector<torch::Tensor> current_sums();
  // Moves the GPU-held sums down into grad_sum for the CPU's update.
  void gather_gpu_sums();
  // An offloaded gradient summed in CPU memory: with ranks, accumulate() adds each
  // micro-batch's over the ranks on the GPU, before it goes down.
  bool summed_over_ranks_on_the_way_down(const Slot& s) const;

  AdamWOptions options_;
  std::vector<Slot> slots_;
  // Offloaded accumulation: a GPU gradient's float32 copy on its way to its CPU sum
  // (pinned like the sums), as large as the largest parameter; made at first use.
  torch::Tensor staging_;
  int64_t steps_ = 0;
};

}  // namespace longctx
