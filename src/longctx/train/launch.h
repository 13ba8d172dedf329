// Starts the ranks of a data-parallel run on this machine, as torchrun --nproc-per-node does:
// the parent holds a c10d TCPStore (StoreHost, process_group.h) on a free port, as torchrun's
// agent does, and runs its own command line again N times, each child with RANK, LOCAL_RANK,
// WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR (127.0.0.1), MASTER_PORT (the store's) and
// TORCHELASTIC_USE_AGENT_STORE=True in its environment, so that rank_info_from_environment()
// finds them and joins that store, and its share of the cores (OMP_NUM_THREADS, as torchrun
// sets it).
//
//   if (nproc > 1 && !launched_as_rank()) return launch_local_ranks(nproc);   // in the parent
//
// The parent waits for the children. SIGINT and SIGTERM reach it alone (each child leads its
// own process group) and it passes each on to every child once, so a Ctrl-C is one stop request
// per rank, not two. When a rank fails, the others get 30 s to notice (a rank waiting on a lost
// peer over Gloo exits on its own), then are killed, since a rank blocked in NCCL would wait
// for its watchdog's timeout.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace longctx {

// True when the environment already places this process in a run of several ranks (torchrun,
// Slurm with several tasks, or a parent launch_local_ranks). Throws Error as
// rank_info_from_environment does.
bool launched_as_rank();

// Runs /proc/self/exe with this process's arguments as `ranks` ranks and waits for them.
// Returns 0 when every rank exits 0, else the exit status of the first rank that failed (128 +
// the signal for a rank killed by one). Throws Error when a rank cannot be started.
int launch_local_ranks(int ranks, std::chrono::seconds grace = std::chrono::seconds(30));

// The environment of rank `rank` of `ranks` on this machine: `base` (NAME=value entries) less
// any RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and torchrun's
// TORCHELASTIC_USE_AGENT_STORE / TORCHELASTIC_RESTART_COUNT, plus this rank's (the agent store
// at `port`), and OMP_NUM_THREADS = cores / ranks unless `base` sets it: each rank's CPU work (the
// offloaded AdamW) gets its share of the cores instead of every rank spinning a thread on each.
std::vector<std::string> rank_environment(const std::vector<std::string>& base, int rank, int ranks,
                                          int port, unsigned cores);

// A TCP port that nothing listens on now (the kernel's pick), for a MASTER_PORT of rank 0's.
int free_tcp_port();

}  // namespace longctx
