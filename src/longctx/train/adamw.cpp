#include "longctx/train/adamw.h"

#include <fmt/format.h>

#include <cmath>

#include "longctx/base/error.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/safetensors.h"
#include "longctx/train/process_group.h"

// Multi-tensor ("foreach") kernels: one call over every parameter instead of one per tensor,
// which on a GPU host is what the optimizer phase of a step spends its time on.
#if __has_include(<ATen/ops/_foreach_copy.h>) && __has_include(<ATen/ops/_foreach_norm.h>)
#include <ATen/ops/_foreach_copy.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#define LONGCTX_FOREACH 1
#endif

namespace longctx {

namespace {

// The fused CUDA kernel exists in PyTorch 2.x, its CPU twin from 2.4 (the offloaded state's
// update: 1.3 s instead of 7.2 s for 6.7e9 parameters on the GPU machine's 16 cores,
// dev/offload_adamw_probe.py); Debian's libtorch 1.13 (CPU) runs the plain path.
#if TORCH_VERSION_MAJOR >= 2
constexpr bool kHaveFusedAdamW = true;
#else
constexpr bool kHaveFusedAdamW = false;
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
constexpr bool kHaveFusedCpuAdamW = true;
#else
constexpr bool kHaveFusedCpuAdamW = false;
#endif

}  // namespace

MasterAdamW::MasterAdamW(const torch::OrderedDict<std::string, torch::Tensor>& parameters,
                         AdamWOptions options)
    : options_(options) {
  torch::NoGradGuard no_grad;
  uint64_t gpu_sum_left = options.gpu_sum_bytes;
  for (const auto& item : parameters) {
    const torch::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    Slot s;
    s.name = item.key();
    s.param = p;
    s.decay = p.dim() >= 2;
    torch::Device home = options.offload ? torch::Device(torch::kCPU) : p.device();
    auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(home);
    bool pin = options.offload && p.device().is_cuda();
    // Pinned memory speeds the copies to and from the GPU; fall back to pageable memory when
    // the system will not pin that much (7B offloaded is about 100 GiB).
    auto host = [&](bool zero) {
      if (pin) {
        try {
          torch::Tensor t = torch::empty(p.sizes(), f32.pinned_memory(true));
          return zero ? t.zero_() : t;
        } catch (const c10::Error&) {
          pin = false;
        }
      }
      return zero ? torch::zeros(p.sizes(), f32) : torch::empty(p.sizes(), f32);
    };
    if (p.scalar_type() == torch::kFloat && !options.offload) {
      s.master = p;  // float32 training: the parameter is its own master
    } else {
      s.master = host(/*zero=*/false);
      s.master.copy_(p);
    }
    s.grad_sum = host(/*zero=*/true);
    uint64_t sum_bytes = static_cast<uint64_t>(p.numel()) * 4;
    if (options.offload && p.is_cuda() && sum_bytes <= gpu_sum_left) {
      s.gpu_sum = torch::empty(p.sizes(), torch::dtype(torch::kFloat).device(p.device()));
      gpu_sum_left -= sum_bytes;
    }
    s.exp_avg = torch::zeros(p.sizes(), f32);
    s.exp_avg_sq = torch::zeros(p.sizes(), f32);
    slots_.push_back(std::move(s));
  }
}

void MasterAdamW::accumulate() {
  torch::NoGradGuard no_grad;
#ifdef LONGCTX_FOREACH
  // The first micro-batch of a step on the GPU: every gradient copied (and widened) at once.
  bool first_on_gpu = !slots_.empty();
  for (const Slot& s : slots_)
    first_on_gpu = first_on_gpu && !s.has_grad && s.param.grad().defined() &&
                   s.grad_sum.is_cuda() && s.param.is_cuda();
  if (first_on_gpu) {
    std::vector<torch::Tensor> sums, grads;
    for (Slot& s : slots_) {
      sums.push_back(s.grad_sum);
      grads.push_back(s.param.grad());
      s.has_grad = true;
    }
    at::_foreach_copy_(sums, grads);
    for (Slot& s : slots_) s.param.mutable_grad() = torch::Tensor();
    return;
  }
#endif
  for (Slot& s : slots_) {
    torch::Tensor& grad = s.param.mutable_grad();
    if (!grad.defined()) continue;
    if (s.gpu_sum.defined()) {
      // Offloaded, summed on the GPU: down once, when the step gathers it.
      if (s.has_grad)
        s.gpu_sum.add_(grad);
      else
        s.gpu_sum.copy_(grad);
    } else if (grad.device() == s.grad_sum.device()) {
      if (s.has_grad)
        s.grad_sum.add_(grad.to(torch::kFloat));
      else
        s.grad_sum.copy_(grad);
    } else {
      // Offloaded: widened on the GPU, then down into pinned memory. A bf16 GPU gradient copied
      // straight into float32 CPU memory goes through a pageable CPU copy, about 5x slower
      // (dev/offload_adamw_probe.py). A later micro-batch's goes through the staging buffer
      // and is summed on the CPU. With ranks, each rank's is added on the GPU first.
      torch::Tensor wide = grad.to(torch::kFloat);
      if (summed_over_ranks_on_the_way_down(s)) options_.group->all_reduce_sum({wide});
      if (!s.has_grad) {
        s.grad_sum.copy_(wide);
      } else {
        if (staging_.numel() < wide.numel()) {
          auto f32 = torch::TensorOptions().dtype(torch::kFloat);
          staging_ = torch::empty({wide.numel()}, f32.pinned_memory(s.grad_sum.is_pinned()));
        }
        torch::Tensor host = staging_.narrow(0, 0, wide.numel()).view(wide.sizes());
        host.copy_(wide);
        s.grad_sum.add_(host);
      }
    }
    s.has_grad = true;
    grad = torch::Tensor();  // frees the compute-dtype gradient until the next backward
  }
}

bool MasterAdamW::summed_over_ranks_on_the_way_down(const Slot& s) const {
  return options_.group != nullptr && s.param.is_cuda() && !s.grad_sum.is_cuda() &&
         !s.gpu_sum.defined();
}

void MasterAdamW::reduce_gradients() {
  if (options_.group == nullptr) return;
  std::vector<torch::Tensor> sums;
  for (Slot& s : slots_)
    if (s.has_grad && !summed_over_ranks_on_the_way_down(s))
      sums.push_back(s.gpu_sum.defined() ? s.gpu_sum : s.grad_sum);
  options_.group->all_reduce_sum(sums);
}

std::vector<torch::Tensor> MasterAdamW::current_sums() {
  std::vector<torch::Tensor> sums;
  for (Slot& s : slots_)
    if (s.has_grad) sums.push_back(s.gpu_sum.defined() ? s.gpu_sum : s.grad_sum);
  return sums;
}

void MasterAdamW::gather_gpu_sums() {
  for (Slot& s : slots_)
    if (s.has_grad && s.gpu_sum.defined()) s.grad_sum.copy_(s.gpu_sum);
}

double MasterAdamW::clip_grad_norm(double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sums = current_sums();
  if (sums.empty()) return 0.0;
  // Per-tensor norms in float32 (as torch's clip_grad_norm_), combined in float64; the sums on
  // a GPU in one multi-tensor call, those in CPU memory one by one.
  std::vector<torch::Tensor> on_gpu, on_cpu;
  for (const torch::Tensor& g : sums) (g.is_cuda() ? on_gpu : on_cpu).push_back(g);
  double squares = 0;
  for (const std::vector<torch::Tensor>* list : {&on_gpu, &on_cpu}) {
    if (list->empty()) continue;
    std::vector<torch::Tensor> norms;
#ifdef LONGCTX_FOREACH
    if (list == &on_gpu) norms = at::_foreach_norm(*list, 2);
#endif
    if (norms.empty())
      for (const torch::Tensor& g : *list) norms.push_back(g.norm(2));
    squares += torch::stack(norms).to(torch::kDouble).square().sum().item<double>();
  }
  double norm = std::sqrt(squares);
  if (max_norm > 0 && std::isfinite(norm)) {
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      for (std::vector<torch::Tensor>* list : {&on_gpu, &on_cpu})
        if (!list->empty()) at::_foreach_mul_(*list, coef);
    }
  }
  return norm;
}

void adamw_update(const std::vector<torch::Tensor>& masters,
                  const std::vector<torch::Tensor>& grads, const std::vector<torch::Tensor>& avgs,
                  const std::vector<torch::Tensor>& avg_sqs, int64_t step, double lr,
                  const AdamWOptions& options, bool decay) {
  if (masters.empty()) return;
  torch::NoGradGuard no_grad;
  const double b1 = options.beta1, b2 = options.beta2;
  const double weight_decay = decay ? options.weight_decay : 0.0;
  bool fused = masters.front().is_cuda() ? kHaveFusedAdamW : kHaveFusedCpuAdamW;
#if TORCH_VERSION_MAJOR >= 2
  if (fused) {
    // The kernel reads the step count from a float tensor per parameter: views of one tensor,
    // filled by one launch (a fill per parameter cost ~200 host launches per step, with the GPU
    // idle behind them).
    torch::Tensor count =
        torch::full({static_cast<int64_t>(masters.size())}, static_cast<double>(step),
                    torch::dtype(torch::kFloat).device(masters.front().device()));
    std::vector<torch::Tensor> steps;
    for (int64_t i = 0; i < count.size(0); ++i) steps.push_back(count.select(0, i));
    at::_fused_adamw_(masters, grads, avgs, avg_sqs, {}, steps, lr, b1, b2, weight_decay,
                      options.eps, /*amsgrad=*/false, /*maximize=*/false);
    return;
  }
#endif
  // torch.optim.AdamW's single-tensor path, op for op.
  (void)fused;
  double t = static_cast<double>(step);
  double bias1 = 1.0 - std::pow(b1, t), bias2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
  for (size_t i = 0; i < masters.size(); ++i) {
    const torch::Tensor &master = masters[i], &grad = grads[i];
    if (weight_decay != 0) master.mul_(1.0 - lr * weight_decay);
    avgs[i].lerp_(grad, 1.0 - b1);
    avg_sqs[i].mul_(b2).addcmul_(grad, grad, 1.0 - b2);
    torch::Tensor denom = (avg_sqs[i].sqrt() / bias2_sqrt).add_(options.eps);
    master.addcdiv_(avgs[i], denom, -lr / bias1);
  }
}

void MasterAdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  gather_gpu_sums();
  ++steps_;
  // Two groups (with and without weight decay), each one fused kernel over its tensors where
  // the libtorch has it, on the GPU or, offloaded, on the CPU.
  for (bool decay : {true, false}) {
    std::vector<torch::Tensor> masters, grads, avgs, avg_sqs;
    for (Slot& s : slots_) {
      if (s.decay != decay || !s.has_grad) continue;
      masters.push_back(s.master);
      grads.push_back(s.grad_sum);
      avgs.push_back(s.exp_avg);
      avg_sqs.push_back(s.exp_avg_sq);
    }
    adamw_update(masters, grads, avgs, avg_sqs, steps_, lr, options_, decay);
  }
  copy_masters_to_params();
  zero_grad();
}

void MasterAdamW::zero_grad() {
  for (Slot& s : slots_) {
    s.has_grad = false;
    s.param.mutable_grad() = torch::Tensor();
  }
}

void MasterAdamW::copy_masters_to_params() {
  torch::NoGradGuard no_grad;
#ifdef LONGCTX_FOREACH
  if (!slots_.empty() && slots_.front().master.is_cuda() &&
      !slots_.front().master.is_same(slots_.front().param)) {
    std::vector<torch::Tensor> params, masters;
    for (Slot& s : slots_) {
      params.push_back(s.param);
      masters.push_back(s.master);
    }
    at::_foreach_copy_(params, masters);
    return;
  }
#endif
  for (Slot& s : slots_) {
    if (s.master.is_same(s.param)) continue;
    // Offloaded: up in float32, narrowed on the GPU (5x faster than narrowing through a
    // pageable CPU copy, dev/offload_adamw_probe.py).
    bool up = s.master.device() != s.param.device() && s.param.is_cuda();
    s.param.copy_(up ? s.master.to(s.param.device()) : s.master);
  }
}

uint64_t MasterAdamW::state_bytes() const {
  uint64_t bytes = 0;
  for (const Slot& s : slots_) {
    uint64_t n = static_cast<uint64_t>(s.param.numel()) * 4;
    bytes += n * 3;                              // grad sum and two moments
    if (!s.master.is_same(s.param)) bytes += n;  // a separate master
    if (s.gpu_sum.defined()) bytes += n;         // its sum on the GPU too
  }
  return bytes;
}

void write_optimizer_state(const std::filesystem::path& file,
                           const std::vector<OptimizerStateTensors>& tensors, int64_t steps) {
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    torch::Tensor cpu = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    keep.push_back(cpu);
    out.push_back(TensorToWrite{
        name, DType::kF32, cpu.sizes().vec(),
        std::span<const std::byte>(static_cast<const std::byte*>(cpu.data_ptr()), cpu.nbytes())});
  };
  for (const OptimizerStateTensors& t : tensors) {
    add("master." + t.name, t.master);
    add("exp_avg." + t.name, t.exp_avg);
    add("exp_avg_sq." + t.name, t.exp_avg_sq);
  }
  write_safetensors(file, out, {{"format", "longctx-adamw"}, {"steps", std::to_string(steps)}});
}

OptimizerStateFile::OptimizerStateFile(const std::filesystem::path& file, size_t parameters)
    : file_(SafetensorsFile::open(file)) {
  const auto& metadata = file_.metadata();
  auto it = metadata.find("steps");
  if (metadata.count("format") == 0 || metadata.at("format") != "longctx-adamw" ||
      it == metadata.end()) {
    throw Error(fmt::format("{}: not a longctx optimizer state", file.string()));
  }
  if (file_.tensors().size() != parameters * 3)
    throw Error(fmt::format("{}: holds {} tensors; this model's optimizer has {}", file.string(),
                            file_.tensors().size(), parameters * 3));
  steps_ = std::stoll(it->second);
}

torch::Tensor OptimizerStateFile::tensor(std::string_view kind, const std::string& name,
                                         at::IntArrayRef shape) const {
  std::string key = fmt::format("{}.{}", kind, name);
  if (!file_.contains(key))
    throw Error(fmt::format("{}: the optimizer state has no tensor {}", file_.path().string(), key),
                "was it written for a different model?");
  const TensorView& view = file_.at(key);
  if (view.dtype != DType::kF32 || view.shape != shape.vec())
    throw Error(fmt::format("{}: tensor {} does not match the model's parameter",
                            file_.path().string(), key));
  return tensor_from_view(view);
}

void MasterAdamW::save(const std::filesystem::path& file) const {
  if (options_.group != nullptr && options_.group->rank() != 0) return;  // rank 0 writes
  std::vector<OptimizerStateTensors> tensors;
  for (const Slot& s : slots_) tensors.push_back({s.name, s.master, s.exp_avg, s.exp_avg_sq});
  write_optimizer_state(file, tensors, steps_);
}

void MasterAdamW::load(const std::filesystem::path& file) {
  OptimizerStateFile f(file, slots_.size());
  torch::NoGradGuard no_grad;
  for (Slot& s : slots_) {
    s.master.copy_(f.tensor("master", s.name, s.param.sizes()));
    s.exp_avg.copy_(f.tensor("exp_avg", s.name, s.param.sizes()));
    s.exp_avg_sq.copy_(f.tensor("exp_avg_sq", s.name, s.param.sizes()));
  }
  steps_ = f.steps();
  copy_masters_to_params();
  zero_grad();
}

}  // namespace longctx
