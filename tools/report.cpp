// longctx report: one self-contained HTML page of everything the other commands wrote (issue
// 23): the corpus profile, the mixtures, the training curves, the needle and passkey heatmaps
// and tables, every run's settings and links to the raw JSON.
//
//   longctx report demo-out/ --out demo-out/report
//   longctx report stats.json mix-orig mix-ps train-orig train-ps needle-orig needle-ps
//       --title "Original vs per-source at 80K" --out report       (one command line)
//
// Phases: find the inputs (report_inputs.h) -> read them -> draw the page (report_sections.h)
// -> write the figures (SVG, and PNG through librsvg), the raw copies and index.html, each
// atomically (report_page.h) -> print the page's path.
#include <fmt/format.h>

#include <cstdio>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/report/report_inputs.h"
#include "longctx/report/report_page.h"

namespace longctx {

namespace {

namespace fs = std::filesystem;

struct ReportFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string title = "longctx report";
  int64_t train_len = 0;
  bool quiet = false;
};

int run_report(const ReportFlags& flags) {
  // Find the inputs: the arguments, and for a directory of runs, the runs in it.
  std::vector<fs::path> paths(flags.inputs.begin(), flags.inputs.end());
  ReportSelection selection = find_report_inputs(paths, flags.out);
  if (!flags.quiet) {
    for (const ReportInput& input : selection.inputs)
      std::fprintf(stderr, "report: %-6s %s (%s)\n",
                   std::string(report_input_kind_name(input.kind)).c_str(), input.name.c_str(),
                   input.path.c_str());
    if (!selection.skipped.empty())
      std::fprintf(stderr, "report: skipped %zu nested directories with no input (first: %s)\n",
                   selection.skipped.size(), selection.skipped.front().c_str());
  }

  // Read them, then draw the page.
  ReportData data = load_report_data(std::move(selection));
  ReportOptions options{.title = flags.title, .train_length = std::nullopt};
  if (flags.train_len > 0) options.train_length = flags.train_len;
  Report report = build_report(data, options);

  // Write the report directory: figures and raw copies first, the page last.
  WrittenReport written = write_report(report, flags.out);
  if (!flags.quiet) {
    std::fprintf(stderr, "report: %zu sections, %zu figures (SVG + PNG), %zu raw files",
                 report.sections.size(), written.figures, written.raw_files);
    if (written.removed > 0)
      std::fprintf(stderr, "; %zu files of the earlier report removed", written.removed);
    std::fprintf(stderr, "\n");
  }
  std::printf("%s\n", written.index.c_str());
  return 0;
}

}  // namespace

CommandRun add_report_command(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* command = app.add_subcommand(
      "report",
      "One self-contained HTML page (inline SVG and CSS, no script, nothing fetched) of the\n"
      "outputs of the other commands: the corpus profile (Figure 2), each mixture's domain\n"
      "shares (target, before, after) and length distribution, training curves (loss,\n"
      "per-domain loss, tokens/s, learning rate), needle heatmaps side by side (Figure 1) with\n"
      "acc and the training length, passkey and other evaluation tables, every run's settings\n"
      "and links to the raw JSON.\n\n"
      "Each input is a `stats --json` file or a directory holding stats.json, a mix output\n"
      "(manifest.json + report.json), a train run (config.json + metrics.jsonl), a needle or\n"
      "passkey run (results.jsonl + settings.json), or a directory of those (a recipe's output:\n"
      "searched two levels down, in sorted order; nested directories holding none are skipped).\n\n"
      "Writes OUT/index.html, OUT/figures/*.svg and *.png (the same figures, rasterised with\n"
      "their text) and OUT/raw/ (copies of the input files the page links to); every file is\n"
      "written to a temporary name and renamed. Prints the page's path.");
  command->add_option("inputs", flags->inputs, "Files and directories to report on")->required();
  command->add_option("--out,-o", flags->out, "The report directory")->required();
  command->add_option("--title", flags->title, "The page's title")->capture_default_str();
  command->add_option("--train-len", flags->train_len,
                      "Dashed line of every needle heatmap at this length (default: each "
                      "model's training length when its train run is known)");
  command->add_flag("--quiet,-q", flags->quiet, "Print only the page's path");
  return [flags] { return run_report(*flags); };
}

}  // namespace longctx
