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

class MasterAdamW {
 public:
  MasterAdamW(const torch::OrderedDict<std::string, torch::Tensor>& parameters,
              AdamWOptions options);

  // Moves the parameters' .grad into the float32 gradient sums and clears .grad. Call after
  // every backward of a step (it is what makes accumulation float32).
  void accumulate();
  // Data parallelism (options.group): sums the gradient sums over the ranks, after a step's
  // last accumulate(), so that every rank clips and steps on the gradient of the whole batch.
  void all_reduce_sums();
  // Global L2 norm of the summed gradients (float64 on the host); when max_norm > 0 and the
  // norm exceeds it, scales them to max_norm as torch.nn.utils.clip_grad_norm_ does.
  double clip_grad_norm(double max_norm);
  // One AdamW step at `lr` on the master weights, copies them into the model's parameters and
  // zeroes the gradient sums.
  void step(double lr);
  void zero_grad();

  int64_t steps() const { return steps_; }
  // Bytes of optimizer memory (masters, gradient sums, moments) and where it lives.
  uint64_t state_bytes() const;

  // Masters and moments as float32 safetensors ("master.<name>", "exp_avg.<name>",
  // "exp_avg_sq.<name>", metadata "steps"); load() checks every name and shape and writes the
  // masters into the model too.
  void save(const std::filesystem::path& file) const;
  void load(const std::filesystem::path& file);

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
