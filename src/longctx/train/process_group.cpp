#include "longctx/train/process_group.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "longctx/base/error.h"

#ifdef LONGCTX_HAVE_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>
#endif

namespace longctx {

namespace {

using Clock = std::chrono::steady_clock;

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

// One socket, closed with its owner; sends and receives whole buffers.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  void send_all(const void* data, size_t bytes, int peer) const {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) lost(peer, n < 0 ? errno : 0);
      p += n;
      bytes -= static_cast<size_t>(n);
    }
  }
  void receive_all(void* data, size_t bytes, int peer) const {
    char* p = static_cast<char*>(data);
    while (bytes > 0) {
      ssize_t n = ::recv(fd_, p, bytes, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) lost(peer, n < 0 ? errno : 0);
      p += n;
      bytes -= static_cast<size_t>(n);
    }
  }
  // A length-prefixed message: the receiver checks that it expected that many bytes, which
  // catches ranks that disagree on what they reduce.
  void send_message(const void* data, uint64_t bytes, int peer) const {
    send_all(&bytes, sizeof bytes, peer);
    send_all(data, bytes, peer);
  }
  void receive_message(void* data, uint64_t bytes, int peer) const {
    uint64_t size = 0;
    receive_all(&size, sizeof size, peer);
    if (size != bytes)
      throw Error(fmt::format("rank {} sent {} bytes where {} were expected: the ranks are not "
                              "running the same configuration",
                              peer, size, bytes),
                  "start every rank with the same settings and the same longctx build");
    receive_all(data, bytes, peer);
  }

 private:
  [[noreturn]] static void lost(int peer, int errnum) {
    throw Error(fmt::format("lost the connection to rank {}{}", peer,
                            errnum ? ": " + errno_text(errnum) : std::string(" (it exited)")),
                "see that rank's own error; a run resumes from its newest checkpoint");
  }
  int fd_ = -1;
};

void set_no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// The TCP side of every group: rank 0 holds a socket to each other rank (a star), the others
// one socket to rank 0. Reductions gather at rank 0, combine in rank order, and go back.
class TcpGroup : public ProcessGroup {
 public:
  TcpGroup(const RankInfo& info, std::chrono::seconds timeout) : ProcessGroup(info) {
    if (info.world_size < 1 || info.rank < 0 || info.rank >= info.world_size)
      throw Error(
          fmt::format("rank {} of world size {} is out of range", info.rank, info.world_size));
    if (info.world_size == 1) return;
    Clock::time_point deadline = Clock::now() + timeout;
    if (info.rank == 0) {
      listen_and_accept(deadline);
    } else {
      connect_to_root(deadline);
    }
  }

  void all_reduce(std::span<double> values, Reduce op) override {
    if (size() == 1) return;
    const uint64_t bytes = values.size_bytes();
    if (rank() != 0) {
      root_.send_message(values.data(), bytes, 0);
      root_.receive_message(values.data(), bytes, 0);
      return;
    }
    std::vector<double> incoming(values.size());
    for (int r = 1; r < size(); ++r) {
      peers_[static_cast<size_t>(r)].receive_message(incoming.data(), bytes, r);
      for (size_t i = 0; i < values.size(); ++i) {
        double& v = values[i];
        switch (op) {
          case Reduce::kSum:
            v += incoming[i];
            break;
          case Reduce::kMin:
            v = std::min(v, incoming[i]);
            break;
          case Reduce::kMax:
            v = std::max(v, incoming[i]);
            break;
        }
      }
    }
    for (int r = 1; r < size(); ++r)
      peers_[static_cast<size_t>(r)].send_message(values.data(), bytes, r);
  }

  void all_reduce_sum(const std::vector<torch::Tensor>& tensors) override {
    if (size() == 1) return;
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& t : tensors) {
      // float32 on the host for the wire and the sum; bfloat16 rounds once, at the end.
      torch::Tensor host = t.to(torch::kCPU, torch::kFloat).contiguous();
      const uint64_t bytes = host.nbytes();
      if (rank() != 0) {
        root_.send_message(host.data_ptr(), bytes, 0);
        root_.receive_message(host.data_ptr(), bytes, 0);
      } else {
        torch::Tensor incoming = torch::empty_like(host);
        for (int r = 1; r < size(); ++r) {
          peers_[static_cast<size_t>(r)].receive_message(incoming.data_ptr(), bytes, r);
          host.add_(incoming);
        }
        for (int r = 1; r < size(); ++r)
          peers_[static_cast<size_t>(r)].send_message(host.data_ptr(), bytes, r);
      }
      t.copy_(host);
    }
  }

  // Rank 0's bytes to every rank (the NCCL bootstrap).
  void broadcast_from_root(std::span<std::byte> bytes) {
    if (size() == 1) return;
    if (rank() == 0) {
      for (int r = 1; r < size(); ++r)
        peers_[static_cast<size_t>(r)].send_message(bytes.data(), bytes.size(), r);
    } else {
      root_.receive_message(bytes.data(), bytes.size(), 0);
    }
  }

 private:
  struct Hello {
    int32_t rank;
    int32_t world_size;
  };

  void listen_and_accept(Clock::time_point deadline) {
    Socket listener(::socket(AF_INET, SOCK_STREAM, 0));
    if (listener.fd() < 0) throw Error("cannot open a socket: " + errno_text(errno));
    int one = 1;
    ::setsockopt(listener.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(info_.master_port));
    if (::bind(listener.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener.fd(), info_.world_size) != 0)
      throw Error(
          fmt::format("rank 0 cannot listen on port {}: {}", info_.master_port, errno_text(errno)),
          "choose a free MASTER_PORT");
    peers_.resize(static_cast<size_t>(size()));
    for (int accepted = 1; accepted < size();) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{listener.fd(), POLLIN, 0};
      int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0)
        throw Error(fmt::format("rank 0 waited for {} ranks on port {}; {} connected", size() - 1,
                                info_.master_port, accepted - 1),
                    "start every rank with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
      Socket peer(::accept(listener.fd(), nullptr, nullptr));
      if (peer.fd() < 0) continue;
      set_no_delay(peer.fd());
      Hello hello{};
      peer.receive_all(&hello, sizeof hello, -1);
      if (hello.world_size != size() || hello.rank <= 0 || hello.rank >= size() ||
          peers_[static_cast<size_t>(hello.rank)].fd() >= 0)
        throw Error(fmt::format("a process connected as rank {} of {}; this run has {} ranks",
                                hello.rank, hello.world_size, size()),
                    "give each rank its own RANK and the same WORLD_SIZE");
      peers_[static_cast<size_t>(hello.rank)] = std::move(peer);
      ++accepted;
    }
  }

  void connect_to_root(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(info_.master_port);
    while (true) {
      addrinfo* found = nullptr;
      int rc = ::getaddrinfo(info_.master_addr.c_str(), port.c_str(), &hints, &found);
      if (rc == 0) {
        Socket s(::socket(AF_INET, SOCK_STREAM, 0));
        bool ok = s.fd() >= 0 && ::connect(s.fd(), found->ai_addr, found->ai_addrlen) == 0;
        ::freeaddrinfo(found);
        if (ok) {
          set_no_delay(s.fd());
          Hello hello{info_.rank, info_.world_size};
          s.send_all(&hello, sizeof hello, 0);
          root_ = std::move(s);
          return;
        }
      }
      if (Clock::now() >= deadline)
        throw Error(
            fmt::format("rank {} could not reach rank 0 at {}:{}{}", rank(), info_.master_addr,
                        info_.master_port, rc != 0 ? std::string(": ") + ::gai_strerror(rc) : ""),
            "check MASTER_ADDR and MASTER_PORT, and that rank 0 started");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Socket root_;                // ranks 1..: the connection to rank 0
  std::vector<Socket> peers_;  // rank 0: peers_[r] is rank r's connection
};

#ifdef LONGCTX_HAVE_NCCL

void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess)
    throw Error(fmt::format("NCCL {} failed: {}", what, ncclGetErrorString(result)),
                "NCCL_DEBUG=INFO says more");
}

// Tensors through NCCL on the ranks' GPUs; host values and the bootstrap through TCP.
class NcclGroup : public ProcessGroup {
 public:
  NcclGroup(std::unique_ptr<TcpGroup> tcp, torch::Device device)
      : ProcessGroup(tcp->info()), tcp_(std::move(tcp)), device_(device) {
    ncclUniqueId id{};
    if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    tcp_->broadcast_from_root(std::as_writable_bytes(std::span(&id, 1)));
    c10::cuda::CUDAGuard guard(device_);
    check_nccl(ncclCommInitRank(&comm_, size(), id, rank()), "ncclCommInitRank");
  }
  ~NcclGroup() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }

  void all_reduce(std::span<double> values, Reduce op) override { tcp_->all_reduce(values, op); }

  void all_reduce_sum(const std::vector<torch::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    c10::cuda::CUDAGuard guard(device_);
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
    // The GPU's tensors in one group call.
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (const torch::Tensor& t : tensors) {
      if (!t.is_cuda()) continue;
      check_tensor(t);
      check_nccl(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                               nccl_type(t), ncclSum, comm_, stream),
                 "ncclAllReduce");
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
    // Tensors in CPU memory (none of the trainer's: offloaded gradients are summed on the GPU
    // on their way down) take the TCP path.
    std::vector<torch::Tensor> on_cpu;
    for (const torch::Tensor& t : tensors)
      if (!t.is_cuda()) on_cpu.push_back(t);
    if (!on_cpu.empty()) tcp_->all_reduce_sum(on_cpu);
  }

 private:
  static void check_tensor(const torch::Tensor& t) {
    if (!t.is_contiguous() ||
        (t.scalar_type() != torch::kFloat && t.scalar_type() != torch::kBFloat16))
      throw Error("all_reduce_sum takes contiguous float32 or bfloat16 tensors");
  }
  static ncclDataType_t nccl_type(const torch::Tensor& t) {
    return t.scalar_type() == torch::kFloat ? ncclFloat32 : ncclBfloat16;
  }

  std::unique_ptr<TcpGroup> tcp_;
  torch::Device device_;
  ncclComm_t comm_ = nullptr;
};

#endif

}  // namespace

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

std::unique_ptr<ProcessGroup> connect_process_group(const RankInfo& info, torch::Device device,
                                                    std::chrono::seconds timeout) {
  auto tcp = std::make_unique<TcpGroup>(info, timeout);
#ifdef LONGCTX_HAVE_NCCL
  if (device.is_cuda() && info.world_size > 1)
    return std::make_unique<NcclGroup>(std::move(tcp), device);
#else
  (void)device;
#endif
  return tcp;
}

}  // namespace longctx
