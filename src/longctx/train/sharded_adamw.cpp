#include "longctx/train/sharded_adamw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "longctx/base/error.h"

namespace longctx {

namespace {

// "model.layers.12.mlp.up_proj.weight" -> "model.layers.12."; other names are their own unit.
std::string layer_of(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (!name.starts_with(prefix)) return name;
  size_t dot = name.find('.', prefix.size());
  return dot == std::string::npos ? name : name.substr(0, dot + 1);
}

// A float32 [n] tensor of zeros in CPU memory, pinned where the system allows (the offloaded
// shard's copies to and from the GPU are faster from pinned memory).
torch::Tensor host_zeros(int64_t n, bool pin) {
  auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  if (pin) {
    try {
      return torch::zeros({n}, f32.pinned_memory(true));
    } catch (const c10::Error&) {
    }
  }
  return torch::zeros({n}, f32);
}

}  // namespace

ShardedAdamW::ShardedAdamW(const torch::OrderedDict<std::string, torch::Tensor>& parameters,
                           AdamWOptions options, int64_t bucket_elements)
    : options_(options), group_(options.group) {
  if (group_ == nullptr) throw Error("ShardedAdamW needs the ranks' group (AdamWOptions::group)");
  torch::NoGradGuard no_grad;
  for (const auto& item : parameters) {
    if (!item.value().requires_grad()) continue;
    params_.push_back(
        {.name = item.key(), .param = item.value(), .decay = item.value().dim() >= 2});
  }
  if (params_.empty()) throw Error("ShardedAdamW: the model has no trainable parameters");
  device_ = params_.front().param.device();

  // Buckets of whole layers, in the order backward reaches them (the reverse of the model's).
  std::vector<std::vector<size_t>> units;
  for (size_t i = params_.size(); i-- > 0;) {
    if (units.empty() || layer_of(params_[i].name) != layer_of(params_[units.back().front()].name))
      units.emplace_back();
    units.back().push_back(i);
  }
  for (const std::vector<size_t>& unit : units) {
    int64_t n = 0;
    for (size_t i : unit) n += params_[i].param.numel();
    if (buckets_.empty() ||
        (buckets_.back().elements > 0 && buckets_.back().elements + n > bucket_elements))
      buckets_.emplace_back();
    Bucket& b = buckets_.back();
    for (size_t i : unit) {
      params_[i].bucket = static_cast<int>(buckets_.size() - 1);
      params_[i].offset = b.elements;
      b.params.push_back(i);
      b.elements += params_[i].param.numel();
    }
  }

  // This rank's piece of each bucket, and the parameters' parts in it.
  const int ranks = group_->size(), rank = group_->rank();
  for (Bucket& b : buckets_) {
    b.piece = (b.elements + ranks - 1) / ranks;
    b.padded = b.piece * ranks;
    b.shard_offset = shard_elements_;
    const int64_t lo = b.piece * rank, hi = lo + b.piece;
    for (size_t i : b.params) {
      const int64_t begin = std::max(lo, params_[i].offset);
      const int64_t end = std::min(hi, params_[i].offset + params_[i].param.numel());
      if (begin < end)
        segments_.push_back({.param = i,
                             .shard_offset = b.shard_offset + begin - lo,
                             .param_offset = begin - params_[i].offset,
                             .length = end - begin});
    }
    shard_elements_ += b.piece;
  }

  // The shard's state; the padding past a bucket's last parameter stays zero.
  const bool offload = options.offload && device_.is_cuda();
  auto on_device = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  master_ =
      offload ? host_zeros(shard_elements_, true) : torch::zeros({shard_elements_}, on_device);
  exp_avg_ = offload ? host_zeros(shard_elements_, false) : torch::zeros_like(master_);
  exp_avg_sq_ = offload ? host_zeros(shard_elements_, false) : torch::zeros_like(master_);
  if (offload) host_grad_ = host_zeros(shard_elements_, master_.is_pinned());
  grad_sum_ = torch::zeros({shard_elements_}, on_device);
  for (const Segment& s : segments_)
    master_.narrow(0, s.shard_offset, s.length)
        .copy_(params_[s.param].param.detach().reshape(-1).narrow(0, s.param_offset, s.length));

  for (size_t i = 0; i < params_.size(); ++i)
    params_[i].hook =
        params_[i].param.register_hook([this, i](const torch::Tensor&) { on_gradient(i); });
}

ShardedAdamW::~ShardedAdamW() {
  for (Param& p : params_) p.param.remove_hook(p.hook);
}

void ShardedAdamW::on_gradient(size_t i) {
  // Called by autograd as the gradient of parameter i arrives, before it is added to .grad.
  Param& p = params_[i];
  Bucket& mine = buckets_[static_cast<size_t>(p.bucket)];
  if (mine.launched) {
    mine.late = true;  // sent already: accumulate() sends it again, whole
  } else if (!p.touched) {
    p.touched = true;
    ++mine.touched;
  }
  // Backward has reached bucket p.bucket: the complete buckets before it can go.
  while (next_launch_ < static_cast<size_t>(p.bucket) &&
         buckets_[next_launch_].touched == buckets_[next_launch_].params.size())
    launch(next_launch_++);
}

void ShardedAdamW::launch(size_t index) {
  torch::NoGradGuard no_grad;
  Bucket& b = buckets_[index];
  if (!target_.defined()) {
    // The first micro-batch of a step lands in the sums, later ones beside them.
    if (has_grad_ && !micro_.defined()) micro_ = torch::empty_like(grad_sum_);
    target_ = has_grad_ ? micro_ : grad_sum_;
  }
  b.input = torch::empty({b.padded}, torch::dtype(torch::kFloat).device(device_));
  for (size_t i : b.params) {
    const Param& p = params_[i];
    torch::Tensor region = b.input.narrow(0, p.offset, p.param.numel()).view(p.param.sizes());
    if (p.param.grad().defined()) {
      region.copy_(p.param.grad());
    } else {
      region.zero_();  // no gradient reached it
    }
  }
  if (b.padded > b.elements) b.input.narrow(0, b.elements, b.padded - b.elements).zero_();
  b.work = group_->reduce_scatter_sum(b.input, target_.narrow(0, b.shard_offset, b.piece));
  b.launched = true;
  in_flight_.push_back(index);
  // Bounded memory: at most kMaxInFlight float32 buckets wait on the wire.
  while (in_flight_.size() > kMaxInFlight) {
    finish(in_flight_.front());
    in_flight_.erase(in_flight_.begin());
  }
}

void ShardedAdamW::finish(size_t index) {
  Bucket& b = buckets_[index];
  b.work.wait();
  b.input = torch::Tensor();
}

void ShardedAdamW::accumulate() {
  torch::NoGradGuard no_grad;
  sent_during_backward_ = next_launch_;
  while (next_launch_ < buckets_.size()) launch(next_launch_++);
  // A bucket that backward came back to after it went (a parameter used twice, far apart)
  // goes again with its whole gradient; every rank sees the same graph, so the same buckets.
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (!buckets_[i].late) continue;
    buckets_[i].launched = false;
    launch(i);
  }
  for (size_t i : in_flight_) finish(i);
  in_flight_.clear();
  if (has_grad_) grad_sum_.add_(micro_);
  has_grad_ = true;
  target_ = torch::Tensor();
  next_launch_ = 0;
  for (Bucket& b : buckets_) b.touched = 0, b.launched = false, b.late = false;
  for (Param& p : params_) {
    p.touched = false;
    p.param.mutable_grad() = torch::Tensor();
  }
}

double ShardedAdamW::clip_grad_norm(double max_norm) {
  torch::NoGradGuard no_grad;
  if (!has_grad_) return 0.0;
  // Per-piece norms in float32, their squares added in float64, then over the ranks.
  std::vector<torch::Tensor> norms;
  for (const Bucket& b : buckets_)
    if (b.piece > 0) norms.push_back(grad_sum_.narrow(0, b.shard_offset, b.piece).norm(2));
  double squares[1] = {
      norms.empty() ? 0.0 : torch::stack(norms).to(torch::kDouble).square().sum().item<double>()};
  group_->all_reduce(squares, Reduce::kSum);
  double norm = std::sqrt(squares[0]);
  if (max_norm > 0 && std::isfinite(norm)) {
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) grad_sum_.mul_(coef);
  }
  return norm;
}

void ShardedAdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  // Offloaded: the shard's sum goes down once, the update runs in CPU memory.
  torch::Tensor grads = grad_sum_;
  if (host_grad_.defined()) {
    host_grad_.copy_(grad_sum_);
    grads = host_grad_;
  }
  for (bool decay : {true, false}) {
    std::vector<torch::Tensor> masters, g, avgs, avg_sqs;
    for (const Segment& s : segments_) {
      if (params_[s.param].decay != decay) continue;
      masters.push_back(master_.narrow(0, s.shard_offset, s.length));
      g.push_back(grads.narrow(0, s.shard_offset, s.length));
      avgs.push_back(exp_avg_.narrow(0, s.shard_offset, s.length));
      avg_sqs.push_back(exp_avg_sq_.narrow(0, s.shard_offset, s.length));
    }
    adamw_update(masters, g, avgs, avg_sqs, steps_, lr, options_, decay);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) gather_bucket(b, master_, nullptr);
  zero_grad();
}

void ShardedAdamW::gather_bucket(size_t index, const torch::Tensor& source,
                                 std::vector<torch::Tensor>* out) {
  const Bucket& b = buckets_[index];
  // Into the parameters: in their dtype, narrowed on their device (an offloaded master goes up
  // in float32). Into whole tensors for a checkpoint: float32.
  const torch::ScalarType dtype =
      out != nullptr ? torch::kFloat : params_[b.params.front()].param.scalar_type();
  torch::Tensor piece = source.narrow(0, b.shard_offset, b.piece).to(device_).to(dtype);
  torch::Tensor whole = torch::empty({b.padded}, torch::dtype(dtype).device(device_));
  group_->all_gather(piece, whole).wait();
  for (size_t i : b.params) {
    const Param& p = params_[i];
    torch::Tensor region = whole.narrow(0, p.offset, p.param.numel()).view(p.param.sizes());
    if (out == nullptr) {
      p.param.detach().copy_(region);
    } else if (group_->rank() == 0) {
      (*out)[i] = region.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
    }
  }
}

void ShardedAdamW::zero_grad() {
  has_grad_ = false;
  grad_sum_.zero_();
  for (Param& p : params_) p.param.mutable_grad() = torch::Tensor();
}

void ShardedAdamW::save(const std::filesystem::path& file) const {
  torch::NoGradGuard no_grad;
  auto* self = const_cast<ShardedAdamW*>(this);  // gathers write no state
  std::vector<torch::Tensor> master(params_.size()), avg(params_.size()), avg_sq(params_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    self->gather_bucket(b, master_, &master);
    self->gather_bucket(b, exp_avg_, &avg);
    self->gather_bucket(b, exp_avg_sq_, &avg_sq);
  }
  if (group_->rank() != 0) return;
  std::vector<OptimizerStateTensors> tensors;
  for (size_t i = 0; i < params_.size(); ++i)
    tensors.push_back({params_[i].name, master[i], avg[i], avg_sq[i]});
  write_optimizer_state(file, tensors, steps_);
}

void ShardedAdamW::load(const std::filesystem::path& file) {
  torch::NoGradGuard no_grad;
  OptimizerStateFile f(file, params_.size());
  std::vector<torch::Tensor> master(params_.size()), avg(params_.size()), avg_sq(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    master[i] = f.tensor("master", p.name, p.param.sizes()).reshape(-1);
    avg[i] = f.tensor("exp_avg", p.name, p.param.sizes()).reshape(-1);
    avg_sq[i] = f.tensor("exp_avg_sq", p.name, p.param.sizes()).reshape(-1);
    p.param.detach().copy_(master[i].view(p.param.sizes()));  // every rank: whole weights
  }
  for (const Segment& s : segments_) {
    master_.narrow(0, s.shard_offset, s.length)
        .copy_(master[s.param].narrow(0, s.param_offset, s.length));
    exp_avg_.narrow(0, s.shard_offset, s.length)
        .copy_(avg[s.param].narrow(0, s.param_offset, s.length));
    exp_avg_sq_.narrow(0, s.shard_offset, s.length)
        .copy_(avg_sq[s.param].narrow(0, s.param_offset, s.length));
  }
  steps_ = f.steps();
  zero_grad();
}

}  // namespace longctx
