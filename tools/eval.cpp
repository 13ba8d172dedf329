// longctx eval: the paper's evidence besides the needle test (issue 24, RECIPE.md section 4):
// next-token loss by domain and context position (Table 5, Figures 3-4), MMLU (Table 3) and
// book QA (InfiniteBench En.QA, Table 4).
//
//   longctx eval loss --model run/model --data val-mix --out loss-ours --baseline orig/loss.json
//   longctx eval mmlu --model run/model --data mmlu/data --out mmlu-ours
//   longctx eval bookqa --endpoint http://localhost:8000 --tokenizer Llama-2-7b-hf
//       --data longbook_qa_eng.jsonl --out bookqa-served
//
// The logic lives in src/longctx/eval/ (loss.h, mmlu.h, bookqa.h and their backends); each
// function here is the list of phases.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "endpoint_flags.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/tokenizer/tokenizer.h"
#include "longctx/eval/bookqa.h"
#include "longctx/eval/endpoint_backend.h"
#include "longctx/report/loss_report.h"
#include "longctx/eval/mmlu_data.h"
#include "longctx/report/mmlu_table.h"
#include "longctx/eval/native/native_backend.h"
#include "longctx/eval/results_dir.h"
#include "longctx/eval/native/token_losses.h"
#include "longctx/tokenizer/fingerprint.h"
#include "longctx/model/checkpoint.h"
#include "model_flags.h"

namespace longctx {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void report_skipped(const char* command, const SkippedRecords& skipped) {
  if (skipped.total() > 0)
    std::fprintf(stderr, "longctx eval %s: %s\n", command, skipped.describe().c_str());
}

// ---- eval loss ----

struct LossFlags {
  ModelFlags model;
  std::string data, out, baseline, title;
  uint32_t seq_len = 0;
  std::string buckets = "0,4096,131072", position = "row", loss_at = "1K,16K,32K,64K,128K";
  int curve_bins = 4, bootstrap = 1000;
  uint64_t seed = 0, rows = 0;
  int64_t batch_rows = 1, chunk_tokens = 0;
  bool save_token_losses = false, quiet = false;
};

LossSettings loss_settings_from(const LossFlags& f) {
  LossSettings s;
  s.bucket_bounds_tokens = parse_token_list(f.buckets, "--buckets");
  s.position = parse_loss_position(f.position);
  s.loss_at_tokens = parse_token_list(f.loss_at, "--loss-at");
  s.curve_bins_per_octave = f.curve_bins;
  s.bootstrap_samples = f.bootstrap;
  s.seed = f.seed;
  s.validate();
  return s;
}

// The model's tokenizer must be the dataset's, when both are known.
void check_same_tokenizer(const TrainingData& data, const std::string& model_dir) {
  if (data.tokenizer_fingerprint().empty() || !fs::exists(model_dir)) return;
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = load_tokenizer(model_dir);
  } catch (const Error&) {
    return;  // a model directory without tokenizer files: nothing to compare
  }
  if (tokenizer_fingerprint(*tokenizer) != data.tokenizer_fingerprint())
    throw Error(fmt::format("the dataset was tokenized with {}, not the model's tokenizer ({})",
                            data.tokenizer(), tokenizer->description()),
                "evaluate on a dataset mixed with the model's tokenizer");
}

int run_loss(const LossFlags& f) {
  // Settings, dataset, baseline, model.
  LossSettings settings = loss_settings_from(f);
  TrainingData data = TrainingData::open(f.data, f.seq_len);
  check_same_tokenizer(data, f.model.model);
  std::optional<LossResult> baseline;
  if (!f.baseline.empty())
    baseline =
        parse_loss_json(nlohmann::json::parse(read_file(f.baseline), nullptr, false), f.baseline);
  LoadOptions load = f.model.load_options();
  LlamaForCausalLM model = load_model(f.model.model, load);
  fs::create_directories(f.out);

  // Every row through the model, its losses counted (and saved with --save-token-losses).
  std::unique_ptr<AppendFile> saved;
  fs::path saved_path = fs::path(f.out) / "token_losses.f32";
  if (f.save_token_losses)
    saved = std::make_unique<AppendFile>(saved_path.string() + ".partial", 0);
  auto started = Clock::now();
  LossEvalOptions options{.settings = settings,
                          .max_rows = f.rows,
                          .batch_rows = f.batch_rows,
                          .losses = {.chunk_tokens = f.chunk_tokens}};
  bool show_progress = !f.quiet && isatty(STDERR_FILENO) != 0;
  options.progress = [&](uint64_t done, uint64_t total) {
    if (!show_progress) return;
    double s = seconds_since(started);
    std::fprintf(stderr, "\reval loss: %llu / %llu rows, %.0f tokens/s", (unsigned long long)done,
                 (unsigned long long)total, static_cast<double>(done * data.seq_len()) / s);
  };
  if (saved)
    options.row_losses = [&](uint64_t, std::span<const float> losses) {
      saved->append(losses.data(), losses.size() * sizeof(float));
    };
  LossResult result = evaluate_loss(model, data, options);
  double seconds = seconds_since(started);
  if (show_progress) std::fprintf(stderr, "\n");
  if (saved) saved->commit(saved_path);

  // The report: tables, loss.svg, then loss.json (last, so its presence means a whole run).
  std::optional<LossComparison> comparison;
  if (baseline) comparison = compare_losses(result, *baseline, f.baseline);
  const LossComparison* cmp = comparison ? &*comparison : nullptr;
  std::string title = !f.title.empty() ? f.title : fs::path(f.model.model).filename().string();
  write_file_atomic(fs::path(f.out) / "loss.svg",
                    loss_svg(result, baseline ? &*baseline : nullptr, cmp, title));
  nlohmann::json json = loss_result_json(result, cmp);
  json["model"] = f.model.model;
  json["data"] = f.data;
  json["seconds"] = seconds;
  write_file_atomic(fs::path(f.out) / "loss.json", json.dump(2) + "\n");
  std::printf("%s", loss_tables_text(result, cmp, isatty(STDOUT_FILENO) != 0).c_str());
  std::printf("%s: %llu rows of %u tokens in %.1f s (%.0f tokens/s)\n", f.out.c_str(),
              (unsigned long long)result.rows, result.seq_len, seconds,
              static_cast<double>(result.rows * result.seq_len) / seconds);
  return 0;
}

// ---- eval mmlu ----

struct MmluFlags {
  BackendFlags backend;
  std::string data, out, subjects, dump_requests;
  int shots = 5;
  int64_t limit = 0, batch_rows = 8, chunk_tokens = 0;
  bool quiet = false;
};

// --dump-requests: every question's ids (context, the four continuations) and its group (one
// per subject: the requests a backend gets in one call), one JSON line each, for
// bench/eval_throughput.cpp and bench/mmlu_hf.py on a machine without the data libraries.
class RequestDump : public LoglikelihoodBackend {
 public:
  explicit RequestDump(std::string& text) : text_(text) {}
  void score(std::span<const LoglikelihoodRequest> requests,
             const LoglikelihoodDone& done) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      nlohmann::json line = {{"group", group_},
                             {"context", requests[i].context},
                             {"continuations", requests[i].continuations}};
      text_ += line.dump() + "\n";
      done(i, {.loglikelihoods = {0, 0, 0, 0}, .error = ""});
    }
    ++group_;
  }

 private:
  std::string& text_;
  int64_t group_ = 0;
};

int run_mmlu_command(const MmluFlags& f) {
  // Settings, data, tokenizer.
  MmluSettings settings{.shots = f.shots, .subjects = {}, .limit = f.limit};
  if (!f.subjects.empty()) settings.subjects = split(f.subjects, ',');
  settings.validate();
  if (f.dump_requests.empty()) f.backend.validate();
  MmluData data = read_mmlu(f.data);
  report_skipped("mmlu", data.skipped);
  std::string tokenizer_source = f.backend.tokenizer_source();
  if (tokenizer_source.empty()) throw Error("eval mmlu needs --model or --tokenizer");
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(tokenizer_source);
  if (!f.dump_requests.empty()) {
    std::string text;
    RequestDump dump(text);
    run_mmlu(data.splits, *tokenizer, settings, dump, {}, [](const MmluResult&) {});
    write_file_atomic(f.dump_requests, text);
    std::printf("%s: requests written\n", f.dump_requests.c_str());
    return 0;
  }

  // The run directory: settings, results so far.
  nlohmann::json resolved = {
      {"task", "mmlu"},
      {"data", f.data},
      {"shots", settings.shots},
      {"subjects", settings.subjects},
      {"limit", settings.limit},
      {"backend", f.backend.native() ? "native" : "endpoint"},
      {"model", f.backend.native() ? f.backend.model.model : f.backend.api_model},
      {"tokenizer", tokenizer->description()}};
  ResultsDir out(f.out, resolved);
  std::set<std::pair<std::string, int64_t>> done;
  for (const MmluResult& r : out.parsed(parse_mmlu_result))
    if (r.error.empty()) done.insert({r.subject, r.index});  // failed questions run again

  // The backend scores each subject's questions, appended as they finish.
  std::unique_ptr<LoglikelihoodBackend> backend;
  NativeLoglikelihood* native = nullptr;
  if (f.backend.native()) {
    auto n = std::make_unique<NativeLoglikelihood>(
        load_model(f.backend.model.model, f.backend.model.load_options()),
        NativeLoglikelihoodOptions{.batch_rows = f.batch_rows, .chunk_tokens = f.chunk_tokens});
    native = n.get();
    backend = std::move(n);
  } else {
    backend = std::make_unique<EndpointLoglikelihood>(f.backend.endpoint_options());
  }
  auto started = Clock::now();
  int64_t scored = 0;
  run_mmlu(data.splits, *tokenizer, settings, *backend, done, [&](const MmluResult& r) {
    out.append(mmlu_result_json(r));
    if (++scored % 200 == 0 && !f.quiet)
      std::fprintf(stderr, "eval mmlu: %lld questions (%.1f/s)\n", (long long)scored,
                   static_cast<double>(scored) / seconds_since(started));
  });
  out.sync();
  double seconds = seconds_since(started);

  // The summary, from results.jsonl.
  MmluSummary summary = summarize_mmlu(out.parsed(parse_mmlu_result));
  out.write_summary(mmlu_summary_json(summary), data.skipped);
  std::printf("%s", mmlu_summary_table(summary).c_str());
  std::printf("%s: %lld questions, accuracy %.1f%%, %lld failed; %lld scored now in %.1f s",
              f.out.c_str(), (long long)summary.overall.questions, 100 * summary.overall.accuracy(),
              (long long)summary.overall.failed, (long long)scored, seconds);
  if (native != nullptr && native->requested_tokens() > 0)
    std::printf("; %lld positions computed for %lld of contexts and continuations (%.0f%%)",
                static_cast<long long>(native->computed_tokens()),
                static_cast<long long>(native->requested_tokens()),
                100.0 * static_cast<double>(native->computed_tokens()) /
                    static_cast<double>(native->requested_tokens()));
  std::printf("\n");
  return summary.overall.failed == 0 ? 0 : 3;
}

// ---- eval bookqa ----

struct BookQaFlags {
  BackendFlags backend;
  std::string data, out, template_file;
  int64_t truncate = 128000, max_new_tokens = 40, limit = 0, chunk_tokens = 0;
  bool quiet = false;
};

int run_bookqa(const BookQaFlags& f) {
  // Settings, data, tokenizer.
  f.backend.validate();
  std::string tmpl =
      f.template_file.empty() ? std::string(kBookQaTemplate) : read_file(f.template_file);
  validate_bookqa_template(tmpl);
  BookQaData data = read_bookqa(f.data);
  report_skipped("bookqa", data.skipped);
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(f.backend.tokenizer_source());

  // The run directory: settings, results so far.
  nlohmann::json resolved = {
      {"task", "bookqa"},
      {"data", f.data},
      {"template", tmpl},
      {"truncate_tokens", f.truncate},
      {"max_new_tokens", f.max_new_tokens},
      {"limit", f.limit},
      {"backend", f.backend.native() ? "native" : "endpoint"},
      {"model", f.backend.native() ? f.backend.model.model : f.backend.api_model},
      {"tokenizer", tokenizer->description()}};
  ResultsDir out(f.out, resolved);
  std::set<int64_t> done;
  for (const BookQaResult& r : out.parsed(parse_bookqa_result))
    if (r.error.empty()) done.insert(r.index);

  // The prompts still to run: tokenized whole, cut in the middle.
  std::vector<const BookQaExample*> todo;
  std::vector<BookQaPrompt> prompts;
  std::vector<AnswerRequest> requests;
  int64_t truncated = 0;
  for (const BookQaExample& e : data.examples) {
    if (f.limit > 0 && e.index >= f.limit) break;
    if (done.count(e.index)) continue;
    BookQaPrompt p = make_bookqa_prompt(*tokenizer, tmpl, e, f.truncate);
    truncated += p.truncated ? 1 : 0;
    requests.push_back(
        {.prompt_ids = p.ids, .prompt_text = p.text, .max_new_tokens = f.max_new_tokens});
    todo.push_back(&e);
    prompts.push_back(std::move(p));
  }
  if (!f.quiet)
    std::fprintf(stderr,
                 "eval bookqa: %zu questions to run (%zu already in %s), %lld cut to %lld tokens\n",
                 todo.size(), done.size(), out.results_path().c_str(), (long long)truncated,
                 (long long)f.truncate);

  // The backend answers; each answer is scored and appended as it finishes.
  std::unique_ptr<AnswerBackend> backend;
  if (f.backend.native()) {
    backend = std::make_unique<NativeAnswers>(
        load_model(f.backend.model.model, f.backend.model.load_options()), *tokenizer,
        NativeAnswersOptions{.chunk_tokens = f.chunk_tokens});
  } else {
    backend = std::make_unique<EndpointAnswers>(f.backend.endpoint_options());
  }
  auto started = Clock::now();
  backend->answer(requests, [&](size_t i, const Answer& a) {
    BookQaResult r;
    r.index = todo[i]->index;
    r.id = todo[i]->id;
    r.prompt_tokens = static_cast<int64_t>(prompts[i].ids.size());
    r.full_tokens = prompts[i].full_tokens;
    r.answers = todo[i]->answers;
    r.seconds = a.seconds;
    r.error = a.error;
    if (a.error.empty()) {
      r.prediction = a.text;
      r.scores = score_bookqa(r.prediction, r.answers);
    }
    out.append(bookqa_result_json(r));
    if (!f.quiet)
      std::fprintf(stderr, "  %5lld  %7lld tokens  recall %.2f  f1 %.2f  %s\n", (long long)r.index,
                   (long long)r.prompt_tokens, r.scores.recall, r.scores.f1, r.error.c_str());
  });
  out.sync();

  // The summary, from results.jsonl.
  BookQaSummary summary = summarize_bookqa(out.parsed(parse_bookqa_result));
  out.write_summary(bookqa_summary_json(summary), data.skipped);
  std::printf(
      "%s: %lld questions, recall %.1f (the paper's score), F1 %.1f (InfiniteBench's), %lld "
      "truncated, %lld failed; %.1f s\n",
      f.out.c_str(), (long long)summary.examples, summary.recall, summary.f1,
      (long long)summary.truncated, (long long)summary.failed, seconds_since(started));
  return summary.failed == 0 ? 0 : 3;
}

}  // namespace

CommandRun add_eval_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand(
      "eval",
      "The paper's evaluations besides the needle test: loss by domain and context position\n"
      "(Table 5, Figures 3-4), MMLU (5-shot, lm-evaluation-harness's prompt and scoring) and\n"
      "book QA (InfiniteBench En.QA, Table 4)");
  command->require_subcommand(1, 1);

  auto loss = std::make_shared<LossFlags>();
  CLI::App* l = command->add_subcommand(
      "loss",
      "Per-token next-token loss of every row of a dataset, by domain x position bucket,\n"
      "Loss@nK and a loss-by-position curve; --baseline gives Table 5's differences.\n"
      "Writes OUT/loss.json, OUT/loss.svg (and OUT/token_losses.f32).");
  loss->model.add_to(*l);
  l->add_option("--data", loss->data, "A `longctx mix` directory or a Megatron prefix")->required();
  l->add_option("--seq-len", loss->seq_len, "Row length (Megatron datasets; a mix has its own)");
  l->add_option("--buckets", loss->buckets, "Position bucket bounds (K = 1024)")
      ->capture_default_str();
  l->add_option("--position", loss->position, "row (the paper's) or document")
      ->capture_default_str();
  l->add_option("--loss-at", loss->loss_at, "Loss@n lengths")->capture_default_str();
  l->add_option("--curve-bins-per-octave", loss->curve_bins, "Curve resolution")
      ->capture_default_str();
  l->add_option("--bootstrap", loss->bootstrap, "Bootstrap resamples (0: no intervals)")
      ->capture_default_str();
  l->add_option("--seed", loss->seed, "Bootstrap seed")->capture_default_str();
  l->add_option("--rows", loss->rows, "Only the first N rows (0: all)")->capture_default_str();
  l->add_option("--batch", loss->batch_rows, "Rows per forward")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  l->add_option("--chunk", loss->chunk_tokens, "Positions per forward (0: from the free memory)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  l->add_option("--baseline", loss->baseline, "Another run's loss.json: Table 5's differences");
  l->add_option("--title", loss->title, "SVG title (default: the model's name)");
  l->add_flag("--save-token-losses", loss->save_token_losses,
              "Also write every loss, float32 [rows, seq_len - 1], to OUT/token_losses.f32");
  l->add_option("--out,-o", loss->out, "Output directory")->required();
  l->add_flag("--quiet,-q", loss->quiet, "No progress line");

  auto mmlu = std::make_shared<MmluFlags>();
  CLI::App* m = command->add_subcommand(
      "mmlu",
      "MMLU as lm-evaluation-harness's default task scores it, on our model (--model)\n"
      "or a served one (--endpoint, /v1/completions with echo and logprobs). Writes\n"
      "OUT/results.jsonl (one line per question; a rerun skips those done) and\n"
      "OUT/summary.json.");
  mmlu->backend.add_to(*m);
  m->add_option("--data", mmlu->data, "dev/ and test/ CSV folders, or dev.jsonl and test.jsonl")
      ->required();
  m->add_option("--shots", mmlu->shots, "Few-shot examples (the first of dev)")
      ->capture_default_str();
  m->add_option("--subjects", mmlu->subjects, "Comma-separated subjects (default: all)");
  m->add_option("--limit", mmlu->limit, "The first N test questions of each subject (0: all)")
      ->capture_default_str();
  m->add_option("--batch", mmlu->batch_rows, "Native: rows per forward")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  m->add_option("--chunk", mmlu->chunk_tokens, "Native: prefill positions per forward (0: auto)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  m->add_option("--dump-requests", mmlu->dump_requests,
                "Write every question's ids (JSON lines) and exit: the input of the benchmarks");
  m->add_option("--out,-o", mmlu->out, "Output directory");
  m->add_flag("--quiet,-q", mmlu->quiet, "No progress lines");

  auto bookqa = std::make_shared<BookQaFlags>();
  CLI::App* b = command->add_subcommand(
      "bookqa",
      "InfiniteBench En.QA as the paper runs it: its prompt, the whole prompt cut in\n"
      "the middle to --truncate tokens, greedy 40 tokens, the paper's recall and\n"
      "InfiniteBench's F1. Writes OUT/results.jsonl (resumable) and OUT/summary.json.");
  bookqa->backend.add_to(*b);
  b->add_option("--data", bookqa->data, "longbook_qa_eng.jsonl")->required();
  b->add_option("--template", bookqa->template_file,
                "Prompt template file ({context}, {question})");
  b->add_option("--truncate", bookqa->truncate,
                "Prompt tokens kept (first and last halves; 0: all)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  b->add_option("--max-new-tokens", bookqa->max_new_tokens, "Greedy tokens")->capture_default_str();
  b->add_option("--limit", bookqa->limit, "Only the first N records (0: all)")
      ->capture_default_str();
  b->add_option("--chunk", bookqa->chunk_tokens, "Native: prefill positions per forward (0: auto)")
      ->capture_default_str()
      ->check(non_negative_tokens());
  b->add_option("--out,-o", bookqa->out, "Output directory")->required();
  b->add_flag("--quiet,-q", bookqa->quiet, "No per-question lines");

  return [l, m, loss, mmlu, bookqa] {
    if (l->parsed()) return run_loss(*loss);
    if (m->parsed()) {
      if (mmlu->out.empty() && mmlu->dump_requests.empty())
        throw Error("eval mmlu needs --out DIR");
      return run_mmlu_command(*mmlu);
    }
    return run_bookqa(*bookqa);
  };
}

}  // namespace longctx
