// ProcessGroup on PyTorch's c10d: the rendezvous through a TCPStore, Gloo for host values and
// tensors in CPU memory, NCCL for tensors on the GPU. Version differences: c10d_compat.h.
//
//   rendezvous   torchrun's agent store (client, prefix /worker/attempt_N), or one rank 0 hosts
//                on MASTER_PORT; every rank then checks in under longctx/ (world size, its rank,
//                the count of ranks joined), so a missing or misconfigured rank is an error that
//                says so rather than c10d's timeout
//   gloo         PrefixStore longctx/gloo: host values (float64), CPU tensors (float32)
//   nccl         PrefixStore longctx/nccl, CUDA devices only: GPU tensors
#include <fmt/format.h>

#include <chrono>
#include <string_view>
#include <thread>

#include "longctx/base/error.h"
#include "longctx/train/c10d_compat.h"
#include "longctx/train/process_group.h"

#ifdef LONGCTX_HAVE_NCCL
#include <c10/cuda/CUDAGuard.h>
#endif

namespace longctx {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The first line of a c10d or Gloo message (the rest is a C++ backtrace).
std::string first_line(const char* text) {
  std::string_view s(text);
  return std::string(s.substr(0, s.find('\n')));
}

// Waits for a c10d work item; a failure (a peer that left, a timeout) becomes an Error.
void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw Error(fmt::format("lost the connection to another rank during {}: {}", what,
                            first_line(e.what())),
                "another rank failed or left: see its own error; a run resumes from its newest "
                "checkpoint");
  }
}

CollectiveWork pending(c10::intrusive_ptr<c10d::Work> work, const char* what,
                       std::function<void()> then = {}) {
  return CollectiveWork([work = std::move(work), what, then = std::move(then)] {
    wait_for(work, what);
    if (then) then();
  });
}

c10d::ReduceOp reduce_op(Reduce op) {
  switch (op) {
    case Reduce::kSum:
      return c10d::ReduceOp::SUM;
    case Reduce::kMin:
      return c10d::ReduceOp::MIN;
    case Reduce::kMax:
      return c10d::ReduceOp::MAX;
  }
  return c10d::ReduceOp::SUM;
}

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}
std::string text_of(const std::vector<uint8_t>& b) {
  return {b.begin(), b.end()};
}

// The store every rank of this run meets in.
c10::intrusive_ptr<c10d::Store> open_store(const RankInfo& info, milliseconds timeout) {
  const bool host = !info.agent_store && info.rank == 0;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(
        info.master_addr, c10d_compat::store_options(info.master_port, host, timeout));
  } catch (const std::exception& e) {
    if (host)
      throw Error(fmt::format("rank 0 cannot host the rendezvous store on port {}: {}",
                              info.master_port, first_line(e.what())),
                  "choose a free MASTER_PORT (under torchrun the agent holds the store: "
                  "TORCHELASTIC_USE_AGENT_STORE=True)");
    throw Error(fmt::format("rank {} could not reach the rendezvous store at {}:{}{}: {}",
                            info.rank, info.master_addr, info.master_port,
                            info.agent_store ? " (torchrun's agent)" : "", first_line(e.what())),
                "check MASTER_ADDR and MASTER_PORT, and that rank 0 (or the launcher) started");
  }
  if (info.agent_store)  // as torch.distributed's workers under torchrun
    return c10::make_intrusive<c10d::PrefixStore>(
        fmt::format("/worker/attempt_{}", info.restart_count), store);
  return store;
}

// Every rank checks in: the same world size, a rank of its own, then waits for all.
void check_in(c10d::Store& store, const RankInfo& info, std::chrono::seconds timeout) {
  const std::string world = std::to_string(info.world_size);
  std::string agreed = text_of(store.compareSet("longctx/world_size", {}, bytes_of(world)));
  if (agreed != world)
    throw Error(fmt::format("rank {} was started as one of {} ranks; another rank said {}",
                            info.rank, info.world_size, agreed),
                "start every rank with the same WORLD_SIZE");
  if (store.add(fmt::format("longctx/rank/{}", info.rank), 1) != 1)
    throw Error(fmt::format("two processes joined as rank {}", info.rank),
                "give each rank its own RANK (or SLURM_PROCID)");
  int64_t joined = store.add("longctx/joined", 1);
  const Clock::time_point deadline = Clock::now() + timeout;
  while (joined < info.world_size) {
    if (Clock::now() >= deadline)
      throw Error(fmt::format("rank {} waited {} s for {} ranks; {} joined", info.rank,
                              timeout.count(), info.world_size, joined),
                  "start every rank with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
    std::this_thread::sleep_for(milliseconds(20));
    joined = store.add("longctx/joined", 0);
  }
}

void join(c10d::Store& store, const RankInfo& info, std::chrono::seconds timeout) {
  try {
    check_in(store, info, timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // the store's host went away (its rank failed)
    throw Error(fmt::format("rank {} lost the rendezvous store at {}:{}: {}", info.rank,
                            info.master_addr, info.master_port, first_line(e.what())),
                "the rank or launcher that hosts it failed: see its own error");
  }
}

// Gloo's transport: loopback when the ranks meet on loopback, the interface GLOO_SOCKET_IFNAME
// names (as torch.distributed reads it), else the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const RankInfo& info) {
  if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(name);
  if (info.master_addr.starts_with("127.") || info.master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class C10dGroup : public ProcessGroup {
 public:
  C10dGroup(const RankInfo& info, torch::Device device, GroupTimeouts timeouts)
      : ProcessGroup(info), device_(device) {
#ifndef LONGCTX_HAVE_NCCL
    if (device.is_cuda())
      throw Error("this build has no NCCL: ranks on CUDA cannot add their gradients",
                  "build against PyTorch's CUDA libtorch with nccl.h found (docs/cluster.md)");
#endif
    const milliseconds rendezvous = timeouts.rendezvous, collective = timeouts.collective;
    store_ = open_store(info, rendezvous);
    join(*store_, info, timeouts.rendezvous);
    try {
      c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> options =
          c10d::ProcessGroupGloo::Options::create(collective);
      options->devices.push_back(gloo_device(info));
      gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
          c10::make_intrusive<c10d::PrefixStore>("longctx/gloo", store_), rank(), size(), options);
    } catch (const std::exception& e) {
      throw Error(fmt::format("rank {} could not connect to the other ranks (Gloo): {}", rank(),
                              first_line(e.what())),
                  "GLOO_SOCKET_IFNAME names the network interface the ranks reach each other on");
    }
#ifdef LONGCTX_HAVE_NCCL
    if (device.is_cuda())
      nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("longctx/nccl", store_), rank(), size(),
          c10d_compat::nccl_options(collective));
#endif
  }

  void all_reduce(std::span<double> values, Reduce op) override {
    torch::Tensor t =
        torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kDouble)
            .clone();
    std::vector<at::Tensor> tensors{t};
    c10d::AllreduceOptions options;
    options.reduceOp = reduce_op(op);
    wait_for(gloo_->allreduce(tensors, options), "an all-reduce of host values");
    std::memcpy(values.data(), t.data_ptr(), values.size_bytes());
  }

  void all_reduce_sum(const std::vector<torch::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    std::vector<CollectiveWork> works;
    for (const torch::Tensor& t : tensors) {
      if (!t.is_contiguous() ||
          (t.scalar_type() != torch::kFloat && t.scalar_type() != torch::kBFloat16))
        throw Error("all_reduce_sum takes contiguous float32 or bfloat16 tensors");
      if (t.is_cuda()) {
        works.push_back(nccl_all_reduce(t));
        continue;
      }
      // In CPU memory the sum is float32; bfloat16 rounds once, at the end.
      torch::Tensor wide = t.scalar_type() == torch::kFloat ? t : t.to(torch::kFloat);
      std::vector<at::Tensor> list{wide};
      works.push_back(pending(gloo_->allreduce(list), "an all-reduce", [t, wide] {
        if (!wide.is_same(t)) t.copy_(wide);
      }));
    }
    for (CollectiveWork& w : works) w.wait();
  }

 protected:
  CollectiveWork reduce_scatter_even(const torch::Tensor& input,
                                     const torch::Tensor& output) override {
    if (input.is_cuda()) return nccl_reduce_scatter(input, output);
    // Gloo: the whole sum, of which this rank keeps its piece (c10d_compat.h says why).
    std::vector<at::Tensor> list{input};
    const int64_t piece = output.numel();
    return pending(gloo_->allreduce(list), "a reduce-scatter", [input, output, piece, r = rank()] {
      output.copy_(input.narrow(0, piece * r, piece));
    });
  }

  CollectiveWork all_gather_even(const torch::Tensor& input, const torch::Tensor& output) override {
    if (input.is_cuda()) return nccl_all_gather(input, output);
    // Gloo: the list all-gather, into views of the flat output.
    const int64_t piece = input.numel();
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < size(); ++r) outputs[0].push_back(output.narrow(0, piece * r, piece));
    std::vector<at::Tensor> inputs{input};
    return pending(gloo_->allgather(outputs, inputs), "an all-gather");
  }

 private:
  // The NCCL side, where the libtorch has it (c10d_compat.h). Tensors stay on this rank's GPU.
#ifdef LONGCTX_HAVE_NCCL
  CollectiveWork nccl_all_reduce(const torch::Tensor& t) {
    c10::cuda::CUDAGuard guard(device_);
    std::vector<at::Tensor> list{t};
    return pending(nccl_->allreduce(list), "an all-reduce (NCCL)");
  }
  CollectiveWork nccl_reduce_scatter(at::Tensor input, at::Tensor output) {
    c10::cuda::CUDAGuard guard(device_);
    return pending(c10d_compat::nccl_reduce_scatter(*nccl_, output, input),
                   "a reduce-scatter (NCCL)");
  }
  CollectiveWork nccl_all_gather(at::Tensor input, at::Tensor output) {
    c10::cuda::CUDAGuard guard(device_);
    return pending(c10d_compat::nccl_all_gather(*nccl_, output, input), "an all-gather (NCCL)");
  }
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#else
  [[noreturn]] static CollectiveWork no_nccl() {
    throw Error("this build has no NCCL: GPU tensors cannot be reduced over the ranks",
                "build against a CUDA libtorch (PyTorch's): docs/cluster.md");
  }
  CollectiveWork nccl_all_reduce(const torch::Tensor&) {
    no_nccl();
  }
  CollectiveWork nccl_reduce_scatter(const torch::Tensor&, const torch::Tensor&) {
    no_nccl();
  }
  CollectiveWork nccl_all_gather(const torch::Tensor&, const torch::Tensor&) {
    no_nccl();
  }
#endif

  torch::Device device_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
};

// One rank alone: every collective is the identity (or a copy).
class SoloGroup : public ProcessGroup {
 public:
  using ProcessGroup::ProcessGroup;
  void all_reduce(std::span<double>, Reduce) override {}
  void all_reduce_sum(const std::vector<torch::Tensor>&) override {}

 protected:
  CollectiveWork reduce_scatter_even(const torch::Tensor& input,
                                     const torch::Tensor& output) override {
    if (!input.is_same(output)) output.copy_(input);
    return {};
  }
  CollectiveWork all_gather_even(const torch::Tensor& input, const torch::Tensor& output) override {
    if (!input.is_same(output)) output.copy_(input);
    return {};
  }
};

}  // namespace

std::unique_ptr<ProcessGroup> connect_process_group(const RankInfo& info, torch::Device device,
                                                    GroupTimeouts timeouts) {
  if (info.world_size < 1 || info.rank < 0 || info.rank >= info.world_size)
    throw Error(
        fmt::format("rank {} of world size {} is out of range", info.rank, info.world_size));
  if (info.world_size == 1) return std::make_unique<SoloGroup>(info);
  return std::make_unique<C10dGroup>(info, device, timeouts);
}

struct StoreHost::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

StoreHost::StoreHost() : impl_(std::make_unique<Impl>()) {
  try {
    // Port 0: the kernel picks a free one, which port() then reports.
    impl_->store = c10::make_intrusive<c10d::TCPStore>(
        "127.0.0.1", c10d_compat::store_options(0, /*server=*/true, std::chrono::minutes(10)));
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot host the ranks' rendezvous store: {}", first_line(e.what())));
  }
}

StoreHost::~StoreHost() = default;

int StoreHost::port() const {
  return impl_->store->getPort();
}

}  // namespace longctx
