// longctx train: continue pretraining a Hugging Face LLaMA checkpoint on a `longctx mix`
// dataset at long context with a new RoPE base (RECIPE.md section 3).
//
//   longctx train --model Llama-2-7b-hf --data mix-out --out run --seq-len 81920
//       --rope-theta 500000 --lr 2e-5 --batch-tokens 4M --tokens 5B   (one line)
//   longctx train --resume run                      # after an interruption
//
// Phases: settings (a --config file, then flags; or the run's config.json on --resume) ->
// checks (tokenizer fingerprint, memory plan) -> the training loop (trainer.h), one line per
// step -> the final checkpoint and RUN/model.
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/runtime/device.h"
#include "longctx/tokenizer/fingerprint.h"
#include "longctx/tokenizer/tokenizer.h"
#include "longctx/train/launch.h"
#include "longctx/train/plan.h"
#include "longctx/train/process_group.h"
#include "longctx/train/trainer.h"
#include "longctx/dataset/training_data.h"

namespace longctx {

namespace {

namespace fs = std::filesystem;

// SIGINT/SIGTERM: finish the step, write a checkpoint, exit (a second signal kills at once).
volatile std::sig_atomic_t g_stop = 0;
extern "C" void request_stop(int signal) {
  if (g_stop) std::_Exit(128 + signal);
  g_stop = 1;
}

struct TrainFlags {
  std::string config_file;
  std::string resume;
  bool quiet = false;
  // Settings given on the command line, by JSON name, as text (TrainConfig::set parses them).
  std::map<std::string, std::string> values;
  bool no_shuffle = false, offload = false, document_mask = false;
  int nproc_per_node = 1;  // data-parallel ranks this command starts on this machine
};

std::string flag_name(std::string_view name) {
  std::string flag(name);
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

// The model's tokenizer must be the dataset's: compare fingerprints when both are known.
void check_tokenizer(const TrainConfig& config) {
  TrainingData data = TrainingData::open(config.data, config.seq_len);
  if (data.tokenizer_fingerprint().empty()) return;
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = load_tokenizer(config.model);
  } catch (const Error&) {
    std::fprintf(stderr,
                 "longctx train: warning: %s has no tokenizer to compare with the dataset's (%s)\n",
                 config.model.c_str(), data.tokenizer().c_str());
    return;
  }
  if (tokenizer_fingerprint(*tokenizer) != data.tokenizer_fingerprint()) {
    throw Error(fmt::format("{} was tokenized with {}, which is not the model's tokenizer ({})",
                            config.data, data.tokenizer(), tokenizer->description()),
                "rerun longctx mix with --tokenizer pointing at the model directory");
  }
}

TrainConfig resolve(const TrainFlags& flags) {
  TrainConfig config;
  std::map<std::string, std::string> given = flags.values;
  if (flags.no_shuffle) given["shuffle"] = "false";
  if (flags.offload) given["offload_optimizer"] = "true";
  if (flags.document_mask) given["document_mask"] = "true";
  if (!flags.resume.empty()) {
    // The run's own settings; flags may change only what does not change the computation.
    fs::path file = fs::path(flags.resume) / "config.json";
    if (!fs::exists(file))
      throw Error(fmt::format("--resume {}: {} is missing", flags.resume, file.string()),
                  "point --resume at the --out directory of a run");
    config.apply_json(nlohmann::json::parse(read_file(file)), file.string());
    // --recompute alone replaces the run's whole choice, the layers of a mix included.
    if (given.contains("recompute") && !given.contains("recompute_layers") &&
        !given.contains("recompute_rest")) {
      config.recompute_layers = "all";
      config.recompute_rest = "none";
    }
    nlohmann::json before = config.to_json();
    for (const auto& [name, value] : given) {
      config.set(name, value);
      if (config.to_json()[name] != before[name] && !TrainConfig::resumable_change(name)) {
        throw Error(fmt::format("--{} differs from the run's setting ({} in {})", flag_name(name),
                                before[name].dump(), file.string()),
                    "a resumed run keeps what changes the computation; start a new --out");
      }
    }
    config.out = flags.resume;
  } else {
    if (!flags.config_file.empty())
      config.apply_json(nlohmann::json::parse(read_file(flags.config_file)), flags.config_file);
    for (const auto& [name, value] : given) config.set(name, value);
  }
  config.validate();
  return config;
}

// This process's place in a data-parallel run, connected to the other ranks; null when alone.
std::shared_ptr<ProcessGroup> join_ranks(const TrainConfig& config, const RankInfo& info) {
  if (info.world_size == 1) return nullptr;
  return connect_process_group(info, rank_device(parse_device(config.device), info));
}

int run_rank(const TrainFlags& flags, const TrainConfig& config, const RankInfo& info) {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  Trainer trainer(config, {.resume = !flags.resume.empty(),
                           .stop_requested = [] { return g_stop != 0; },
                           .group = join_ranks(config, info)});
  const bool quiet = flags.quiet || info.rank != 0;  // rank 0 speaks for the run
  const TrainConfig& c = trainer.config();
  if (info.rank == 0)
    std::fprintf(stderr,
                 "longctx train: %llu steps of %llu rows x %u tokens (%s tokens per step), "
                 "recompute %s, %s\n",
                 static_cast<unsigned long long>(trainer.total_steps()),
                 static_cast<unsigned long long>(trainer.rows_per_step()), c.seq_len,
                 format_count(trainer.rows_per_step() * c.seq_len).c_str(),
                 recompute_label(trainer.plan()).c_str(), c.out.c_str());
  const bool on_gpu = parse_device(c.device).is_cuda();
  auto start = std::chrono::steady_clock::now();
  uint64_t first_step = trainer.step();
  trainer.run([&](const StepMetrics& m) {
    if (quiet) return;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double per_step = elapsed / static_cast<double>(m.step - first_step);
    double eta = per_step * static_cast<double>(trainer.total_steps() - m.step);
    // MFU by RECIPE.md section 5 (6N + 6LTd per token); "unknown" on a GPU without a peak.
    std::string mfu = m.mfu    ? fmt::format("  MFU {:.1f}%", 100 * *m.mfu)
                      : on_gpu ? "  MFU unknown"
                               : "";
    std::string memory =
        m.peak_memory_gib > 0 ? fmt::format("  mem {:.1f} GiB", m.peak_memory_gib) : "";
    std::fprintf(stderr, "step %llu/%llu  loss %.4f  lr %.2e  |g| %.3f  %s tok/s%s%s  ETA %s\n",
                 static_cast<unsigned long long>(m.step),
                 static_cast<unsigned long long>(trainer.total_steps()), m.loss, m.lr, m.grad_norm,
                 format_count(static_cast<uint64_t>(m.tokens_per_second)).c_str(), mfu.c_str(),
                 memory.c_str(), format_duration(eta).c_str());
    if (!m.domain_loss.is_null() && !m.domain_loss.empty()) {
      std::string text;
      for (const auto& [domain, v] : m.domain_loss.items())
        text += fmt::format("  {} {:.4f}", domain, v["loss"].get<double>());
      std::fprintf(stderr, "  loss by domain:%s\n", text.c_str());
    }
  });
  if (info.rank != 0) return trainer.done() ? 0 : 130;
  if (!trainer.done()) {
    std::printf("%s: stopped at step %llu of %llu; continue with --resume %s\n", c.out.c_str(),
                static_cast<unsigned long long>(trainer.step()),
                static_cast<unsigned long long>(trainer.total_steps()), c.out.c_str());
    return 130;
  }
  std::printf("%s: %llu steps, %s tokens; model in %s\n", c.out.c_str(),
              static_cast<unsigned long long>(trainer.step()),
              format_count(trainer.step() * trainer.rows_per_step() * c.seq_len).c_str(),
              (fs::path(c.out) / "model").c_str());
  return 0;
}

int run_train(const TrainFlags& flags) {
  TrainConfig config = resolve(flags);
  RankInfo info = rank_info_from_environment();
  if (flags.nproc_per_node > 1 && !launched_as_rank()) {
    // The parent: checks once, then starts the ranks, which run this command line again.
    check_tokenizer(config);
    const int gpus = static_cast<int>(torch::cuda::device_count());
    if (parse_device(config.device).is_cuda() && flags.nproc_per_node > gpus)
      throw Error(fmt::format("--nproc-per-node {}: this machine has {} GPU(s)",
                              flags.nproc_per_node, gpus),
                  "start one rank per GPU");
    std::fprintf(stderr, "longctx train: starting %d data-parallel ranks on this machine\n",
                 flags.nproc_per_node);
    return launch_local_ranks(flags.nproc_per_node);
  }
  if (info.rank == 0) check_tokenizer(config);
  try {
    return run_rank(flags, config, info);
  } catch (const Error& e) {
    if (info.world_size == 1) throw;
    throw Error(fmt::format("rank {}: {}", info.rank, e.what()), e.hint());
  }
}

}  // namespace

CommandRun add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* command = app.add_subcommand(
      "train",
      "Continue pretraining a LLaMA checkpoint at long context on a `longctx mix` dataset.\n"
      "Defaults are the paper's: constant LR 2e-5, 4M-token batches, 5B tokens, AdamW\n"
      "(0.9, 0.999, 1e-8), no weight decay. Writes RUN/config.json, RUN/metrics.jsonl (one\n"
      "JSON object per step), RUN/checkpoints/step-N and the final model in RUN/model.");
  command->add_option("--config", flags->config_file,
                      "JSON file of settings (same names as the flags, with _); flags win");
  command->add_option("--resume", flags->resume,
                      "Continue the run in this directory from its newest checkpoint");
  command->add_flag("--quiet,-q", flags->quiet, "No per-step lines on stderr");
  command
      ->add_option("--nproc-per-node", flags->nproc_per_node,
                   "Data parallelism on this machine: start N ranks, one per GPU (cuda:0..N-1), "
                   "each training on 1/N of every step's rows. Over several machines, start "
                   "each rank under torchrun --no-python or srun instead (docs/cluster.md)")
      ->check(CLI::Range(1, 4096))
      ->default_str("1");
  nlohmann::json defaults = TrainConfig{}.to_json();
  for (const TrainConfig::Setting& s : TrainConfig::settings()) {
    std::string name(s.name);
    if (name == "shuffle") {
      command->add_flag("--no-shuffle", flags->no_shuffle, "Train rows in dataset order");
      continue;
    }
    if (name == "offload_optimizer") {
      command->add_flag("--offload-optimizer", flags->offload, std::string(s.help));
      continue;
    }
    if (name == "document_mask") {
      command->add_flag("--document-mask", flags->document_mask, std::string(s.help));
      continue;
    }
    std::string flag = "--" + flag_name(name);
    if (name == "out") flag += ",-o";
    CLI::Option* option = command->add_option_function<std::string>(
        flag, [flags, name](const std::string& v) { flags->values[name] = v; },
        std::string(s.help));
    const nlohmann::json& d = defaults[name];
    if (!d.is_null() && !(d.is_string() && d.get<std::string>().empty()))
      option->default_str(d.is_string() ? d.get<std::string>() : d.dump());
  }
  return [flags] { return run_train(*flags); };
}

}  // namespace longctx
