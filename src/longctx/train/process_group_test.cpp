// The ranks' TCP group on the CPU: ranks run as threads of the test, each connecting to rank 0
// on a free local port. Reductions give every rank the same, exact result; a rank that sends
// the wrong amount, disappears or never comes is an error, not a hang.
#include "longctx/train/process_group.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

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

TEST(ProcessGroup, RanksThatReduceDifferentAmountsGetAnError) {
  EXPECT_THROW(
      {
        try {
          run_ranks(2, torch::kCPU, [](const std::shared_ptr<ProcessGroup>& g) {
            ProcessGroup& group = *g;
            std::vector<double> values(group.rank() == 0 ? 3 : 2, 1.0);
            group.all_reduce(values, Reduce::kSum);
          });
        } catch (const Error& e) {
          // Rank 0 names the mismatch; rank 1 then loses its connection. Either is first.
          std::string text = e.what();
          EXPECT_TRUE(text.find("not running the same configuration") != std::string::npos ||
                      text.find("lost the connection to rank 0") != std::string::npos)
              << text;
          throw;
        }
      },
      Error);
}

TEST(ProcessGroup, ARankThatLeavesIsAnErrorForTheOthers) {
  std::string error;
  run_ranks(2, torch::kCPU, [&](const std::shared_ptr<ProcessGroup>& g) {
    ProcessGroup& group = *g;
    if (group.rank() == 1) return;  // leaves: its socket closes
    std::vector<double> values{1.0};
    try {
      group.all_reduce(values, Reduce::kSum);
    } catch (const Error& e) {
      error = e.what();
    }
  });
  EXPECT_NE(error.find("lost the connection to rank 1"), std::string::npos) << error;
}

TEST(ProcessGroup, RankZeroStopsWaitingForARankThatNeverComes) {
  RankInfo info{.rank = 0, .world_size = 2, .master_port = free_tcp_port()};
  try {
    connect_process_group(info, torch::kCPU, std::chrono::seconds(1));
    FAIL() << "rank 0 did not give up";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("waited for 1 ranks"), std::string::npos) << e.what();
  }
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
  for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS",
                           "SLURM_LOCALID", "MASTER_ADDR", "MASTER_PORT"})
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
  EXPECT_TRUE(has("OMP_NUM_THREADS=8"));
  EXPECT_FALSE(has("RANK=7"));
  EXPECT_FALSE(has("MASTER_PORT=1"));
  EXPECT_EQ(env.size(), 9u);
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
