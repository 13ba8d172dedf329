// A kineto trace (CPU ops and CUDA kernels) of what runs between start_trace() and
// save_trace(path), written as chrome-trace JSON; scripts/gpu/trace_summary.py sums its
// kernels. For the GPU benchmarks' --profile flags.
#pragma once

#include <torch/csrc/autograd/profiler_kineto.h>

#include <set>
#include <string>

namespace longctx::bench {

inline void start_trace() {
  namespace prof = torch::profiler::impl;
  prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  std::set<prof::ActivityType> activities{prof::ActivityType::CPU, prof::ActivityType::CUDA};
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
}

inline void save_trace(const std::string& path) {
  torch::autograd::profiler::disableProfiler()->save(path);
}

}  // namespace longctx::bench
