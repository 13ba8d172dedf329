// PyTorch's c10d across the two libtorches longctx builds against: Debian's libtorch 1.13 (CPU,
// Gloo) and the one inside PyTorch 2.11 (CUDA, NCCL and Gloo). Every difference between them
// that c10d_group.cpp meets is here, one #if each, saying which version a branch is for.
//
// What needs no branch (the same in both): TCPStore(host, TCPStoreOptions) and the options'
// port / isServer / waitWorkers / timeout fields; PrefixStore(prefix, store); Work::wait();
// ProcessGroupGloo(store, rank, size, Options::create(timeout)) with Options::devices and
// createDeviceForHostname / createDeviceForInterface / createDefaultDevice (2.x adds a
// defaulted lazyInit argument); allreduce and list allgather on Gloo; allreduce on NCCL. Both
// ProcessGroupGloo and ProcessGroupNCCL are held as themselves, so that 2.0's split of
// ProcessGroup into ProcessGroup + Backend (they derive from Backend from 2.0 on) never shows.
//
// The headers need USE_C10D_GLOO (and USE_C10D_NCCL for NCCL), which CMakeLists.txt defines
// for the train library alone; ProcessGroupGloo.hpp also includes gloo's own headers
// (Debian: libgloo-dev; PyTorch's wheel ships them under torch/include).
#pragma once

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#ifdef LONGCTX_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace longctx::c10d_compat {

// A TCPStore's options: longctx counts the joining ranks itself (numWorkers unset, nobody
// waits inside the constructor), so that a missing rank is an error that names it.
inline c10d::TCPStoreOptions store_options(int port, bool server,
                                           std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = server;
  options.waitWorkers = false;
  options.timeout = timeout;
  return options;
}

// Gloo has no reduce-scatter and no flat ("_base") all-gather in 1.13 (both throw "not
// supported"), and which flat Gloo collectives 2.x has changed from release to release: on
// every version c10d_group.cpp builds the reduce-scatter from allreduce and the flat all-gather
// from the list allgather into views, as newer PyTorch's Gloo does inside.

#ifdef LONGCTX_HAVE_NCCL
// NCCL's flat collectives (only compiled with a CUDA libtorch: PyTorch 2.x).
// 2.x up to at least 2.12: _reduce_scatter_base / _allgather_base. Later releases name them
// reduce_scatter_single / all_gather_single and keep the _base names as deprecated forwarders
// (a deprecation warning is an error here), so those take the new names.
inline c10::intrusive_ptr<c10d::Work> nccl_reduce_scatter(c10d::ProcessGroupNCCL& nccl,
                                                          at::Tensor& output, at::Tensor& input) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 13)
  return nccl.reduce_scatter_single(output, input);  // 2.13+
#else
  return nccl._reduce_scatter_base(output, input);  // 1.x - 2.12 (2.11: the GPU machine)
#endif
}

inline c10::intrusive_ptr<c10d::Work> nccl_all_gather(c10d::ProcessGroupNCCL& nccl,
                                                      at::Tensor& output, at::Tensor& input) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 13)
  return nccl.all_gather_single(output, input);  // 2.13+
#else
  return nccl._allgather_base(output, input);       // 1.x - 2.12 (2.11: the GPU machine)
#endif
}

// ProcessGroupNCCL's options with a collective timeout: the field is Options::timeout in both
// 1.x (ProcessGroup::Options) and 2.x (Backend::Options); 2.x's watchdog tears the process down
// when a collective outlives it (TORCH_NCCL_ASYNC_ERROR_HANDLING's default), 1.x only honours it
// with NCCL_BLOCKING_WAIT.
inline c10::intrusive_ptr<c10d::ProcessGroupNCCL::Options> nccl_options(
    std::chrono::milliseconds timeout) {
  c10::intrusive_ptr<c10d::ProcessGroupNCCL::Options> options =
      c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return options;
}
#endif

}  // namespace longctx::c10d_compat
