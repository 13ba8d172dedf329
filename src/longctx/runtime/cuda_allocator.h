// libtorch's CUDA caching allocator, set up for long rows. Training and prefill at 64K-128K
// tokens allocate and free tensors of 1-3 GiB in shifting sizes; with the allocator's default
// fixed segments, freed blocks too small for the next request pile up (a Llama-2-7B step at 128K
// ran out of memory on an 80 GB H100 with 68.5 GiB actually needed). Expandable segments map
// memory into one growing virtual range instead. No torch headers here: tools/main.cpp calls
// this before anything touches CUDA.
//
//   int main() { longctx::prefer_expandable_segments(); ... }
#pragma once

namespace longctx {

// Turns on expandable segments unless the user set PYTORCH_ALLOC_CONF or
// PYTORCH_CUDA_ALLOC_CONF (their choice stands). Call before the first CUDA allocation; does
// nothing in a build without CUDA or with a libtorch older than 2.9.
void prefer_expandable_segments();
// Whether the CUDA allocator's segments are expandable: false without CUDA, and before the
// first CUDA allocation (there are no segments yet).
bool expandable_segments_enabled();

}  // namespace longctx
