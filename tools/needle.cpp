// longctx needle: the needle-in-a-haystack test of Figure 1 (RECIPE.md section 4) on our
// model or on any OpenAI-compatible server, with the paper's grid and scorer by default.
//
//   longctx needle --model run/model --rope-frozen-length 81920 --out needle-7b
//   longctx needle --endpoint http://localhost:8000 --tokenizer Llama-2-7b-hf --out needle-srv
//   longctx needle plot needle-7b/results.jsonl needle-srv/results.jsonl --out compare.svg
//
// Phases: settings -> haystack and tokenizer -> the grid's cells (prompts built as the
// reference builds them) minus those already in OUT/results.jsonl -> the backend answers each
// cell (native: prefix reuse across cells; endpoint: concurrent requests with retries) ->
// scores appended to results.jsonl as cells finish -> heatmap.svg/.png and a summary.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/eval/haystack_corpus.h"
#include "longctx/eval/needle.h"
#include "longctx/report/heatmap.h"
#include "longctx/report/raster.h"
#include "longctx/tokenizer/tokenizer.h"
#include "model_flags.h"
#include "needle_backends.h"

namespace longctx {

namespace {

namespace fs = std::filesystem;

struct NeedleFlags {
  ModelFlags model;  // native backend (model.model empty: use --endpoint)
  std::string endpoint, api_model, api_key, tokenizer;
  bool chat = false;
  int concurrency = 4, retries = 3;
  double timeout_s = 600;
  std::vector<std::string> haystack;
  std::string haystack_corpus, haystack_domain = "RedPajamaBook";
  std::string lengths, depths, needle, question, answer, template_file, task = "needle";
  int64_t max_new_tokens = 50, reserve_tokens = 200, chunk_tokens = 8192, train_len = 0;
  uint64_t seed = 0;
  std::string scorer = "paper", title, out, dump_prompts;
  bool quiet = false;
  // plot
  std::vector<std::string> plot_inputs, plot_titles;
  std::string plot_out;
  int plot_columns = 0;
};

NeedleSettings settings_from(const NeedleFlags& f) {
  NeedleSettings s;
  if (!f.lengths.empty()) s.lengths_tokens = parse_int_list(f.lengths, "--lengths");
  if (!f.depths.empty()) s.depths_percent = parse_number_list(f.depths, "--depths");
  if (!f.needle.empty()) s.needle = f.needle;
  if (!f.question.empty()) s.question = f.question;
  if (!f.answer.empty()) s.answer = f.answer;
  if (!f.template_file.empty()) s.prompt_template = read_file(f.template_file);
  s.task = parse_needle_task(f.task);
  s.max_new_tokens = f.max_new_tokens;
  s.reserve_tokens = f.reserve_tokens;
  s.seed = f.seed;
  s.validate();
  return s;
}

std::vector<HeatmapPanel> panels_from(const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& titles, NeedleScorer scorer,
                                      std::optional<int64_t> train_len) {
  std::vector<HeatmapPanel> panels;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<NeedleResult> results = latest_per_cell(read_results(inputs[i]));
    HeatmapPanel p;
    std::string name =
        i < titles.size() ? titles[i] : fs::path(inputs[i]).parent_path().filename().string();
    p.title = fmt::format("{}, acc {:.1f}", name, acc(results, scorer));
    for (const NeedleResult& r : results)
      p.cells.push_back({r.length, r.depth, score_of(r.scores, scorer)});
    p.train_length = train_len;
    panels.push_back(std::move(p));
  }
  return panels;
}

void write_heatmaps(const std::vector<HeatmapPanel>& panels, const fs::path& svg_path,
                    int columns) {
  std::string svg = heatmap_svg(panels, columns);
  write_file_atomic(svg_path, svg);
  fs::path png_path = svg_path;
  png_path.replace_extension(".png");
  if (png_rasterisation_available()) {
    write_file_atomic(png_path, svg_to_png(svg, kFigurePngScale));
  } else {
    std::fprintf(stderr, "needle: %s not written: this build has no librsvg (the SVG is there)\n",
                 png_path.string().c_str());
  }
}

// --haystack files, else the --haystack-domain documents of --haystack-corpus (default: the
// corpus of `make corpus`).
Haystack make_haystack(const NeedleFlags& flags) {
  if (!flags.haystack.empty())
    return Haystack::from_paths({flags.haystack.begin(), flags.haystack.end()});
  fs::path corpus =
      flags.haystack_corpus.empty() ? default_corpus() : fs::path(flags.haystack_corpus);
  return haystack_from_corpus(corpus, flags.haystack_domain);
}

// --dump-prompts: every cell's prompt as token ids (BOS first), one JSON object per line, for
// bench/needle_grid.cpp, which runs the grid on a GPU machine without the data libraries.
int dump_prompts(const NeedleFlags& flags, const NeedleSettings& settings) {
  std::string source = !flags.tokenizer.empty() ? flags.tokenizer : flags.model.model;
  if (source.empty()) throw Error("--dump-prompts needs --tokenizer (or --model)");
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(source);
  Haystack haystack = make_haystack(flags);
  std::string text;
  for (int64_t length : settings.lengths_tokens) {
    for (double depth : settings.depths_percent) {
      NeedleCell cell = make_needle_cell(settings, *tokenizer, haystack, length, depth);
      std::vector<int32_t> ids = needle_prompt_ids(*tokenizer, cell.prompt);
      text +=
          nlohmann::json{
              {"length", length}, {"depth", depth}, {"expected", cell.expected}, {"ids", ids}}
              .dump() +
          "\n";
    }
  }
  write_file_atomic(flags.dump_prompts, text);
  std::printf("%s: %zu prompts\n", flags.dump_prompts.c_str(),
              settings.lengths_tokens.size() * settings.depths_percent.size());
  return 0;
}

int run_needle(const NeedleFlags& flags) {
  // Settings, haystack, tokenizer.
  NeedleSettings settings = settings_from(flags);
  NeedleScorer scorer = parse_needle_scorer(flags.scorer);
  bool native = !flags.model.model.empty();
  if (!flags.dump_prompts.empty()) return dump_prompts(flags, settings);
  if (native == !flags.endpoint.empty())
    throw Error("give either --model DIR (our model) or --endpoint URL (a served model)");
  if (!native && flags.tokenizer.empty())
    throw Error("--endpoint needs --tokenizer (the served model's, for length control)");
  std::unique_ptr<Tokenizer> tokenizer =
      load_tokenizer(native ? flags.model.model : flags.tokenizer);
  Haystack haystack = make_haystack(flags);

  // The run directory: settings, results so far.
  fs::path out = flags.out;
  fs::create_directories(out);
  nlohmann::json resolved = needle_settings_json(settings);
  resolved["backend"] = native ? "native" : "endpoint";
  resolved["model"] = native ? flags.model.model : flags.api_model;
  resolved["scorer"] = flags.scorer;
  fs::path settings_path = out / "settings.json", results_path = out / "results.jsonl";
  if (fs::exists(settings_path)) {
    nlohmann::json before = nlohmann::json::parse(read_file(settings_path));
    if (before != resolved && fs::exists(results_path))
      throw Error(fmt::format("{} holds results of other settings", out.string()),
                  "use another --out, or remove results.jsonl to start over");
  }
  write_file_atomic(settings_path, resolved.dump(2) + "\n");
  std::set<std::pair<int64_t, double>> done;
  if (fs::exists(results_path)) {
    for (const NeedleResult& r : read_results(results_path, BadLines::kSkip))
      if (r.error.empty()) done.insert({r.length, r.depth});  // failed cells run again
  }
  std::vector<NeedleCell> cells;
  for (int64_t length : settings.lengths_tokens)
    for (double depth : settings.depths_percent)
      if (!done.count({length, depth}))
        cells.push_back(make_needle_cell(settings, *tokenizer, haystack, length, depth));
  if (!flags.quiet)
    std::fprintf(stderr, "needle: %zu cells to run (%zu already in %s)\n", cells.size(),
                 done.size(), results_path.c_str());

  std::mutex lock;
  AppendFile results_file(results_path, fs::exists(results_path) ? fs::file_size(results_path) : 0);
  auto record = [&](const NeedleResult& r) {
    std::lock_guard<std::mutex> guard(lock);
    std::string line = needle_result_json(r) + "\n";
    results_file.append(line.data(), line.size());
    results_file.flush();
    if (!flags.quiet)
      std::fprintf(stderr, "  %7lld tokens %5.1f%%  %s %.3f  %s\n",
                   static_cast<long long>(r.length), r.depth, flags.scorer.c_str(),
                   score_of(r.scores, scorer), r.error.empty() ? "" : r.error.c_str());
  };

  auto started = std::chrono::steady_clock::now();
  NeedleRunStats stats;
  if (native) {
    stats = run_native_cells(cells, *tokenizer, flags.model.model, flags.model.load_options(),
                             settings.max_new_tokens, flags.chunk_tokens, record);
  } else {
    run_endpoint_cells(cells,
                       {.url = flags.endpoint,
                        .model = flags.api_model,
                        .api_key = flags.api_key,
                        .chat = flags.chat,
                        .timeout_seconds = flags.timeout_s,
                        .retries = flags.retries,
                        .concurrency = flags.concurrency},
                       settings.max_new_tokens, record);
  }
  results_file.sync();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Figures and summary, drawn from results.jsonl.
  std::optional<int64_t> train_len;
  if (flags.train_len > 0) train_len = flags.train_len;
  std::string title = !flags.title.empty() ? flags.title
                      : native             ? fs::path(flags.model.model).filename().string()
                               : (flags.api_model.empty() ? flags.endpoint : flags.api_model);
  std::vector<HeatmapPanel> panels =
      panels_from({results_path.string()}, {title}, scorer, train_len);
  write_heatmaps(panels, out / "heatmap.svg", 0);
  std::vector<NeedleResult> all = latest_per_cell(read_results(results_path, BadLines::kSkip));
  size_t failed = 0;
  for (const NeedleResult& r : all) failed += r.error.empty() ? 0 : 1;
  std::printf("%s: %zu cells, acc %.1f (%s scorer), %zu failed; %.1f s; heatmap %s\n", out.c_str(),
              all.size(), acc(all, scorer), flags.scorer.c_str(), failed, seconds,
              (out / "heatmap.svg").c_str());
  if (native && stats.prefill_flops > 0)
    std::printf("prefill: %.3g FLOPs needed, %.3g (%.1f%%) saved by prefix reuse\n",
                stats.prefill_flops, stats.saved_flops,
                100 * stats.saved_flops / stats.prefill_flops);
  return failed == 0 ? 0 : 3;
}

int run_plot(const NeedleFlags& flags) {
  if (flags.plot_inputs.empty()) throw Error("needle plot needs at least one results.jsonl");
  std::optional<int64_t> train_len;
  if (flags.train_len > 0) train_len = flags.train_len;
  std::vector<HeatmapPanel> panels = panels_from(flags.plot_inputs, flags.plot_titles,
                                                 parse_needle_scorer(flags.scorer), train_len);
  write_heatmaps(panels, flags.plot_out, flags.plot_columns);
  std::printf("%s (and .png): %zu panels\n", flags.plot_out.c_str(), panels.size());
  return 0;
}

}  // namespace

CommandRun add_needle_command(CLI::App& app) {
  auto flags = std::make_shared<NeedleFlags>();
  CLI::App* command = app.add_subcommand(
      "needle",
      "Needle-in-a-haystack test (Figure 1 of Fu et al. 2024) on our model (--model) or an\n"
      "OpenAI-compatible server (--endpoint): the paper's 40 lengths x 10 depths, San Francisco\n"
      "needle and prompt, greedy 50 tokens, its scorer. Writes OUT/results.jsonl (one line per\n"
      "cell; a rerun skips finished cells), OUT/heatmap.svg/.png and OUT/settings.json.");
  command->require_subcommand(0, 1);
  command->add_option("--model", flags->model.model, "Our backend: a Hugging Face model directory");
  command->add_option("--device", flags->model.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  command->add_option("--dtype", flags->model.dtype, "auto, float32, bfloat16")
      ->capture_default_str();
  command->add_option("--rope-frozen-length", flags->model.rope_frozen_length,
                      "Dynamic-NTK models: freeze the NTK base here (81920 for the paper's)");
  command->add_option("--chunk", flags->chunk_tokens, "Prefill tokens per forward")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--endpoint", flags->endpoint, "A served model: base URL (http://host:port)");
  command->add_option("--api-model", flags->api_model, "The served model's name");
  command->add_option("--api-key", flags->api_key, "Bearer key (default: $OPENAI_API_KEY)");
  command->add_flag("--chat", flags->chat, "Use /v1/chat/completions instead of /v1/completions");
  command->add_option("--tokenizer", flags->tokenizer,
                      "The served model's tokenizer (length control)");
  command->add_option("--concurrency", flags->concurrency, "Requests in flight")
      ->capture_default_str();
  command->add_option("--timeout", flags->timeout_s, "Seconds per request attempt")
      ->capture_default_str();
  command->add_option("--retries", flags->retries, "Retries of a failed request")
      ->capture_default_str();
  command->add_option("--haystack", flags->haystack,
                      "Text files or directories (sorted, repeated)");
  command->add_option("--haystack-corpus", flags->haystack_corpus,
                      "Without --haystack: a corpus whose --haystack-domain documents form the "
                      "haystack (default: the corpus of `make corpus`, $LONGCTX_CORPUS)");
  command->add_option("--haystack-domain", flags->haystack_domain, "Domain of --haystack-corpus")
      ->capture_default_str();
  command->add_option("--lengths", flags->lengths,
                      "Context lengths: 1000,2000 or linspace:1000:128000:40");
  command->add_option("--depths", flags->depths,
                      "Depths in percent: 0,50,100 or linspace:0:100:10");
  command->add_option("--needle", flags->needle, "The needle text");
  command->add_option("--question", flags->question, "The question");
  command->add_option("--answer", flags->answer, "The answer the scorers compare with");
  command->add_option("--template", flags->template_file,
                      "Prompt template file ({context}, {question})");
  command->add_option("--task", flags->task, "needle, passkey or multi-needle")
      ->capture_default_str();
  command->add_option("--max-new-tokens", flags->max_new_tokens, "Greedy tokens")
      ->capture_default_str();
  command
      ->add_option("--reserve", flags->reserve_tokens, "Tokens of each length kept for the prompt")
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "Pass keys and magic numbers")->capture_default_str();
  command->add_option("--scorer", flags->scorer, "paper, recall, exact or rouge1")
      ->capture_default_str();
  command->add_option("--train-len", flags->train_len, "Dashed line at the training length");
  command->add_option("--title", flags->title, "Heatmap title (default: the model's name)");
  command->add_option("--out,-o", flags->out, "Output directory");
  command->add_flag("--quiet,-q", flags->quiet, "No per-cell lines");
  command->add_option("--dump-prompts", flags->dump_prompts,
                      "Write every cell's prompt ids (JSON lines) and exit: the input of "
                      "bench/needle_grid.cpp on a GPU machine");

  CLI::App* plot =
      command->add_subcommand("plot", "Redraw heatmaps from results.jsonl files, side by side");
  plot->add_option("results", flags->plot_inputs, "results.jsonl files")->required();
  plot->add_option("--out,-o", flags->plot_out, "Output .svg (a .png is written beside it)")
      ->required();
  plot->add_option("--titles", flags->plot_titles, "One title per panel (default: the directory)");
  plot->add_option("--columns", flags->plot_columns, "Panels per row (0: up to 3)");
  plot->add_option("--scorer", flags->scorer, "paper, recall, exact or rouge1")
      ->capture_default_str();
  plot->add_option("--train-len", flags->train_len, "Dashed line at the training length");
  return [flags, plot] {
    if (plot->parsed()) return run_plot(*flags);
    if (flags->out.empty() && flags->dump_prompts.empty()) throw Error("needle needs --out DIR");
    return run_needle(*flags);
  };
}

}  // namespace longctx
