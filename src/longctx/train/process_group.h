// Data parallelism's plumbing: the processes ("ranks") of one training run, and the collective
// operations the trainer needs between them. Every rank trains on its own share of each step's
// rows; the gradient sums are added over the ranks before clipping and AdamW, so every rank
// takes the same step and holds the same weights.
//
// Ranks find each other the way torchrun and Slurm tell them to (rank_info_from_environment):
// rank 0 listens on MASTER_ADDR:MASTER_PORT and every other rank connects to it over TCP. That
// connection carries host values (losses, token counts, flags) and, on CPU, tensors. On CUDA,
// when the build found NCCL (nccl_built()), tensors go through an NCCL communicator over the
// ranks' GPUs, bootstrapped over the same connection.
//
//   RankInfo info = rank_info_from_environment();           // RANK=1 WORLD_SIZE=2 ...
//   std::shared_ptr<ProcessGroup> group = connect_process_group(info, torch::Device("cuda:1"));
//   group->all_reduce_sum(gradient_sums);                     // in place, on every rank
//   double loss[] = {loss_sum}; group->all_reduce(loss, Reduce::kSum);
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace longctx {

enum class Reduce { kSum, kMin, kMax };

struct RankInfo {
  int rank = 0;  // 0 .. world_size - 1; rank 0 writes the run's files
  int world_size = 1;
  int local_rank = 0;  // this rank's index on its machine: its GPU is cuda:local_rank
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), else Slurm's
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and MASTER_PORT), else one
// process alone. Throws Error naming a variable whose value is not a valid number.
RankInfo rank_info_from_environment();

class ProcessGroup {
 public:
  explicit ProcessGroup(RankInfo info) : info_(std::move(info)) {}
  virtual ~ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  const RankInfo& info() const { return info_; }
  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  int local_rank() const { return info_.local_rank; }

  // Element-wise over the ranks, in place; every rank gets the same result (sums add in rank
  // order on rank 0, which sends the result back).
  virtual void all_reduce(std::span<double> values, Reduce op) = 0;
  // Sums float32 or bfloat16 tensors over the ranks, in place. Every rank passes tensors of the
  // same shapes and types in the same order; a mismatch throws on the TCP path (NCCL would wait
  // forever, so the trainer checks its configuration first).
  virtual void all_reduce_sum(const std::vector<torch::Tensor>& tensors) = 0;
  // Every rank returns when all have called it.
  void barrier();
  // Throws Error on every rank unless all pass the same value (a hash of their settings).
  void check_same(uint64_t value, const std::string& what);

 protected:
  RankInfo info_;
};

// Where a rank trains, given the --device it was started with: that device when it is alone or
// on the CPU; with several ranks on CUDA, cuda:local_rank, or cuda:0 where the process sees one
// GPU only (a scheduler that binds one GPU to each task, as srun --gpus-per-task 1 does).
// Throws Error for a device that names one GPU (cuda:1) with several ranks, and for a local
// rank with no GPU.
torch::Device rank_device(torch::Device device, const RankInfo& info);

// True when this build talks NCCL (a CUDA libtorch and nccl.h were found at configure time).
bool nccl_built();

// Connects this rank to the others (rank 0 waits for every other rank; the others retry until
// rank 0 listens), within `timeout`. `device`: where the tensors passed to all_reduce_sum live;
// a CUDA device uses NCCL when nccl_built(), otherwise the TCP connection. Throws Error.
std::unique_ptr<ProcessGroup> connect_process_group(
    const RankInfo& info, torch::Device device,
    std::chrono::seconds timeout = std::chrono::seconds(600));

}  // namespace longctx
