// ZeRO-2 AdamW over data-parallel ranks: each rank keeps 1/N of the float32 optimizer state
// (master weights, AdamW moments, gradient sums), updates only that, and the ranks all-gather
// the new compute-dtype weights after each step. The update is MasterAdamW's (adamw_update),
// so a sharded run follows an unsharded one to float32 rounding.
//
// Layout: the parameters, in the order backward makes their gradients (the head first, the
// embedding last), go into buckets of whole layers (up to bucket_elements each, a larger layer
// alone). Each bucket is padded to a multiple of N and cut into N equal pieces; rank r owns
// piece r of every bucket, and its shard is those pieces end to end:
//
//   bucket [lm_head | norm + layer 1 | layer 0 | embed], N = 2:
//   rank 0: [head 0..h/2) [norm, layer 1 first half) ...   rank 1: the second halves
//
// Gradients: a hook on each parameter notes when backward reaches it. Once every parameter of
// a bucket has its gradient and backward has moved on to a later bucket, the bucket's float32
// gradient is reduce-scattered, while backward goes on (at most kMaxInFlight buckets at once);
// accumulate() sends what is left, and again any bucket a parameter came back to after it went
// (a tied weight). Each rank adds its piece to its float32 shard sum; the compute-dtype .grad is
// freed after each micro-batch as with MasterAdamW.
//
// With offload, the masters and moments of the shard (12 bytes a parameter / N) live in CPU
// memory and the update runs there; the shard's gradient sum stays on the GPU.
//
//   ShardedAdamW opt(model->named_parameters(), {.group = group.get()});
//   loss.backward(); opt.accumulate();     // every micro-batch
//   double norm = opt.clip_grad_norm(1.0); // over every rank's shard
//   opt.step(lr);                          // the shard's update; weights all-gathered
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "longctx/train/adamw.h"
#include "longctx/train/optimizer.h"
#include "longctx/train/process_group.h"

namespace longctx {

class ShardedAdamW : public TrainingOptimizer {
 public:
  // Buckets of at most this many elements (a layer larger than that is a bucket of its own):
  // 2^25 float32 are 128 MiB.
  static constexpr int64_t kDefaultBucketElements = int64_t{1} << 25;
  // Reduce-scatters in flight during backward; each holds a float32 bucket.
  static constexpr size_t kMaxInFlight = 2;

  // options.group is required (one rank alone is a group of one).
  ShardedAdamW(const torch::OrderedDict<std::string, torch::Tensor>& parameters,
               AdamWOptions options, int64_t bucket_elements = kDefaultBucketElements);
  ~ShardedAdamW() override;
  ShardedAdamW(const ShardedAdamW&) = delete;
  ShardedAdamW& operator=(const ShardedAdamW&) = delete;

  void accumulate() override;
  void reduce_gradients() override {}  // done by accumulate(): each micro-batch's
  double clip_grad_norm(double max_norm) override;
  void step(double lr) override;
  void zero_grad() override;
  int64_t steps() const override { return steps_; }
  // Every rank takes part (the shards are all-gathered bucket by bucket); rank 0 writes.
  void save(const std::filesystem::path& file) const override;
  // Every rank reads the file and keeps its shard; the parameters take the masters.
  void load(const std::filesystem::path& file) override;

  int64_t shard_elements() const { return shard_elements_; }
  size_t buckets() const { return buckets_.size(); }
  // Buckets the last micro-batch sent while its backward still ran (the overlap).
  size_t buckets_sent_during_backward() const { return sent_during_backward_; }

 private:
  struct Param {
    std::string name;
    torch::Tensor param;
    int bucket = 0;
    int64_t offset = 0;  // in its bucket
    bool decay = false;
    bool touched = false;  // backward reached it this micro-batch
    unsigned hook = 0;
  };
  struct Bucket {
    std::vector<size_t> params;  // in layout order
    int64_t elements = 0, padded = 0, piece = 0;
    int64_t shard_offset = 0;  // where this rank's piece starts in its shard
    size_t touched = 0;        // parameters backward reached this micro-batch
    bool launched = false, late = false;
    torch::Tensor input;  // [padded] float32 while its reduce-scatter is in flight
    CollectiveWork work;
  };
  // This rank's part of one parameter: shard [shard_offset, + length) holds the parameter's
  // flat elements [param_offset, + length).
  struct Segment {
    size_t param = 0;
    int64_t shard_offset = 0, param_offset = 0, length = 0;
  };

  void on_gradient(size_t param);
  void launch(size_t bucket);
  void finish(size_t bucket);
  // The bucket's new weights from every rank's piece of `source` ([shard] float32), into the
  // parameters (or, with `out`, into whole float32 tensors of rank 0's, for save()).
  void gather_bucket(size_t bucket, const torch::Tensor& source, std::vector<torch::Tensor>* out);

  AdamWOptions options_;
  ProcessGroup* group_ = nullptr;
  torch::Device device_ = torch::kCPU;  // the parameters'
  std::vector<Param> params_;
  std::vector<Bucket> buckets_;
  std::vector<Segment> segments_;
  int64_t shard_elements_ = 0;
  torch::Tensor master_, exp_avg_, exp_avg_sq_;  // [shard] float32 (CPU memory with offload)
  torch::Tensor grad_sum_;                       // [shard] float32 on device_
  torch::Tensor micro_;      // [shard] a later micro-batch's reduced gradient, before it adds
  torch::Tensor host_grad_;  // offload: [shard] the gradient sum in CPU memory for the update
  torch::Tensor target_;     // where this micro-batch's reduce-scatters land
  size_t next_launch_ = 0;   // buckets go in index order on every rank
  size_t sent_during_backward_ = 0;
  std::vector<size_t> in_flight_;
  bool has_grad_ = false;
  int64_t steps_ = 0;
};

}  // namespace longctx
