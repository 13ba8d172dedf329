#include "longctx/train/process_group.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "longctx/base/error.h"

namespace longctx {

namespace {

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* value = env(name);
  if (value == nullptr) return fallback;
  int out = 0;
  const char* end = value + std::strlen(value);
  auto [ptr, ec] = std::from_chars(value, end, out);
  if (ec != std::errc() || ptr != end || out < 0)
    throw Error(fmt::format("environment variable {}={} is not a number", name, value),
                "the launcher (torchrun, srun, longctx train --nproc-per-node) sets it");
  return out;
}

// A tensor of `elements` like `like`, its tail past `used` zeroed.
torch::Tensor padded_like(const torch::Tensor& like, int64_t elements, int64_t used) {
  torch::Tensor t = torch::empty({elements}, like.options());
  if (used < elements) t.narrow(0, used, elements - used).zero_();
  return t;
}

}  // namespace

ShardRange shard_range(int64_t elements, int ranks, int rank) {
  const int64_t piece = (elements + ranks - 1) / ranks;
  const int64_t begin = std::min(elements, piece * rank);
  return {begin, std::min(elements, begin + piece) - begin};
}

CollectiveWork ProcessGroup::reduce_scatter_sum(const torch::Tensor& input,
                                                const torch::Tensor& output) {
  const int64_t n = input.numel();
  const int64_t piece = (n + size() - 1) / size();
  if (output.numel() != shard_range(n, size(), rank()).length)
    throw Error(fmt::format("reduce_scatter_sum: rank {} passed a shard of {} elements for {}",
                            rank(), output.numel(), n));
  if (piece * size() == n) return reduce_scatter_even(input, output);
  // Uneven: the input padded with zeros to whole pieces, the shard cut from a whole piece.
  torch::Tensor in = padded_like(input, piece * size(), n);
  in.narrow(0, 0, n).copy_(input);
  torch::Tensor out = torch::empty({piece}, output.options());
  CollectiveWork work = reduce_scatter_even(in, out);
  return CollectiveWork([work = std::make_shared<CollectiveWork>(std::move(work)), out, output] {
    work->wait();
    output.copy_(out.narrow(0, 0, output.numel()));
  });
}

CollectiveWork ProcessGroup::all_gather(const torch::Tensor& input, const torch::Tensor& output) {
  const int64_t n = output.numel();
  const int64_t piece = (n + size() - 1) / size();
  if (input.numel() != shard_range(n, size(), rank()).length)
    throw Error(fmt::format("all_gather: rank {} passed a shard of {} elements for {}", rank(),
                            input.numel(), n));
  if (piece * size() == n) return all_gather_even(input, output);
  torch::Tensor in = padded_like(input, piece, input.numel());
  in.narrow(0, 0, input.numel()).copy_(input);
  torch::Tensor out = torch::empty({piece * size()}, output.options());
  CollectiveWork work = all_gather_even(in, out);
  return CollectiveWork([work = std::make_shared<CollectiveWork>(std::move(work)), out, output] {
    work->wait();
    output.copy_(out.narrow(0, 0, output.numel()));
  });
}

RankInfo rank_info_from_environment() {
  RankInfo info;
  if (env("RANK") != nullptr || env("WORLD_SIZE") != nullptr) {
    info.rank = env_int("RANK", 0);
    info.world_size = env_int("WORLD_SIZE", 1);
    info.local_rank = env_int("LOCAL_RANK", 0);
  } else if (env("SLURM_PROCID") != nullptr && env("SLURM_NTASKS") != nullptr) {
    info.rank = env_int("SLURM_PROCID", 0);
    info.world_size = env_int("SLURM_NTASKS", 1);
    info.local_rank = env_int("SLURM_LOCALID", 0);
  }
  if (const char* addr = env("MASTER_ADDR")) info.master_addr = addr;
  info.master_port = env_int("MASTER_PORT", info.master_port);
  // torchrun's agent holds the store (and so does --nproc-per-node, which sets the same).
  if (const char* agent = env("TORCHELASTIC_USE_AGENT_STORE"))
    info.agent_store = std::string_view(agent) == "True" || std::string_view(agent) == "1";
  info.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0);
  if (info.world_size < 1 || info.rank >= info.world_size)
    throw Error(fmt::format("rank {} of world size {}: the rank must be below the world size",
                            info.rank, info.world_size),
                "check RANK and WORLD_SIZE (or SLURM_PROCID and SLURM_NTASKS)");
  if (info.master_port <= 0 || info.master_port > 65535)
    throw Error(fmt::format("MASTER_PORT={} is not a port", info.master_port));
  return info;
}

void ProcessGroup::barrier() {
  double nothing[1] = {0};
  all_reduce(nothing, Reduce::kMax);
}

void ProcessGroup::check_same(uint64_t value, const std::string& what) {
  // 52 bits survive the trip through a double exactly.
  double v = static_cast<double>(value & ((uint64_t{1} << 52) - 1));
  double low[1] = {v}, high[1] = {v};
  all_reduce(low, Reduce::kMin);
  all_reduce(high, Reduce::kMax);
  if (low[0] != high[0])
    throw Error(fmt::format("the ranks differ in {}", what),
                "start every rank with the same settings");
}

torch::Device rank_device(torch::Device device, const RankInfo& info) {
  if (info.world_size == 1 || !device.is_cuda()) return device;
  if (device.has_index())
    throw Error(fmt::format("--device {} names one GPU, but this run has {} ranks", device.str(),
                            info.world_size),
                "use --device cuda: the rank with LOCAL_RANK r trains on cuda:r");
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (info.local_rank < gpus)
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(info.local_rank));
  if (gpus == 1) return torch::Device(torch::kCUDA, 0);
  throw Error(
      fmt::format("local rank {} has no GPU: this process sees {} GPU(s)", info.local_rank, gpus),
      "start at most one rank per GPU on each machine");
}

bool nccl_built() {
#ifdef LONGCTX_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace longctx
