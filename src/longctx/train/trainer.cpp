#include "longctx/train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/model/checkpoint.h"
#include "longctx/model/train_ops.h"
#include "longctx/runtime/cuda_allocator.h"
#include "longctx/runtime/device.h"
#include "longctx/train/adamw.h"
#include "longctx/train/plan.h"
#include "longctx/train/sharded_adamw.h"
#include "longctx/dataset/training_data.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Recompute parse_recompute(std::string_view name) {
  if (name == "none") return Recompute::kNone;
  if (name == "full") return Recompute::kLayer;
  if (name == "full-keep-attention") return Recompute::kLayerKeepAttention;
  if (name == "attention") return Recompute::kAttention;
  return Recompute::kMlp;
}

// Chooses --recompute when it is "auto" and refuses a configuration the plan says will not
// fit. Returns the row of the chosen option.
PlanRow check_plan(TrainConfig& c, const PlanInput& input, uint64_t budget,
                   const std::function<void(const std::string&)>& note) {
  std::vector<PlanRow> rows = plan_training(input);
  auto find = [&](std::string_view mode, bool offload) -> const PlanRow& {
    for (const PlanRow& r : rows)
      if (r.recompute == mode && r.offload == offload) return r;
    throw Error(fmt::format("no plan row for --recompute {}", mode));
  };
  if (budget == 0) {  // CPU: no memory check
    if (c.recompute == "auto") c.recompute = "none";
    return find(c.recompute, c.offload_optimizer);
  }
  std::optional<PlanRow> fastest = auto_recompute(input, budget, c.offload_optimizer);
  std::string budget_text = fmt::format("{:.1f} GiB", static_cast<double>(budget) / kGiB);
  auto options = [](const PlanRow& r) {
    std::string text = "--recompute " + r.recompute;
    if (r.recompute_layers != "all")
      text += fmt::format(" --recompute-layers {} --recompute-rest {}", r.recompute_layers,
                          r.recompute_rest);
    return text;
  };
  if (c.recompute == "auto") {
    if (!fastest) {
      std::optional<PlanRow> offloaded;
      if (!c.offload_optimizer) offloaded = auto_recompute(input, budget, true);
      throw DoesNotFit(
          fmt::format("no --recompute option fits {} at --seq-len {} with --micro-batch {}",
                      budget_text, c.seq_len, c.micro_batch),
          offloaded ? fmt::format("add --offload-optimizer (then {} fits: {:.1f} GiB)",
                                  options(*offloaded), static_cast<double>(offloaded->total) / kGiB)
                    : "use a shorter --seq-len or a GPU with more memory (see `longctx plan`)");
    }
    c.recompute = fastest->recompute;
    c.recompute_layers = fastest->recompute_layers;
    c.recompute_rest = fastest->recompute_rest;
    note(fmt::format("memory plan: {} (predicted peak {:.1f} GiB of {})", options(*fastest),
                     static_cast<double>(fastest->total) / kGiB, budget_text));
    return *fastest;
  }
  const PlanRow& chosen = find(c.recompute, c.offload_optimizer);
  if (chosen.total > budget) {
    std::string hint = fastest
                           ? fmt::format("{} fits ({:.1f} GiB)", options(*fastest),
                                         static_cast<double>(fastest->total) / kGiB)
                           : "add --offload-optimizer or shorten --seq-len (see `longctx plan`)";
    throw DoesNotFit(
        fmt::format("{} needs about {:.1f} GiB at --seq-len {}; the budget is {}", options(chosen),
                    static_cast<double>(chosen.total) / kGiB, c.seq_len, budget_text),
        hint);
  }
  return chosen;
}

// The files beside the weights that make a model directory complete for other tools
// (tokenizer, generation defaults): copied from the model the run started from.
void copy_model_files(const fs::path& from, const fs::path& to) {
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                           "special_tokens_map.json", "generation_config.json"}) {
    if (fs::exists(from / name))
      fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
  }
}

}  // namespace

struct Trainer::State {
  TrainConfig config;
  TrainerOptions options;
  fs::path run;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat;
  torch::ScalarType save_dtype = torch::kBFloat16;
  std::optional<TrainingData> data;
  std::optional<DataOrder> order;
  LlamaForCausalLM model{nullptr};
  std::unique_ptr<TrainingOptimizer> optimizer;
  TrainForwardOptions forward;
  std::optional<DomainLoss> domain_loss;
  std::unique_ptr<AppendFile> metrics;
  uint64_t step = 0, rows_consumed = 0, tokens = 0;
  uint64_t total_steps = 0, rows_per_step = 0;
  // Data parallelism: this process's rank of `world`, each running rows_per_rank of a step.
  std::shared_ptr<ProcessGroup> group;
  int rank = 0, world = 1;
  uint64_t rows_per_rank = 0;
  bool sharded = false;  // ZeRO-2 (sharded_adamw.h): each rank 1/world of the optimizer state
  PlanRow plan;           // the memory plan's row this run follows
  double peak_flops = 0;  // one GPU's dense bf16 peak for MFU; 0: unknown
  std::vector<int32_t> rows_buffer;

  bool writes_files() const { return rank == 0; }
  void barrier() const {
    if (group) group->barrier();
  }
  double all_ranks(double value, Reduce op) const {
    double v[1] = {value};
    if (group) group->all_reduce(v, op);
    return v[0];
  }

  void note(const std::string& text) const {
    if (rank != 0) return;
    if (options.note) {
      options.note(text);
    } else {
      std::fprintf(stderr, "longctx train: %s\n", text.c_str());
    }
  }
};

Trainer::Trainer(TrainConfig config, TrainerOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  config.validate();
  s.options = std::move(options);
  s.run = config.out;
  s.group = s.options.group;
  if (s.group) {
    s.rank = s.group->rank();
    s.world = s.group->size();
  }
  s.device = parse_device(config.device);
  if (s.group) s.device = rank_device(s.device, s.group->info());  // one GPU a rank
  s.dtype = config.dtype == "auto" ? default_dtype(s.device) : parse_torch_dtype(config.dtype);
  s.sharded = s.world > 1 && config.shard_optimizer != "off";

  // The run directory: a new run refuses to overwrite one; a resumed run needs a checkpoint.
  fs::path latest = s.run / "checkpoints" / "latest";
  fs::path checkpoint;
  if (s.options.resume) {
    if (!fs::exists(latest)) {
      throw Error(fmt::format("{} has no checkpoint to resume from ({} is missing)", s.run.string(),
                              latest.string()),
                  "start the run without --resume");
    }
    std::string name = read_file(latest);
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    checkpoint = s.run / "checkpoints" / name;
  } else if (fs::exists(latest)) {
    throw Error(
        fmt::format("{} already holds a training run", s.run.string()),
        fmt::format("continue it with --resume {}, or choose another --out", s.run.string()));
  }
  fs::create_directories(s.run / "checkpoints");

  // Data: rows, their order and what they are made of.
  s.data = TrainingData::open(config.data, config.seq_len);
  config.seq_len = s.data->seq_len();
  s.order.emplace(s.data->rows(), config.seed, config.shuffle ? Shuffle::kRows : Shuffle::kNone);
  s.domain_loss.emplace(s.data->domains());

  // The model's config, with the recipe's change: the RoPE base.
  ModelConfig original = load_model_config(config.model);
  if (s.data->vocab_size() > static_cast<uint64_t>(original.vocab_size)) {
    throw Error(fmt::format("the dataset's tokenizer has {} ids; the model's vocabulary has {}",
                            s.data->vocab_size(), original.vocab_size),
                "tokenize the data with the model's tokenizer (longctx mix --tokenizer)");
  }
  ModelConfig trained = original;
  if (config.rope_theta) trained.rope.theta = *config.rope_theta;
  std::optional<int64_t> max_positions;
  if (trained.rope.type == RopeType::kDefault && config.seq_len > trained.max_position_embeddings)
    max_positions = config.seq_len;  // informational for plain RoPE; records the new context
  {
    RopeCoverage coverage = rope_coverage(trained.rope, {}, original.rope.theta,
                                          original.rope.pretraining_context_tokens());
    if (coverage.covered_context_tokens && *coverage.covered_context_tokens < config.seq_len) {
      s.note(fmt::format(
          "warning: --seq-len {} is longer than this RoPE covers (about {:.0f} tokens at base "
          "{:g}; see `longctx rope`); a larger --rope-theta covers more",
          config.seq_len, *coverage.covered_context_tokens, trained.rope.theta));
    }
  }

  // Steps and batches.
  const uint64_t rows = longctx::rows_per_step(config.batch_tokens, config.seq_len,
                                               config.micro_batch, static_cast<uint64_t>(s.world));
  s.rows_per_step = rows;
  s.rows_per_rank = rows / static_cast<uint64_t>(s.world);
  uint64_t step_tokens = rows * config.seq_len;
  s.total_steps =
      config.steps != 0 ? config.steps : (config.tokens + step_tokens - 1) / step_tokens;

  // Memory: the plan chooses --recompute auto and refuses what will not fit.
  // The budget: --gpu-memory-gib, else what the device has free before the run allocates
  // anything (its total less the CUDA context and other processes).
  // The ranks plan alike, for the GPU with the least free memory.
  const uint64_t free = static_cast<uint64_t>(
      s.all_ranks(static_cast<double>(free_memory_bytes(s.device)), Reduce::kMin));
  // Training attention through cuDNN (libtorch 2.5+ passes q, k, v straight to sdpa): its
  // output comes laid out by token, and full-keep-attention can keep it.
  const bool cudnn_attention = s.device.is_cuda() && s.dtype != torch::kFloat &&
                               !config.document_mask && attention_keeping_built();
  uint64_t budget =
      config.gpu_memory_gib > 0 ? static_cast<uint64_t>(config.gpu_memory_gib * kGiB) : free;
  PlanInput plan{
      .config = trained,
      .seq_len = config.seq_len,
      .micro_batch = config.micro_batch,
      .rows_per_step = s.rows_per_rank,
      .compute_bytes = s.dtype == torch::kFloat ? 4 : 2,
      .loss_chunk = config.loss_chunk,
      .mlp_chunk = config.mlp_chunk,
      .recompute_layers = parse_layer_set(config.recompute_layers, trained.num_hidden_layers),
      .recompute_rest = config.recompute_rest,
      .fused_swiglu = s.device.is_cuda() && fused_kernels_enabled(),
      .attention_output_by_token = cudnn_attention,
      // Where offloaded gradient sums may go: never past what is free, whatever
      // --gpu-memory-gib.
      .budget_bytes = s.device.is_cuda() ? std::min(budget, free) : 0,
      .ranks = static_cast<uint32_t>(s.world),
      .shard_optimizer = s.sharded};
  if (s.device.is_cuda() && !plan.fused_swiglu) {
    s.note(fused_kernels_built()
               ? "fused RoPE/SwiGLU kernels off (LONGCTX_FUSED_KERNELS=0): plain libtorch ops"
               : "this build has no fused RoPE/SwiGLU kernels (no CUDA compiler at build time): "
                 "plain libtorch ops, about 4% slower and one [T, F] tensor more per layer");
  }
  PlanRow row = check_plan(config, plan, budget, [&](const std::string& t) { s.note(t); });
  s.peak_flops = config.peak_tflops ? *config.peak_tflops * 1e12 : peak_flops(s.device);
  if (s.peak_flops > 0)
    s.note(fmt::format(
        "MFU: 6N + 6LTd FLOPs per token (RECIPE.md section 5) over {:g} TFLOP/s "
        "({})",
        s.peak_flops / 1e12, config.peak_tflops ? "--peak-tflops" : device_name(s.device)));
  else if (s.device.is_cuda())
    s.note(fmt::format("MFU unknown: no dense bf16 peak is known for {} (give --peak-tflops)",
                       device_name(s.device)));
  s.plan = row;
  Recompute mode = parse_recompute(config.recompute);
  Recompute rest = parse_recompute(config.recompute_rest);
  if ((mode == Recompute::kLayerKeepAttention || rest == Recompute::kLayerKeepAttention) &&
      !cudnn_attention)
    s.note(
        "--recompute full-keep-attention: attention runs again here, as with full (it keeps "
        "cuDNN attention's output, which needs CUDA, bfloat16 or float16 compute, libtorch "
        "2.5+ and no --document-mask)");
  for (bool on : parse_layer_set(config.recompute_layers, trained.num_hidden_layers))
    s.forward.recompute.push_back(on ? mode : rest);
  s.forward.mlp_chunk_tokens = config.mlp_chunk;

  // The model, on its device in the compute dtype, projections unfused (they are trained).
  s.model = load_model(s.options.resume ? checkpoint : fs::path(config.model),
                       {.device = s.device,
                        .dtype = s.dtype,
                        .fuse_projections = false,
                        .rope_theta = config.rope_theta,
                        .max_position_embeddings = max_positions});
  s.model->train();
  if (s.device.is_cuda() && !expandable_segments_enabled())
    s.note(
        "the CUDA allocator runs without expandable segments (PYTORCH_ALLOC_CONF or "
        "PYTORCH_CUDA_ALLOC_CONF says so): long rows can run out of memory below the plan's "
        "peak, as freed blocks fragment");
  s.save_dtype = config.save_dtype != "auto" ? parse_torch_dtype(config.save_dtype)
                 : original.torch_dtype      ? parse_torch_dtype(*original.torch_dtype)
                                             : torch::kBFloat16;
  AdamWOptions adamw{.beta1 = config.adam_beta1,
                     .beta2 = config.adam_beta2,
                     .eps = config.adam_eps,
                     .weight_decay = config.weight_decay,
                     .offload = config.offload_optimizer,
                     .gpu_sum_bytes = row.gpu_sums,
                     .group = s.group.get()};
  if (s.sharded) {
    s.optimizer = std::make_unique<ShardedAdamW>(s.model->named_parameters(), adamw);
  } else {
    s.optimizer = std::make_unique<MasterAdamW>(s.model->named_parameters(), adamw);
  }
  if (row.gpu_sums > 0)
    s.note(
        fmt::format("offload: {:.1f} GiB of float32 gradient sums on the GPU, so those "
                    "gradients go down once a step instead of once a micro-batch",
                    static_cast<double>(row.gpu_sums) / kGiB));

  uint64_t metrics_bytes = 0;
  if (s.options.resume) {
    s.optimizer->load(checkpoint / "optimizer.safetensors");
    nlohmann::json state;
    try {
      state = nlohmann::json::parse(read_file(checkpoint / "trainer_state.json"));
      s.step = state.at("step").get<uint64_t>();
      s.rows_consumed = state.at("rows_consumed").get<uint64_t>();
      s.tokens = state.at("tokens").get<uint64_t>();
      metrics_bytes = state.at("metrics_bytes").get<uint64_t>();
      int saved_world = state.value("world_size", 1);
      if (saved_world != s.world)
        s.note(fmt::format("the run had {} rank(s), now {}: {} rows a step", saved_world, s.world,
                           s.rows_per_step));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: {}", (checkpoint / "trainer_state.json").string(), e.what()));
    }
    if (static_cast<int64_t>(s.step) != s.optimizer->steps()) {
      throw Error(fmt::format("{}: trainer state says step {}, the optimizer state {}",
                              checkpoint.string(), s.step, s.optimizer->steps()));
    }
    s.note(fmt::format("resuming {} at step {} ({} tokens trained)", s.run.string(), s.step,
                       s.tokens));
  }
  s.config = std::move(config);
  // Also the point past which rank 0 writes: every rank has checked the run directory.
  if (s.group)
    s.group->check_same(std::hash<std::string>{}(s.config.to_json().dump()),
                        "their settings (config files, flags or the resumed run)");
  if (s.writes_files()) {
    s.metrics = std::make_unique<AppendFile>(s.run / "metrics.jsonl", metrics_bytes);
    write_file_atomic(s.run / "config.json", s.config.to_json().dump(2) + "\n");
  }
  if (s.world > 1) {
    s.note(
        fmt::format("data parallel: {} ranks, {} row{} each a step, optimizer state {}", s.world,
                    s.rows_per_rank, s.rows_per_rank == 1 ? "" : "s",
                    s.sharded ? fmt::format("sharded (1/{} a rank)", s.world) : "on every rank"));
  }
}

Trainer::~Trainer() = default;

const TrainConfig& Trainer::config() const {
  return state_->config;
}
const PlanRow& Trainer::plan() const {
  return state_->plan;
}
uint64_t Trainer::step() const {
  return state_->step;
}
uint64_t Trainer::total_steps() const {
  return state_->total_steps;
}
uint64_t Trainer::rows_per_step() const {
  return state_->rows_per_step;
}

StepMetrics Trainer::train_step() {
  State& s = *state_;
  const TrainConfig& c = s.config;
  const int64_t t = c.seq_len, b = c.micro_batch;
  auto start = std::chrono::steady_clock::now();
  reset_peak_memory(s.device);
  double lr = learning_rate(c, s.step, s.total_steps);
  // Global-token normalisation: every target of the step counts once, whatever micro-batch
  // it falls in, so accumulation gives the gradient of one big batch.
  const double step_targets = static_cast<double>(s.rows_per_step) * static_cast<double>(t - 1);
  torch::Tensor head = s.model->lm_head->weight;

  double loss_sum = 0;
  s.rows_buffer.resize(static_cast<size_t>(b * t));
  // This rank's rows: a contiguous share of the step's, rank r from r * rows_per_rank.
  const uint64_t first_row = s.rows_consumed + static_cast<uint64_t>(s.rank) * s.rows_per_rank;
  for (uint64_t micro = 0; micro < s.rows_per_rank / static_cast<uint64_t>(b); ++micro) {
    std::vector<uint64_t> rows;
    for (int64_t i = 0; i < b; ++i) {
      uint64_t row =
          s.order->row_at(first_row + micro * static_cast<uint64_t>(b) + static_cast<uint64_t>(i));
      rows.push_back(row);
      s.data->read_row(row, std::span<int32_t>(s.rows_buffer)
                                .subspan(static_cast<size_t>(i * t), static_cast<size_t>(t)));
    }
    torch::Tensor ids = torch::from_blob(s.rows_buffer.data(), {b, t}, torch::kInt)
                            .to(torch::kLong)
                            .to(s.device);  // [B, T]
    TrainForwardOptions forward = s.forward;
    if (c.document_mask) forward.document_bounds = s.data->document_bounds(rows.front());
    torch::Tensor hidden = s.model->forward_train(ids, forward);  // [B, T, d]
    torch::Tensor inputs = hidden.narrow(1, 0, t - 1).reshape({b * (t - 1), hidden.size(2)});
    torch::Tensor targets = ids.narrow(1, 1, t - 1).reshape({b * (t - 1)});
    torch::Tensor losses = lm_head_loss(inputs, head, targets, c.loss_chunk);  // [B*(T-1)]
    (losses.sum() / step_targets).backward();
    s.optimizer->accumulate();

    torch::Tensor cpu = losses.detach().to(torch::kCPU).contiguous();
    std::span<const float> values(cpu.data_ptr<float>(), static_cast<size_t>(cpu.numel()));
    for (float v : values) loss_sum += v;
    for (int64_t i = 0; i < b; ++i) {
      std::vector<RowSpan> spans = s.data->spans(rows[static_cast<size_t>(i)]);
      s.domain_loss->add(
          spans, values.subspan(static_cast<size_t>(i * (t - 1)), static_cast<size_t>(t - 1)));
    }
  }
  if (s.group) {
    s.optimizer->reduce_gradients();
    loss_sum = s.all_ranks(loss_sum, Reduce::kSum);
  }
  double loss = loss_sum / step_targets;
  auto refuse = [&](std::string_view what, double value) {
    s.optimizer->zero_grad();
    return Error(fmt::format("step {}: the {} is {} (not finite); the weights were not updated",
                             s.step + 1, what, value),
                 "the newest checkpoint in checkpoints/ is the last good state: --resume with a "
                 "lower --lr or --grad-clip, or check the data");
  };
  if (!std::isfinite(loss)) throw refuse("loss", loss);
  double norm = s.optimizer->clip_grad_norm(c.grad_clip);
  if (!std::isfinite(norm)) throw refuse("gradient norm", norm);
  s.optimizer->step(lr);
  synchronize(s.device);

  s.step += 1;
  s.rows_consumed += s.rows_per_step;
  uint64_t step_tokens = s.rows_per_step * static_cast<uint64_t>(t);
  s.tokens += step_tokens;
  StepMetrics m;
  m.step = s.step;
  m.tokens = s.tokens;
  m.loss = loss;
  m.lr = lr;
  m.grad_norm = norm;
  m.step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.tokens_per_second = static_cast<double>(step_tokens) / m.step_seconds;
  // Per GPU: the step's tokens over every rank's GPU; the peak of the fullest.
  if (s.peak_flops > 0) {
    m.peak_tflops = s.peak_flops / 1e12;
    m.mfu = m.tokens_per_second * s.plan.model_flops_per_token / (s.peak_flops * s.world);
  }
  m.peak_memory_gib =
      s.all_ranks(static_cast<double>(peak_memory_bytes(s.device)), Reduce::kMax) / kGiB;
  nlohmann::json line = {
      {"step", m.step},
      {"tokens", m.tokens},
      {"loss", m.loss},
      {"lr", m.lr},
      {"grad_norm", m.grad_norm},
      {"step_time_s", m.step_seconds},
      {"tokens_per_s", m.tokens_per_second},
      {"mfu", m.mfu ? nlohmann::json(*m.mfu) : nlohmann::json(nullptr)},
      {"mfu_convention", "6N+6LTd"},
      {"peak_tflops", m.peak_tflops ? nlohmann::json(*m.peak_tflops) : nlohmann::json(nullptr)},
      {"memory_peak_gib", m.peak_memory_gib}};
  if (c.eval_every != 0 && s.step % c.eval_every == 0) {
    if (s.group) {
      std::vector<double> totals = s.domain_loss->totals();
      s.group->all_reduce(totals, Reduce::kSum);
      s.domain_loss->set_totals(totals);
    }
    m.domain_loss = nlohmann::json::object();
    for (const DomainLoss::Entry& e : s.domain_loss->entries()) {
      m.domain_loss[e.domain] = {{"loss", e.mean()}, {"tokens", e.tokens}};
    }
    s.domain_loss->reset();
    line["domain_loss"] = m.domain_loss;
  }
  if (s.metrics) {
    std::string text = line.dump() + "\n";
    s.metrics->append(text.data(), text.size());
    s.metrics->flush();
  }
  return m;
}

fs::path Trainer::save_checkpoint() {
  State& s = *state_;
  std::string name = fmt::format("step-{:06}", s.step);
  fs::path dir = s.run / "checkpoints" / name;
  if (!s.writes_files()) {
    s.optimizer->save(dir);  // sharded: this rank's part of the gather; rank 0 writes
    s.barrier();             // every rank holds rank 0's weights: rank 0 writes them
    return dir;
  }
  fs::path temp = s.run / "checkpoints" / (".tmp-" + name);
  fs::remove_all(temp);
  longctx::save_model(s.model, temp, s.save_dtype);
  copy_model_files(s.config.model, temp);
  s.optimizer->save(temp / "optimizer.safetensors");
  uint64_t metrics_bytes = s.metrics->sync();
  nlohmann::json state = {{"format", "longctx-train-state"},
                          {"version", 1},
                          {"step", s.step},
                          {"total_steps", s.total_steps},
                          {"rows_consumed", s.rows_consumed},
                          {"tokens", s.tokens},
                          {"metrics_bytes", metrics_bytes},
                          {"world_size", s.world},
                          {"sharded_optimizer", s.sharded},
                          {"config", s.config.to_json()}};
  write_file_atomic(temp / "trainer_state.json", state.dump(2) + "\n");
  fs::remove_all(dir);
  fs::rename(temp, dir);
  write_file_atomic(s.run / "checkpoints" / "latest", name + "\n");

  // Keep the newest --keep-checkpoints step directories.
  if (s.config.keep_checkpoints > 0) {
    std::vector<fs::path> steps;
    for (const auto& entry : fs::directory_iterator(s.run / "checkpoints"))
      if (entry.is_directory() && entry.path().filename().string().starts_with("step-"))
        steps.push_back(entry.path());
    std::sort(steps.begin(), steps.end());
    while (steps.size() > s.config.keep_checkpoints) {
      fs::remove_all(steps.front());
      steps.erase(steps.begin());
    }
  }
  s.barrier();
  return dir;
}

void Trainer::save_model(const std::optional<fs::path>& dir) {
  State& s = *state_;
  fs::path target = dir.value_or(s.run / "model");
  if (s.writes_files()) {
    fs::path temp = target.parent_path() / (".tmp-" + target.filename().string());
    fs::remove_all(temp);
    longctx::save_model(s.model, temp, s.save_dtype);
    copy_model_files(s.config.model, temp);
    fs::remove_all(target);
    fs::rename(temp, target);
  }
  s.barrier();
}

void Trainer::run(const std::function<void(const StepMetrics&)>& on_step) {
  State& s = *state_;
  while (!done()) {
    StepMetrics m = train_step();
    if (on_step) on_step(m);
    // A signal reaches one rank or all: every rank stops at the same step.
    bool stop = s.options.stop_requested && s.options.stop_requested();
    if (s.all_ranks(stop ? 1.0 : 0.0, Reduce::kMax) > 0) {
      save_checkpoint();
      s.note(fmt::format("stopped at step {}; continue with --resume {}", s.step, s.run.string()));
      return;
    }
    if (s.config.save_every != 0 && s.step % s.config.save_every == 0 && !done()) save_checkpoint();
  }
  save_checkpoint();
  save_model();
}

}  // namespace longctx
