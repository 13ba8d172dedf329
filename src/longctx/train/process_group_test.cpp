// The ranks' c10d group on the CPU (Gloo): ranks run as threads of the test, meeting in a store
// rank 0 hosts on a free local port, or one an "agent" holds as torchrun's does. Reductions give
// every rank the same, exact result, reduce-scatter and all-gather match the reference on uneven
// shards; a rank that disappears, never comes or has another world size is an error, not a hang.
#include "longctx/train/process_group.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "longctx/base/error.h"
#include "longctx/train/launch.h"
#include "support/trainer_test_support.h"

namespace longctx {
namespace {

TEST(ProcessGroup, ThreeRanksReduceHostValuesAndTensors) {
  std::vector<std::vector<double>> sums(3), maxima(3), minima(3);
  std::vector<torch::Tensor> floats(3), halves(3);
  run_ranks(3, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& g) {
    ProcessGroup& group = *g;
    const int r = group.rank();
    const auto i = static_cast<size_t>(r);
    EXPECT_EQ(group.size(), 3);
    sums[i] = {static_cast<double>(r), 10.0 * r + 0.5};
    group.all_reduce(sums[i], Reduce::kSum);
    maxima[i] = {static_cast<double>(r), -static_cast<double>(r)};
    group.all_reduce(maxima[i], Reduce::kMax);
    minima[i] = {static_cast<double>(r)};
    group.all_reduce(minima[i], Reduce::kMin);
    // float32: rank r holds r + 1 + position / 8; bfloat16: r + 1 (exact in bf16).
    floats[i] = torch::arange(12, torch::kFloat).reshape({3, 4}) / 8 + (r + 1);
    halves[i] = torch::full({5}, r + 1, torch::kBFloat16);
    group.all_reduce_sum({floats[i], halves[i]});
    group.barrier();
  });
  torch::Tensor expected = torch::arange(12, torch::kFloat).reshape({3, 4}) * 3 / 8 + 6;
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(sums[r], (std::vector<double>{3.0, 31.5})) << "rank " << r;
    EXPECT_EQ(maxima[r], (std::vector<double>{2.0, 0.0})) << "rank " << r;
    EXPECT_EQ(minima[r], (std::vector<double>{0.0})) << "rank " << r;
    EXPECT_TRUE(torch::equal(floats[r], expected)) << "rank " << r << "\n" << floats[r];
    EXPECT_EQ(halves[r].scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(halves[r], torch::full({5}, 6, torch::kBFloat16))) << halves[r];
  }
}

TEST(ProcessGroup, ReduceScatterAndAllGatherMatchTheReferenceOnUnevenShards) {
  // 10 elements on 3 ranks: shards of 4, 4 and 2; 9 elements: 3 each (no padding). Rank r
  // holds input[i] = (r + 1) * i + r; the sum over ranks is 6 i + 3.
  for (int64_t n : {10, 9, 2}) {
    std::vector<torch::Tensor> shards(3), gathered(3);
    run_ranks(3, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& g) {
      const int r = g->rank();
      const auto i = static_cast<size_t>(r);
      torch::Tensor input = torch::arange(n, torch::kFloat) * (r + 1) + r;
      ShardRange mine = shard_range(n, 3, r);
      shards[i] = torch::full({mine.length}, -1.0f);
      g->reduce_scatter_sum(input, shards[i]).wait();
      // All-gather each rank's shard of 100 * position + rank back into a whole.
      torch::Tensor part = torch::arange(mine.begin, mine.begin + mine.length, torch::kFloat) * 100;
      gathered[i] = torch::full({n}, -1.0f);
      g->all_gather(part, gathered[i]).wait();
    });
    torch::Tensor sum = torch::arange(n, torch::kFloat) * 6 + 3;
    for (int r = 0; r < 3; ++r) {
      ShardRange mine = shard_range(n, 3, r);
      const auto i = static_cast<size_t>(r);
      EXPECT_TRUE(torch::equal(shards[i], sum.narrow(0, mine.begin, mine.length)))
          << "n " << n << " rank " << r << "\n"
          << shards[i];
      EXPECT_TRUE(torch::equal(gathered[i], torch::arange(n, torch::kFloat) * 100))
          << "n " << n << " rank " << r << "\n"
          << gathered[i];
    }
  }
}

TEST(ShardRange, CutsCeilPiecesInRankOrder) {
  EXPECT_EQ(shard_range(10, 3, 0).begin, 0);
  EXPECT_EQ(shard_range(10, 3, 0).length, 4);
  EXPECT_EQ(shard_range(10, 3, 1).begin, 4);
  EXPECT_EQ(shard_range(10, 3, 2).begin, 8);
  EXPECT_EQ(shard_range(10, 3, 2).length, 2);
  EXPECT_EQ(shard_range(2, 3, 2).length, 0);  // more ranks than elements: the last is empty
  EXPECT_EQ(shard_range(2, 3, 2).begin, 2);
}

TEST(ProcessGroup, ARankThatLeavesIsAnErrorForTheOthers) {
  std::string error;
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& g) {
    ProcessGroup& group = *g;
    if (group.rank() == 1) return;  // leaves: its group, and its connections, close
    std::vector<double> values{1.0};
    try {
      for (int i = 0; i < 100; ++i) group.all_reduce(values, Reduce::kSum);
    } catch (const Error& e) {
      error = e.what();
    }
  });
  EXPECT_NE(error.find("lost the connection to another rank"), std::string::npos) << error;
}

TEST(ProcessGroup, RankZeroStopsWaitingForARankThatNeverComes) {
  RankInfo info{.rank = 0, .world_size = 2, .master_port = free_tcp_port()};
  try {
    connect_process_group(info, torch::kCPU, {.rendezvous = std::chrono::seconds(1)});
    FAIL() << "rank 0 did not give up";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 waited 1 s for 2 ranks; 1 joined"),
              std::string::npos)
        << e.what();
  }
}

TEST(ProcessGroup, RanksJoinAnAgentStoreThatHoldsTheirPort) {
  // torchrun's agent holds a store on MASTER_PORT. Rank 0 of a run that does not know it cannot
  // host one there (the bug of issue 26); with TORCHELASTIC_USE_AGENT_STORE the ranks join it,
  // under the restart's prefix.
  StoreHost agent;
  RankInfo alone{.rank = 0, .world_size = 2, .master_port = agent.port()};
  try {
    connect_process_group(alone, torch::kCPU, {.rendezvous = std::chrono::seconds(5)});
    FAIL() << "rank 0 hosted a store on a port that was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot host the rendezvous store"), std::string::npos)
        << e.what();
  }
  for (int restart : {0, 3}) {  // a restarted attempt meets under a fresh prefix
    std::vector<double> sums(2);
    std::vector<std::thread> ranks;
    for (int r = 0; r < 2; ++r) {
      ranks.emplace_back([&, r] {
        RankInfo info{.rank = r,
                      .world_size = 2,
                      .local_rank = r,
                      .master_port = agent.port(),
                      .agent_store = true,
                      .restart_count = restart};
        std::unique_ptr<ProcessGroup> g = connect_process_group(info, torch::kCPU);
        double v[1] = {r + 1.0};
        g->all_reduce(v, Reduce::kSum);
        sums[static_cast<size_t>(r)] = v[0];
      });
    }
    for (std::thread& t : ranks) t.join();
    EXPECT_EQ(sums, (std::vector<double>{3.0, 3.0})) << "restart " << restart;
  }
}

TEST(ProcessGroup, ARankGivenAnotherWorldSizeIsAnError) {
  const int port = free_tcp_port();
  std::vector<std::string> errors(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      RankInfo info{.rank = r, .world_size = r == 0 ? 2 : 3, .master_port = port};
      try {
        connect_process_group(info, torch::kCPU, {.rendezvous = std::chrono::seconds(3)});
      } catch (const Error& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  }
  for (std::thread& t : ranks) t.join();
  // The later of the two names the mismatch; the other then waits in vain for its second
  // rank, or loses the store its peer hosted.
  const bool first =
      errors[1].find("was started as one of 3 ranks; another rank said 2") != std::string::npos;
  const bool second =
      errors[0].find("was started as one of 2 ranks; another rank said 3") != std::string::npos;
  EXPECT_TRUE(first != second) << errors[0] << "\n" << errors[1];
  for (const std::string& e : errors) EXPECT_FALSE(e.empty());
}

TEST(ProcessGroup, CheckSameNamesWhatDiffers) {
  std::vector<std::string> errors(2);
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& g) {
    ProcessGroup& group = *g;
    group.check_same(42, "nothing");  // equal: passes
    try {
      group.check_same(group.rank() == 0 ? 1 : 2, "their settings");
    } catch (const Error& e) {
      errors[static_cast<size_t>(group.rank())] = e.what();
    }
  });
  for (const std::string& e : errors) EXPECT_EQ(e, "the ranks differ in their settings");
}

// Sets environment variables for one test and restores them after.
class Environment {
 public:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~Environment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(RankInfo, ComesFromTorchrunOrSlurmVariables) {
  Environment env;
  for (const char* name :
       {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
        "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"})
    env.set(name, nullptr);
  RankInfo alone = rank_info_from_environment();
  EXPECT_EQ(alone.world_size, 1);
  EXPECT_EQ(alone.rank, 0);
  EXPECT_FALSE(launched_as_rank());

  // A Slurm batch step of one task is alone: it may start ranks of its own.
  env.set("SLURM_PROCID", "0");
  env.set("SLURM_NTASKS", "1");
  EXPECT_EQ(rank_info_from_environment().world_size, 1);
  EXPECT_FALSE(launched_as_rank());

  env.set("SLURM_PROCID", "5");
  env.set("SLURM_NTASKS", "16");
  env.set("SLURM_LOCALID", "1");
  env.set("MASTER_ADDR", "node7");
  env.set("MASTER_PORT", "4321");
  RankInfo slurm = rank_info_from_environment();
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.world_size, 16);
  EXPECT_EQ(slurm.local_rank, 1);
  EXPECT_EQ(slurm.master_addr, "node7");
  EXPECT_EQ(slurm.master_port, 4321);
  EXPECT_TRUE(launched_as_rank());

  // torchrun's variables win over Slurm's.
  env.set("RANK", "3");
  env.set("WORLD_SIZE", "4");
  env.set("LOCAL_RANK", "3");
  RankInfo torchrun = rank_info_from_environment();
  EXPECT_EQ(torchrun.rank, 3);
  EXPECT_EQ(torchrun.world_size, 4);
  EXPECT_EQ(torchrun.local_rank, 3);
  EXPECT_FALSE(torchrun.agent_store);
  env.set("TORCHELASTIC_USE_AGENT_STORE", "True");
  env.set("TORCHELASTIC_RESTART_COUNT", "2");
  RankInfo agent = rank_info_from_environment();
  EXPECT_TRUE(agent.agent_store);
  EXPECT_EQ(agent.restart_count, 2);

  env.set("RANK", "4");
  EXPECT_THROW(rank_info_from_environment(), Error);  // rank 4 of 4
  env.set("RANK", "two");
  try {
    rank_info_from_environment();
    FAIL() << "RANK=two was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RANK=two"), std::string::npos) << e.what();
  }
}

TEST(RankDevice, OneGpuARankAndNoneNamedByHand) {
  const RankInfo alone{}, second_of_two{.rank = 1, .world_size = 2, .local_rank = 1};
  EXPECT_EQ(rank_device(torch::Device("cuda:1"), alone), torch::Device("cuda:1"));
  EXPECT_EQ(rank_device(torch::kCPU, second_of_two), torch::Device(torch::kCPU));
  try {
    rank_device(torch::Device("cuda:1"), second_of_two);
    FAIL() << "cuda:1 was taken for a rank of two";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda:1 names one GPU"), std::string::npos)
        << e.what();
  }
}

TEST(Launch, EachRankGetsItsPlaceAndItsShareOfTheCores) {
  std::vector<std::string> base{"PATH=/bin", "RANK=7", "MASTER_PORT=1", "HOME=/root"};
  std::vector<std::string> env = rank_environment(base, 1, 4, 4321, 32);
  auto has = [&](const std::string& entry) {
    return std::count(env.begin(), env.end(), entry) == 1;
  };
  EXPECT_TRUE(has("PATH=/bin"));
  EXPECT_TRUE(has("HOME=/root"));
  EXPECT_TRUE(has("RANK=1"));
  EXPECT_TRUE(has("LOCAL_RANK=1"));
  EXPECT_TRUE(has("WORLD_SIZE=4"));
  EXPECT_TRUE(has("LOCAL_WORLD_SIZE=4"));
  EXPECT_TRUE(has("MASTER_ADDR=127.0.0.1"));
  EXPECT_TRUE(has("MASTER_PORT=4321"));
  EXPECT_TRUE(has("TORCHELASTIC_USE_AGENT_STORE=True"));  // the launcher holds the store
  EXPECT_TRUE(has("TORCHELASTIC_RESTART_COUNT=0"));
  EXPECT_TRUE(has("OMP_NUM_THREADS=8"));
  EXPECT_FALSE(has("RANK=7"));
  EXPECT_FALSE(has("MASTER_PORT=1"));
  EXPECT_EQ(env.size(), 11u);
  // The user's thread count stands; a rank never gets fewer than one.
  base.push_back("OMP_NUM_THREADS=3");
  env = rank_environment(base, 0, 4, 4321, 32);
  EXPECT_TRUE(has("OMP_NUM_THREADS=3"));
  EXPECT_FALSE(has("OMP_NUM_THREADS=8"));
  env = rank_environment({}, 0, 4, 4321, 2);
  EXPECT_TRUE(has("OMP_NUM_THREADS=1"));
}

}  // namespace
}  // namespace longctx
