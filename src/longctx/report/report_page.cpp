#include "longctx/report/report_page.h"

#include <fmt/format.h>

#include <set>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/report/raster.h"
#include "longctx/report/report_sections.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

// "Mix-A_1.x" -> "mix-a-1-x": figure stems are [a-z0-9-].
std::string stem_of(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    out += keep ? c : '-';
  }
  return out.empty() ? "figure" : out;
}

std::string raw_path(const ReportInput& input, const fs::path& file) {
  return "raw/" + input.slug + "/" + file.filename().string();
}

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// Removes the regular files under `dir` whose path relative to `root` is not in `keep`, then
// the directories left empty; returns how many files went.
size_t remove_stale(const fs::path& root, const fs::path& dir, const std::set<std::string>& keep) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> stale, dirs;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_directory()) {
      dirs.push_back(entry.path());
    } else if (!keep.count(entry.path().lexically_relative(root).generic_string())) {
      stale.push_back(entry.path());
    }
  }
  for (const fs::path& p : stale) fs::remove(p);
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (fs::is_empty(*it, ec)) fs::remove(*it, ec);
  }
  return stale.size();
}

}  // namespace

ReportBuilder::ReportBuilder(const ReportData& data, const ReportOptions& options)
    : data_(data), options_(options), page_(options.title) {}

HtmlFigure ReportBuilder::figure(const std::string& stem, std::string svg, std::string caption) {
  std::string base = stem_of(stem), unique = base;
  auto taken = [&](const std::string& s) {
    for (const ReportFigure& f : figures_)
      if (f.stem == s) return true;
    return false;
  };
  for (int n = 2; taken(unique); ++n) unique = fmt::format("{}-{}", base, n);
  figures_.push_back({unique, svg});
  std::vector<HtmlLink> links = {{"SVG", "figures/" + unique + ".svg"}};
  if (png_rasterisation_available()) links.emplace_back("PNG", "figures/" + unique + ".png");
  return {.id = "fig-" + unique,
          .svg = std::move(svg),
          .caption = std::move(caption),
          .links = std::move(links)};
}

std::vector<HtmlLink> ReportBuilder::raw_links(const ReportInput& input) const {
  std::vector<HtmlLink> out;
  for (const fs::path& file : input.files)
    out.emplace_back(file.filename().string(), raw_path(input, file));
  return out;
}

Report ReportBuilder::finish() {
  Report report;
  report.html = page_.str();
  report.figures = std::move(figures_);
  for (const ReportInput& input : data_.inputs)
    for (const fs::path& file : input.files) report.raw.push_back({file, raw_path(input, file)});
  report.sections = page_.section_ids();
  return report;
}

Report build_report(const ReportData& data, const ReportOptions& options) {
  ReportBuilder builder(data, options);
  builder.page().subtitle(
      fmt::format("Drawn by longctx report from {}: {}, {}, {}, {}.",
                  plural(data.inputs.size(), "input", "inputs"),
                  plural(data.stats.size(), "corpus profile", "corpus profiles"),
                  plural(data.mixes.size(), "mixture", "mixtures"),
                  plural(data.runs.size(), "training run", "training runs"),
                  plural(data.evals.size(), "evaluation", "evaluations")));
  for (ReportSection section : kReportSections) section(builder);
  return builder.finish();
}

WrittenReport write_report(const Report& report, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) {
      throw Error(fmt::format("--out {} exists and is not a directory", out.string()));
    }
    bool ours = fs::exists(out / "index.html", ec) || fs::is_directory(out / "figures", ec);
    if (!fs::is_empty(out, ec) && !ours) {
      throw Error(fmt::format("--out {} holds files but no report (no index.html or figures/)",
                              out.string()),
                  "give a new or empty directory, or an earlier report's");
    }
  }
  fs::create_directories(out / "figures");
  WrittenReport written;
  std::set<std::string> keep;
  for (const ReportFigure& figure : report.figures) {
    std::string svg_name = "figures/" + figure.stem + ".svg";
    std::string png_name = "figures/" + figure.stem + ".png";
    write_file_atomic(out / svg_name, figure.svg);
    keep.insert(svg_name);
    // A build without librsvg writes the SVG alone (the page inlines the SVG either way).
    if (png_rasterisation_available()) {
      write_file_atomic(out / png_name, svg_to_png(figure.svg, kFigurePngScale));
      keep.insert(png_name);
    }
    ++written.figures;
  }
  for (const RawCopy& copy : report.raw) {
    fs::create_directories((out / copy.to).parent_path());
    write_file_atomic(out / copy.to, read_file(copy.from));
    keep.insert(copy.to);
    ++written.raw_files;
  }
  written.removed = remove_stale(out, out / "figures", keep) + remove_stale(out, out / "raw", keep);
  written.index = out / "index.html";
  write_file_atomic(written.index, report.html);
  return written;
}

}  // namespace longctx
