// End-to-end tests of `longctx train` and `longctx plan` on the CPU: a corpus made here, mixed
// with the checked-in tiny SentencePiece model (tests/tokenizer/goldens/tiny_bpe.model), a
// debug model from `longctx init` with the same tokenizer, then training runs: the run
// directory's files, resume after a stop (same bytes as a straight run), settings from a
// config file and flags, and the errors that must come before any training.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "longctx/base/files.h"
#include "support/safetensors_reader.h"
#include "support/fixtures.h"
#include "support/sentencepiece_fixture.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;

const fs::path kTokenizer = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model";

// One corpus, one mix (rows of 128 tokens, two domains) and one debug model for all tests.
class TrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const fs::path root = dir_->path();
    testing::write_file(root / "corpus" / "a.jsonl", testing::two_domain_corpus(60));
    CommandResult mix = testing::run_longctx(fmt::format(
        "mix {} --tokenizer {} --strategy original --budget 12K --seq-len 128 --out {} -q",
        (root / "corpus").string(), kTokenizer.string(), data().string()));
    ASSERT_EQ(mix.exit_code, 0) << mix.err;
    fs::create_directories(root / "tok");
    fs::copy_file(kTokenizer, root / "tok" / "tokenizer.model");
    CommandResult init = testing::run_longctx(
        fmt::format("init --preset debug --tokenizer {} --out {}",
                    (root / "tok" / "tokenizer.model").string(), model().string()));
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path data() { return dir_->path() / "mix"; }
  static fs::path model() { return dir_->path() / "model"; }
  static fs::path run(const std::string& name) { return dir_->path() / name; }
  // The flags every run here shares: 2 rows of 128 tokens per step on the CPU.
  static std::string base(const std::string& out) {
    return fmt::format(
        "train --model {} --data {} --out {} --batch-tokens 256 --lr 1e-3 "
        "--device cpu -q",
        model().string(), data().string(), run(out).string());
  }
  // Shell: wait until the run has logged a step (every rank is past its start, signal handlers
  // set), at most two minutes.
  static std::string wait_for_a_step(const fs::path& run) {
    return fmt::format("for i in $(seq 600); do [ -s {} ] && break; sleep 0.2; done",
                       (run / "metrics.jsonl").string());
  }
  // base() with 6 rows a step and float32 weights saved (compared to float32 rounding).
  static std::string six_rows(const std::string& out) {
    return fmt::format(
        "train --model {} --data {} --out {} --batch-tokens 768 --lr 1e-3 --device cpu -q "
        "--save-dtype float32",
        model().string(), data().string(), run(out).string());
  }
  static testing::TempDir* dir_;
};
testing::TempDir* TrainCli::dir_ = nullptr;

TEST_F(TrainCli, WritesARunDirectory) {
  CommandResult r =
      testing::run_longctx(base("basic") + " --steps 4 --eval-every 2 --save-every 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 steps"), std::string::npos) << r.out;
  nlohmann::json config = nlohmann::json::parse(read_file(run("basic") / "config.json"));
  EXPECT_EQ(config["seq_len"], 128);  // taken from the dataset
  EXPECT_EQ(config["recompute"], "none");
  EXPECT_DOUBLE_EQ(config["lr"].get<double>(), 1e-3);
  std::vector<nlohmann::json> metrics = testing::read_jsonl(run("basic") / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 4u);
  for (size_t i = 0; i < metrics.size(); ++i) {
    EXPECT_EQ(metrics[i]["step"], i + 1);
    EXPECT_EQ(metrics[i]["tokens"], 256 * (i + 1));
    for (const char* key :
         {"loss", "lr", "grad_norm", "tokens_per_s", "step_time_s", "mfu", "memory_peak_gib"})
      EXPECT_TRUE(metrics[i].contains(key)) << key;
  }
  // Loss by domain on --eval-every steps, under the manifest's domain names.
  ASSERT_TRUE(metrics[1].contains("domain_loss"));
  nlohmann::json manifest = nlohmann::json::parse(read_file(data() / "manifest.json"));
  for (const auto& [domain, entry] : metrics[1]["domain_loss"].items()) {
    EXPECT_NE(std::find(manifest["domains"].begin(), manifest["domains"].end(), domain),
              manifest["domains"].end())
        << domain;
    EXPECT_GT(entry["tokens"].get<uint64_t>(), 0u);
  }
  // Checkpoints: the newest two kept, latest names the last; the final model is loadable.
  EXPECT_EQ(read_file(run("basic") / "checkpoints" / "latest"), "step-000004\n");
  EXPECT_TRUE(fs::exists(run("basic") / "checkpoints" / "step-000002" / "optimizer.safetensors"));
  EXPECT_TRUE(fs::exists(run("basic") / "checkpoints" / "step-000004" / "trainer_state.json"));
  CommandResult score = testing::run_longctx(
      fmt::format("score --model {} --text-file {} --device cpu", (run("basic") / "model").string(),
                  (dir_->path() / "corpus" / "a.jsonl").string()));
  EXPECT_EQ(score.exit_code, 0) << score.err;
}

TEST_F(TrainCli, ResumedRunEndsWithTheSameModelBytes) {
  ASSERT_EQ(testing::run_longctx(base("straight") + " --steps 4").exit_code, 0);
  ASSERT_EQ(testing::run_longctx(base("resumed") + " --steps 2").exit_code, 0);
  CommandResult r =
      testing::run_longctx(fmt::format("train --resume {} --steps 4 -q", run("resumed").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(run("straight") / "model" / "model.safetensors"),
            read_file(run("resumed") / "model" / "model.safetensors"));
  EXPECT_EQ(testing::read_jsonl(run("resumed") / "metrics.jsonl").size(), 4u);
  // What changes the computation cannot change on resume; the error names the flag.
  CommandResult changed = testing::run_longctx(
      fmt::format("train --resume {} --steps 6 --seed 5", run("resumed").string()));
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("--seed differs"), std::string::npos) << changed.err;
  // A finished run is not overwritten by a new one.
  CommandResult again = testing::run_longctx(base("straight") + " --steps 4");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
}

TEST_F(TrainCli, PeakTflopsSetsMfuAndChangesNothingElse) {
  // On the CPU no peak is known: MFU and the peak are null. --peak-tflops gives one: MFU is
  // tokens/s x (6N + 6LTd) over it, N and the rest counted here from the model's config.json,
  // and the run trains the same bytes. A resumed run may change it.
  CommandResult no_peak = testing::run_longctx(base("no-peak") + " --steps 2");
  ASSERT_EQ(no_peak.exit_code, 0) << no_peak.err;
  EXPECT_EQ(no_peak.err.find("MFU"), std::string::npos) << no_peak.err;
  CommandResult r = testing::run_longctx(base("peak") + " --steps 2 --peak-tflops 0.5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> none = testing::read_jsonl(run("no-peak") / "metrics.jsonl");
  std::vector<nlohmann::json> given = testing::read_jsonl(run("peak") / "metrics.jsonl");
  ASSERT_EQ(given.size(), 2u);
  nlohmann::json c = nlohmann::json::parse(read_file(model() / "config.json"));
  const double d = c["hidden_size"], layers = c["num_hidden_layers"], f = c["intermediate_size"];
  const double heads = c["num_attention_heads"], kv = c["num_key_value_heads"];
  const double vocab = c["vocab_size"], t = 128, head_dim = d / heads;
  const double n = layers * (d * head_dim * (2 * heads + 2 * kv) + 3 * d * f) + d * vocab;
  for (size_t i = 0; i < given.size(); ++i) {
    EXPECT_TRUE(none[i]["mfu"].is_null());
    EXPECT_TRUE(none[i]["peak_tflops"].is_null());
    EXPECT_EQ(given[i]["peak_tflops"], 0.5);
    EXPECT_EQ(given[i]["mfu_convention"], "6N+6LTd");
    double want = given[i]["tokens_per_s"].get<double>() * (6 * n + 6 * layers * t * d) / 0.5e12;
    EXPECT_NEAR(given[i]["mfu"].get<double>(), want, 1e-9 * want);
    EXPECT_EQ(given[i]["loss"], none[i]["loss"]);
  }
  EXPECT_NE(r.err.find("MFU: 6N + 6LTd FLOPs per token (RECIPE.md section 5) over 0.5 TFLOP/s "
                       "(--peak-tflops)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(run("peak") / "model" / "model.safetensors"),
            read_file(run("no-peak") / "model" / "model.safetensors"));
  CommandResult resumed = testing::run_longctx(
      fmt::format("train --resume {} --steps 3 -q --peak-tflops 2", run("peak").string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::vector<nlohmann::json> after = testing::read_jsonl(run("peak") / "metrics.jsonl");
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[2]["peak_tflops"], 2.0);
  nlohmann::json config = nlohmann::json::parse(read_file(run("peak") / "config.json"));
  EXPECT_EQ(config["peak_tflops"], 2.0);
  CommandResult bad = testing::run_longctx(base("bad-peak") + " --steps 1 --peak-tflops 0");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--peak-tflops"), std::string::npos) << bad.err;
}

TEST_F(TrainCli, LayersMixRecomputeModesAndResumeMayReplaceTheMix) {
  // Layer 1 recomputes in full, layer 0 its MLP: the run's config records both, and a resumed
  // run given only --recompute takes that mode on every layer.
  CommandResult mixed = testing::run_longctx(
      base("mixed") + " --steps 1 --recompute full --recompute-layers 1 --recompute-rest mlp");
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_NE(mixed.err.find("recompute full on layers 1, mlp on the others"), std::string::npos)
      << mixed.err;
  nlohmann::json config = nlohmann::json::parse(read_file(run("mixed") / "config.json"));
  EXPECT_EQ(config["recompute_layers"], "1");
  EXPECT_EQ(config["recompute_rest"], "mlp");
  CommandResult resumed = testing::run_longctx(
      fmt::format("train --resume {} --steps 2 -q --recompute none", run("mixed").string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  config = nlohmann::json::parse(read_file(run("mixed") / "config.json"));
  EXPECT_EQ(config["recompute"], "none");
  EXPECT_EQ(config["recompute_layers"], "all");
  EXPECT_EQ(config["recompute_rest"], "none");
}

TEST_F(TrainCli, SigtermCheckpointsAndTheRunResumes) {
  // A preempted job: SIGTERM ends the step in progress, writes a checkpoint and exits 130.
  CommandResult r = testing::run_command(
      fmt::format("{} {} --steps 1000000 >/dev/null 2>&1 & pid=$!; {}; kill -TERM $pid; wait $pid; "
                  "echo exit=$?",
                  LONGCTX_BINARY, base("preempted"), wait_for_a_step(run("preempted"))));
  ASSERT_NE(r.out.find("exit=130"), std::string::npos) << r.out << r.err;
  std::string latest = read_file(run("preempted") / "checkpoints" / "latest");
  uint64_t step = std::stoull(latest.substr(5));
  ASSERT_GT(step, 0u);
  // Every step before the signal is in metrics.jsonl, flushed line by line.
  EXPECT_EQ(testing::read_jsonl(run("preempted") / "metrics.jsonl").size(), step);
  CommandResult resumed = testing::run_longctx(
      fmt::format("train --resume {} --steps {} -q", run("preempted").string(), step + 2));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_jsonl(run("preempted") / "metrics.jsonl").size(), step + 2);
}

TEST_F(TrainCli, TwoRanksOnThisMachineTrainLikeOneProcess) {
  // --nproc-per-node 2 starts two ranks (one row each of a step's two); rank 0 writes the run.
  ASSERT_EQ(testing::run_longctx(base("single") + " --steps 3").exit_code, 0);
  CommandResult r = testing::run_longctx(base("ranks") + " --steps 3 --nproc-per-node 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("starting 2 data-parallel ranks"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, fmt::format("{}: 3 steps, 768 tokens; model in {}\n", run("ranks").string(),
                               (run("ranks") / "model").string()));
  std::vector<nlohmann::json> one = testing::read_jsonl(run("single") / "metrics.jsonl");
  std::vector<nlohmann::json> two = testing::read_jsonl(run("ranks") / "metrics.jsonl");
  ASSERT_EQ(two.size(), 3u);
  for (size_t i = 0; i < two.size(); ++i) {
    double loss = one[i]["loss"].get<double>();
    EXPECT_NEAR(two[i]["loss"].get<double>(), loss, 1e-5 * loss) << "step " << i + 1;
  }
  EXPECT_TRUE(fs::exists(run("ranks") / "model" / "model.safetensors"));

  // SIGTERM to the launcher reaches each rank once: they stop at the same step, rank 0
  // writes the checkpoint, and the run resumes, again on two ranks.
  CommandResult stopped = testing::run_command(fmt::format(
      "{} {} --steps 1000000 --nproc-per-node 2 >/dev/null 2>&1 & pid=$!; {}; "
      "kill -TERM $pid; wait $pid; echo exit=$?",
      LONGCTX_BINARY, base("ranks-preempted"), wait_for_a_step(run("ranks-preempted"))));
  ASSERT_NE(stopped.out.find("exit=130"), std::string::npos) << stopped.out << stopped.err;
  std::string latest = read_file(run("ranks-preempted") / "checkpoints" / "latest");
  uint64_t step = std::stoull(latest.substr(5));
  ASSERT_GT(step, 0u);
  EXPECT_EQ(testing::read_jsonl(run("ranks-preempted") / "metrics.jsonl").size(), step);
  CommandResult resumed =
      testing::run_longctx(fmt::format("train --resume {} --steps {} -q --nproc-per-node 2",
                                       run("ranks-preempted").string(), step + 2));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_jsonl(run("ranks-preempted") / "metrics.jsonl").size(), step + 2);

  // A rank that fails says which it is, and the launcher returns its failure.
  CommandResult failed = testing::run_longctx(
      base("ranks-failed") + " --steps 1 --nproc-per-node 2 --gpu-memory-gib 0.000001");
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_NE(failed.err.find("rank 1: "), std::string::npos) << failed.err;
}

// The float32 weights of a run's final model (--save-dtype float32), by name.
std::map<std::string, std::vector<float>> final_weights(const fs::path& run) {
  const fs::path file = run / "model" / "model.safetensors";
  std::map<std::string, std::vector<float>> out;
  for (const std::string& name : testing::safetensors_tensor_names(file)) {
    testing::SafetensorsTensor t = testing::read_safetensors_tensor(file, name);
    EXPECT_EQ(t.dtype, "F32") << name;
    std::vector<float>& v = out[name];
    v.resize(t.bytes.size() / sizeof(float));
    std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(float));
  }
  return out;
}

// Same losses (relative 1e-5) and gradient norms (1e-4) at every step, and the same weights to
// float32 rounding.
void expect_same_training(const fs::path& a, const fs::path& b) {
  std::vector<nlohmann::json> la = testing::read_jsonl(a / "metrics.jsonl");
  std::vector<nlohmann::json> lb = testing::read_jsonl(b / "metrics.jsonl");
  ASSERT_EQ(la.size(), lb.size()) << b;
  for (size_t i = 0; i < la.size(); ++i) {
    double loss = la[i]["loss"].get<double>();
    EXPECT_NEAR(lb[i]["loss"].get<double>(), loss, 1e-5 * loss) << b << " step " << i + 1;
    EXPECT_EQ(lb[i]["tokens"], la[i]["tokens"]) << b;
    // AdamW hardly sees a gradient's scale; the norm does: a wrong normaliser shows here.
    double norm = la[i]["grad_norm"].get<double>();
    EXPECT_NEAR(lb[i]["grad_norm"].get<double>(), norm, 1e-4 * norm) << b << " step " << i + 1;
  }
  auto wa = final_weights(a), wb = final_weights(b);
  ASSERT_EQ(wa.size(), wb.size()) << b;
  for (const auto& [name, va] : wa) {
    const std::vector<float>& vb = wb.at(name);
    ASSERT_EQ(va.size(), vb.size()) << name;
    // The largest difference against the tensor's scale: float32 roundings of the gradient,
    // which AdamW's update (lr 1e-3) amplifies where a gradient is near zero (measured: 6e-5).
    double worst = 0, scale = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(va[i]) - vb[i]));
      scale = std::max(scale, std::abs(static_cast<double>(va[i])));
    }
    worst /= scale;
    EXPECT_LT(worst, 2e-4) << b << " " << name;
  }
}

TEST_F(TrainCli, OneTwoOrThreeRanksShardedOrNotTrainAlike) {
  // 6 rows a step: one process runs them 1, 2 or 3 at a time; 2 ranks 3 each, 3 ranks 2 each,
  // with the optimizer state sharded (the default with ranks) or whole on every rank. Every
  // target of a step weighs 1 / (6 * 127) however the rows are cut, so all give one run's
  // losses and weights. Then a 2-rank run resumes on 3 ranks and ends with the same weights.
  auto train = [&](const std::string& name, const std::string& flags) {
    CommandResult r = testing::run_longctx(six_rows(name) + " --steps 3 " + flags);
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.err;
    return r;
  };
  train("p1", "--micro-batch 1");
  for (const auto& [name, flags] : std::vector<std::pair<std::string, std::string>>{
           {"p1-micro2", "--micro-batch 2"},
           {"p1-micro3", "--micro-batch 3"},
           {"p2", "--nproc-per-node 2"},
           {"p2-micro3", "--nproc-per-node 2 --micro-batch 3"},
           {"p2-whole", "--nproc-per-node 2 --shard-optimizer off"},
           {"p3", "--nproc-per-node 3"},
           {"p3-whole", "--nproc-per-node 3 --shard-optimizer off"}}) {
    CommandResult r = train(name, flags);
    if (flags.find("nproc") != std::string::npos && flags.find("off") == std::string::npos) {
      nlohmann::json state = nlohmann::json::parse(
          read_file(run(name) / "checkpoints" / "step-000003" / "trainer_state.json"));
      EXPECT_EQ(state["sharded_optimizer"], true) << name;
    }
    expect_same_training(run("p1"), run(name));
  }
  // Stopped after 2 steps on 2 sharded ranks, resumed on 3.
  CommandResult first =
      testing::run_longctx(six_rows("p2-then-3") + " --steps 2 --nproc-per-node 2");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CommandResult resumed = testing::run_longctx(
      fmt::format("train --resume {} --steps 3 -q --nproc-per-node 3", run("p2-then-3").string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("the run had 2 rank(s), now 3"), std::string::npos) << resumed.err;
  expect_same_training(run("p1"), run("p2-then-3"));
}

// Shell: a torchrun agent's store, held with torch.distributed.TCPStore (Debian's
// python3-torch) on a port of its choosing, in $PORT; $agent is its pid.
std::string agent_store(const fs::path& dir) {
  return fmt::format(
      "PY=; for p in python3 /usr/bin/python3; do $p -c 'import torch.distributed' 2>/dev/null "
      "&& PY=$p && break; done; [ -n \"$PY\" ] || {{ echo 'no python3 with torch "
      "(python3-torch: scripts/install-deps.sh)'; exit 3; }}; "
      "$PY -c 'import time; from torch.distributed import TCPStore; "
      "s = TCPStore(\"127.0.0.1\", 0, None, True, wait_for_workers=False); "
      "print(s.port, flush=True); time.sleep(600)' > {0}/port & agent=$!; "
      "for i in $(seq 300); do [ -s {0}/port ] && break; sleep 0.2; done; PORT=$(cat {0}/port); "
      "export WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT "
      "TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=0 OMP_NUM_THREADS=1; ",
      dir.string());
}

TEST_F(TrainCli, RanksStartedAsTorchrunStartsThemTrainLikeOneProcess) {
  // torchrun --no-python: its agent holds a TCPStore on MASTER_PORT and starts each rank with
  // RANK, LOCAL_RANK, WORLD_SIZE, ... and TORCHELASTIC_USE_AGENT_STORE=True. The ranks join
  // the agent's store (rank 0 used to try to bind that port and fail).
  const fs::path dir = run("torchrun-agent");
  fs::create_directories(dir);
  ASSERT_EQ(testing::run_longctx(base("torchrun-single") + " --steps 3").exit_code, 0);
  const std::string rank = fmt::format("{} {} --steps 3", LONGCTX_BINARY, base("torchrun"));
  CommandResult r = testing::run_command(
      agent_store(dir) +
      fmt::format("RANK=0 LOCAL_RANK=0 {0} 2>{1}/r0.err & a=$!; RANK=1 LOCAL_RANK=1 {0} "
                  "2>{1}/r1.err & b=$!; wait $a; ra=$?; wait $b; rb=$?; kill $agent; "
                  "echo ra=$ra rb=$rb",
                  rank, dir.string()));
  EXPECT_NE(r.out.find("ra=0 rb=0"), std::string::npos)
      << r.out << read_file(dir / "r0.err") << read_file(dir / "r1.err");
  std::vector<nlohmann::json> one = testing::read_jsonl(run("torchrun-single") / "metrics.jsonl");
  std::vector<nlohmann::json> two = testing::read_jsonl(run("torchrun") / "metrics.jsonl");
  ASSERT_EQ(two.size(), 3u);
  for (size_t i = 0; i < two.size(); ++i) {
    double loss = one[i]["loss"].get<double>();
    EXPECT_NEAR(two[i]["loss"].get<double>(), loss, 1e-5 * loss) << "step " << i + 1;
  }
}

TEST_F(TrainCli, ARankThatDiesEndsTheOthersWithAClearError) {
  // Two torchrun-style ranks; rank 1 is killed (SIGKILL: no goodbye) once training runs.
  // Rank 0 must fail on its own, soon, naming what happened, not hang in a collective.
  const fs::path dir = run("dies-agent");
  fs::create_directories(dir);
  const std::string rank = fmt::format("{} {} --steps 1000000", LONGCTX_BINARY, base("dies"));
  CommandResult r = testing::run_command(
      agent_store(dir) +
      fmt::format("RANK=0 LOCAL_RANK=0 timeout 300 {0} 2>{1}/r0.err & a=$!; RANK=1 LOCAL_RANK=1 "
                  "{0} 2>{1}/r1.err & b=$!; {2}; kill -KILL $b; t0=$(date +%s); wait $a; ra=$?; "
                  "t1=$(date +%s); kill $agent; echo ra=$ra seconds=$((t1 - t0))",
                  rank, dir.string(), wait_for_a_step(run("dies"))));
  std::string err = read_file(dir / "r0.err");
  ASSERT_NE(r.out.find("ra="), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("ra=0 "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ra=124 "), std::string::npos) << "rank 0 hung: " << r.out << err;
  const int seconds = std::stoi(r.out.substr(r.out.find("seconds=") + 8));
  EXPECT_LT(seconds, 60) << err;
  EXPECT_NE(err.find("rank 0: lost the connection to another rank"), std::string::npos) << err;
}

TEST_F(TrainCli, ConfigFileThenFlags) {
  testing::write_file(dir_->path() / "train.json",
                      R"({"lr": 5e-4, "steps": 1, "schedule": "cosine", "warmup_steps": 1})");
  CommandResult r = testing::run_longctx(fmt::format("{} --config {} --steps 2", base("configured"),
                                                     (dir_->path() / "train.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json config = nlohmann::json::parse(read_file(run("configured") / "config.json"));
  EXPECT_EQ(config["steps"], 2);  // the flag wins
  EXPECT_EQ(config["schedule"], "cosine");
  EXPECT_EQ(config["warmup_steps"], 1);
  // Flags also win over the file's lr: base() passes --lr 1e-3.
  EXPECT_DOUBLE_EQ(config["lr"].get<double>(), 1e-3);
  std::vector<nlohmann::json> metrics = testing::read_jsonl(run("configured") / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(metrics[0]["lr"].get<double>(), 1e-3);  // end of the 1-step warmup
}

TEST_F(TrainCli, ErrorsComeBeforeTraining) {
  auto fails = [&](const std::string& args, const std::string& expected) {
    CommandResult r = testing::run_longctx(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(run("never") / "metrics.jsonl")) << args;
  };
  fails(base("never") + " --steps 1 --seq-len 64", "64");
  fails(base("never") + " --steps 1 --lr fast", "--lr");
  fails(base("never") + " --steps 1 --schedule steep", "--schedule");
  fails(base("never") + " --steps 1 --bogus 1", "bogus");
  fails(base("never") + " --steps 1 --recompute-rest sometimes", "--recompute-rest");
  fails(base("never") + " --steps 1 --gpu-memory-gib 0.000001", "fits");
  fails(fmt::format("train --resume {}", run("nothing-here").string()), "config.json");

  // A model whose vocabulary is smaller than the dataset's tokenizer.
  fs::path small_tok = testing::train_sentencepiece_bpe(dir_->path() / "small-tok");
  fs::path small_model = dir_->path() / "small-model";
  ASSERT_EQ(testing::run_longctx(fmt::format("init --preset debug --tokenizer {} --out {}",
                                             small_tok.string(), small_model.string()))
                .exit_code,
            0);
  fails(fmt::format("train --model {} --data {} --out {} --steps 1 --device cpu",
                    small_model.string(), data().string(), run("never").string()),
        "vocabulary");

  // A dataset tokenized with another tokenizer (its recorded fingerprint differs).
  fs::path other = dir_->path() / "other-mix";
  fs::create_directories(other);
  for (const auto& entry : fs::directory_iterator(data()))
    fs::copy(entry.path(), other / entry.path().filename());
  nlohmann::json manifest = nlohmann::json::parse(read_file(other / "manifest.json"));
  manifest["tokenizer_fingerprint"] = "0000000000000000";
  testing::write_file(other / "manifest.json", manifest.dump());
  fails(fmt::format("train --model {} --data {} --out {} --steps 1 --device cpu", model().string(),
                    other.string(), run("never").string()),
        "not the model's tokenizer");
}

TEST(PlanCli, PrintsEveryMemoryOption) {
  CommandResult r =
      testing::run_longctx("plan --preset llama2-7b --seq-len 81920 --gpu-mem 80GiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json plan = nlohmann::json::parse(r.out);
  ASSERT_EQ(plan["options"].size(), 10u);
  EXPECT_EQ(plan["rows_per_step"], 49);  // 4M tokens / 81920, rounded
  bool full_offload_fits = false;
  for (const nlohmann::json& o : plan["options"]) {
    if (o["recompute"] == "full" && o["offload_optimizer"] == true) full_offload_fits = o["fits"];
    if (o["offload_optimizer"] == false) {
      EXPECT_FALSE(o["fits"].get<bool>()) << o.dump();
    }
  }
  EXPECT_TRUE(full_offload_fits);
  CommandResult table = testing::run_longctx("plan --preset tinyllama-1.1b --seq-len 32768");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("recompute"), std::string::npos);
  CommandResult bad = testing::run_longctx("plan --preset debug --gpu-mem lots");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--gpu-mem"), std::string::npos) << bad.err;
  CommandResult bad_link = testing::run_longctx("plan --preset debug --host-gbps 0");
  EXPECT_NE(bad_link.exit_code, 0);
  EXPECT_NE(bad_link.err.find("--host-gbps"), std::string::npos) << bad_link.err;
  CommandResult bad_rest = testing::run_longctx("plan --preset debug --recompute-rest sometimes");
  EXPECT_NE(bad_rest.exit_code, 0);
  EXPECT_NE(bad_rest.err.find("--recompute-rest"), std::string::npos) << bad_rest.err;
}

TEST(PlanCli, ListsTheMixOfModesAutoPicks) {
  // 7B at 128K on 79 GiB, offloaded: only full fits alone; auto keeps the attention output of
  // a few bottom layers, and the plan lists that mix as an option of its own.
  const std::string flags =
      "plan --preset llama2-7b --seq-len 131072 --batch-tokens 131072 --gpu-mem 79GiB";
  CommandResult r = testing::run_longctx(flags + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json options = nlohmann::json::parse(r.out)["options"];
  ASSERT_EQ(options.size(), 11u);
  const nlohmann::json& mix = options.back();
  EXPECT_EQ(mix["recompute"], "full");
  EXPECT_EQ(mix["recompute_rest"], "full-keep-attention");
  EXPECT_NE(mix["recompute_layers"], "all");
  EXPECT_TRUE(mix["offload_optimizer"].get<bool>());
  EXPECT_TRUE(mix["fits"].get<bool>());
  EXPECT_TRUE(mix["auto_picks"].get<bool>());
  for (size_t i = 0; i + 1 < options.size(); ++i) {
    EXPECT_FALSE(options[i]["auto_picks"].get<bool>()) << options[i].dump();
    if (options[i]["recompute"] == "full" && options[i]["offload_optimizer"] == true) {
      EXPECT_LT(mix["step_time_s"].get<double>(), options[i]["step_time_s"].get<double>());
    }
  }
  CommandResult table = testing::run_longctx(flags);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("mixed: full on layers "), std::string::npos) << table.out;
  // Layers given: the rows are those layers' modes, and auto looks for no other mix.
  CommandResult given = testing::run_longctx(flags + " --recompute-layers 4-31 --json");
  ASSERT_EQ(given.exit_code, 0) << given.err;
  nlohmann::json rows = nlohmann::json::parse(given.out)["options"];
  ASSERT_EQ(rows.size(), 10u);
  for (const nlohmann::json& o : rows) EXPECT_EQ(o["recompute_layers"], "4-31");
}

TEST(PlanCli, GpusShareTheStepAndNotTheMemory) {
  // 4 GPUs split a step of 8 rows: each GPU's memory is that of one row, as on one GPU, and
  // the step takes a quarter of the time (nothing offloaded, so nothing else changes).
  auto plan = [](const std::string& gpus) {
    CommandResult r = testing::run_longctx(
        "plan --preset tinyllama-1.1b --seq-len 32768 --batch-tokens 256K --json --gpus " + gpus);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  nlohmann::json one = plan("1"), four = plan("4");
  EXPECT_EQ(four["gpus"], 4);
  EXPECT_EQ(one["rows_per_step"], 8);
  EXPECT_EQ(four["rows_per_step"], 8);
  // On 4 GPUs every option comes whole (each GPU the state of one) and sharded.
  std::vector<nlohmann::json> whole, sharded;
  for (const nlohmann::json& o : four["options"])
    (o["sharded_optimizer"].get<bool>() ? sharded : whole).push_back(o);
  ASSERT_EQ(one["options"].size(), whole.size());
  ASSERT_EQ(whole.size(), sharded.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    const nlohmann::json &a = one["options"][i], &b = whole[i], &z = sharded[i];
    EXPECT_EQ(a["total_gib"], b["total_gib"]) << a.dump();
    if (!a["offload_optimizer"].get<bool>()) {
      EXPECT_NEAR(b["step_time_s"].get<double>(), a["step_time_s"].get<double>() / 4,
                  1e-9 * a["step_time_s"].get<double>())
          << a.dump();
      // Sharded: the 16 bytes a parameter of state, 1/4 of them here (a gradient piece and
      // the buckets on the wire beside them).
      EXPECT_LT(z["optimizer_gib"].get<double>(), b["optimizer_gib"].get<double>() / 2) << z.dump();
    } else {
      // Offloaded: each rank's CPU memory holds 1/4 of the state; a host holds its 4 ranks'.
      EXPECT_NEAR(z["cpu_gib"].get<double>(), b["cpu_gib"].get<double>() / 4, 1e-6) << z.dump();
      EXPECT_NEAR(z["host_cpu_gib"].get<double>(), 4 * z["cpu_gib"].get<double>(), 1e-6);
      EXPECT_NEAR(b["host_cpu_gib"].get<double>(), 4 * b["cpu_gib"].get<double>(), 1e-6);
    }
    EXPECT_LT(z["total_gib"].get<double>(), b["total_gib"].get<double>()) << z.dump();
  }
  CommandResult table = testing::run_longctx(
      "plan --preset tinyllama-1.1b --seq-len 32768 --batch-tokens 256K --gpus 4");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("shard  cpu/rank  cpu/host"), std::string::npos) << table.out;
  // 6 rows on 4 GPUs round up to 8, whole rows on every GPU.
  CommandResult r = testing::run_longctx(
      "plan --preset tinyllama-1.1b --seq-len 32768 --batch-tokens 192K --json --gpus 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows_per_step"], 8);
}

TEST(PlanCli, OffloadTimeFollowsTheHostRates) {
  // Half the host link and CPU bandwidth: the offloaded rows' offload time doubles, the others
  // stay at zero, and the step time grows by exactly the difference. At 40 GiB no gradient sum
  // fits on the GPU, so every micro-batch's gradients go down.
  auto options = [](const std::string& flags) {
    CommandResult r =
        testing::run_longctx("plan --preset llama2-7b --seq-len 81920 --json " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["options"];
  };
  nlohmann::json fast = options("--gpu-mem 40GiB"),
                 slow = options("--gpu-mem 40GiB --host-gbps 13.5 --cpu-gbps 72.5");
  ASSERT_EQ(fast.size(), slow.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    double a = fast[i]["offload_time_s"], b = slow[i]["offload_time_s"];
    EXPECT_EQ(fast[i]["gpu_gradient_sums_gib"], 0.0);
    if (fast[i]["offload_optimizer"].get<bool>()) {
      EXPECT_GT(a, 10.0);  // 49 micro-batches of 27 GB each
      EXPECT_NEAR(b, 2 * a, 1e-6 * a);
    } else {
      EXPECT_EQ(a, 0.0);
    }
    EXPECT_NEAR(slow[i]["step_time_s"].get<double>() - fast[i]["step_time_s"].get<double>(), b - a,
                1e-6);
  }
  // On an 80 GiB card the full-recompute offloaded row keeps all 25.1 GiB of sums on the GPU:
  // its gradients go down once a step, as with one row a step.
  nlohmann::json roomy = options("--gpu-mem 80GiB");
  nlohmann::json one_row = options("--gpu-mem 80GiB --batch-tokens 81920");
  for (size_t i = 0; i < roomy.size(); ++i) {
    if (roomy[i]["recompute"] != "full" || !roomy[i]["offload_optimizer"].get<bool>()) continue;
    EXPECT_NEAR(roomy[i]["gpu_gradient_sums_gib"].get<double>(), 25.1, 0.05);
    EXPECT_NEAR(roomy[i]["offload_time_s"].get<double>(),
                one_row[i]["offload_time_s"].get<double>(), 1e-9);
    EXPECT_EQ(one_row[i]["gpu_gradient_sums_gib"], 0.0);  // one micro-batch: nothing to gain
    EXPECT_TRUE(roomy[i]["fits"].get<bool>());
    EXPECT_LE(roomy[i]["total_gib"].get<double>(), 78.0);  // 2 GiB left beside the sums
  }
}

}  // namespace
}  // namespace longctx
