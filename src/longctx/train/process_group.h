// Data parallelism's plumbing: the processes ("ranks") of one training run, and the collective
// operations the trainer needs between them. Every rank trains on its own share of each step's
// rows; the gradient sums are added over the ranks (or, with a sharded optimizer, reduce-scattered
// and the updated weights all-gathered), so every rank takes the same step and holds the same
// weights.
//
// The collectives are PyTorch's c10d (c10d_group.cpp): ranks meet through a c10d TCPStore, as
// torchrun's workers do, and tensors go through ProcessGroupNCCL on CUDA and ProcessGroupGloo in
// CPU memory; host values (losses, counts, flags) through Gloo.
//
//   RankInfo info = rank_info_from_environment();           // RANK=1 WORLD_SIZE=2 ...
//   std::shared_ptr<ProcessGroup> group = connect_process_group(info, torch::Device("cuda:1"));
//   group->all_reduce_sum(gradient_sums);                     // in place, on every rank
//   double loss[] = {loss_sum}; group->all_reduce(loss, Reduce::kSum);
//   group->reduce_scatter_sum(flat, shard).wait();            // shard: this rank's part
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstddef>
#include <functional>
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
  // torchrun (and --nproc-per-node) hold the rendezvous store themselves on MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): every rank joins it as a client, under the prefix
  // /worker/attempt_<TORCHELASTIC_RESTART_COUNT>. Otherwise rank 0 hosts the store.
  bool agent_store = false;
  int restart_count = 0;
};

// torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT), else Slurm's (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and MASTER_PORT), else one process alone.
// Throws Error naming a variable whose value is not a valid number.
RankInfo rank_info_from_environment();

// One collective in flight: wait() returns when its results are in place (on CUDA: when the
// current stream is ordered after it), and throws Error when another rank failed or left.
class CollectiveWork {
 public:
  CollectiveWork() = default;  // nothing in flight
  explicit CollectiveWork(std::function<void()> finish) : finish_(std::move(finish)) {}
  CollectiveWork(CollectiveWork&&) = default;
  CollectiveWork& operator=(CollectiveWork&&) = default;
  void wait() {
    if (!finish_) return;
    std::function<void()> finish = std::move(finish_);
    finish_ = nullptr;
    finish();
  }

 private:
  std::function<void()> finish_;
};

// The part of n elements rank `rank` of `ranks` holds: ceil(n / ranks) each in rank order, the
// last ones shorter (or empty). 10 elements on 3 ranks: [0, 4), [4, 8), [8, 10).
struct ShardRange {
  int64_t begin = 0, length = 0;
};
ShardRange shard_range(int64_t elements, int ranks, int rank);

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

  // Element-wise over the ranks, in place; every rank gets the same result.
  virtual void all_reduce(std::span<double> values, Reduce op) = 0;
  // Sums float32 or bfloat16 tensors over the ranks, in place (on the GPU through NCCL, in CPU
  // memory through Gloo, in float32). Every rank passes tensors of the same shapes and types
  // in the same order.
  virtual void all_reduce_sum(const std::vector<torch::Tensor>& tensors) = 0;
  // input: [n] on every rank (its contents are used up); output: this rank's shard_range(n) of
  // the sum over the ranks. Contiguous tensors of one dtype and device.
  CollectiveWork reduce_scatter_sum(const torch::Tensor& input, const torch::Tensor& output);
  // input: this rank's shard_range(n) of output [n]; output: every rank's shard, in rank order.
  CollectiveWork all_gather(const torch::Tensor& input, const torch::Tensor& output);
  // Every rank returns when all have called it.
  void barrier();
  // Throws Error on every rank unless all pass the same value (a hash of their settings).
  void check_same(uint64_t value, const std::string& what);

 protected:
  // The collectives on shards of equal size: input [size() * L] and output [L], or the reverse.
  virtual CollectiveWork reduce_scatter_even(const torch::Tensor& input,
                                             const torch::Tensor& output) = 0;
  virtual CollectiveWork all_gather_even(const torch::Tensor& input,
                                         const torch::Tensor& output) = 0;

  RankInfo info_;
};

// Where a rank trains, given the --device it was started with: that device when it is alone or
// on the CPU; with several ranks on CUDA, cuda:local_rank, or cuda:0 where the process sees one
// GPU only (a scheduler that binds one GPU to each task, as srun --gpus-per-task 1 does).
// Throws Error for a device that names one GPU (cuda:1) with several ranks, and for a local
// rank with no GPU.
torch::Device rank_device(torch::Device device, const RankInfo& info);

// True when this build talks NCCL (a CUDA libtorch with c10d's NCCL backend).
bool nccl_built();

struct GroupTimeouts {
  std::chrono::seconds rendezvous{600};  // every rank joins within this
  // A collective (a barrier while rank 0 writes a checkpoint included) finishes within this.
  std::chrono::seconds collective{1800};
};

// Joins this rank to the others through a c10d TCPStore (torchrun's agent store, or one rank 0
// hosts on MASTER_PORT) and builds its Gloo group, and on a CUDA `device` its NCCL group.
// One rank alone gets a group whose collectives are copies. Throws Error naming what failed.
std::unique_ptr<ProcessGroup> connect_process_group(const RankInfo& info, torch::Device device,
                                                    GroupTimeouts timeouts = {});

// A rendezvous store held by a launcher for the ranks it starts, as torchrun's agent holds
// one: a c10d TCPStore server on a free port of this machine, for as long as this lives.
class StoreHost {
 public:
  StoreHost();
  ~StoreHost();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace longctx
