// The page of `longctx report`: the sections of report_sections.h drawn in order from the
// ReportData into one HtmlPage, each figure also kept for figures/STEM.svg and .png, and every
// input's JSON files copied under raw/ so that the page's links keep working wherever the
// report directory goes (a paper's supplementary material, a zip, another machine).
//
//   ReportData data = load_report_data(find_report_inputs({"recipe-out"}, "report"));
//   Report report = build_report(data, {.title = "Per-source vs original"});
//   WrittenReport written = write_report(report, "report");  // written.index: report/index.html
//
// The report directory:
//   index.html             the page (inline SVG, inline CSS; opens with no network)
//   figures/STEM.svg       every figure of the page, as on the page
//   figures/STEM.png       the same figure rasterised by librsvg at kFigurePngScale
//   raw/SLUG/FILE          the input files the page was drawn from (SLUG: the input's slug)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "longctx/report/html.h"
#include "longctx/report/report_inputs.h"

namespace longctx {

struct ReportOptions {
  std::string title = "longctx report";
  // The dashed line of every needle heatmap (tokens); when unset, each run's own training
  // length if the report finds it (needle_train_length()), else no line.
  std::optional<int64_t> train_length;
};

struct ReportFigure {
  std::string stem;  // figures/STEM.svg, figures/STEM.png
  std::string svg;
};

struct RawCopy {
  std::filesystem::path from;
  std::string to;  // relative to the report directory: "raw/SLUG/FILE"
};

struct Report {
  std::string html;
  std::vector<ReportFigure> figures;
  std::vector<RawCopy> raw;
  std::vector<std::string> sections;  // section ids, in page order
};

// What a section function draws with: the page, and the figures and raw files it links.
class ReportBuilder {
 public:
  ReportBuilder(const ReportData& data, const ReportOptions& options);

  const ReportData& data() const { return data_; }
  const ReportOptions& options() const { return options_; }
  HtmlPage& page() { return page_; }

  // A figure for page().figures(): id "fig-STEM", links to figures/STEM.svg and .png. Stems are
  // [a-z0-9-] and unique (Error otherwise).
  HtmlFigure figure(const std::string& stem, std::string svg, std::string caption);
  // Links to the copies of an input's files under raw/.
  std::vector<HtmlLink> raw_links(const ReportInput& input) const;

  Report finish();

 private:
  const ReportData& data_;
  ReportOptions options_;
  HtmlPage page_;
  std::vector<ReportFigure> figures_;
};

// Every section of report_sections.h, in order.
Report build_report(const ReportData& data, const ReportOptions& options);

struct WrittenReport {
  std::filesystem::path index;  // OUT/index.html
  size_t figures = 0;           // SVG + PNG pairs
  size_t raw_files = 0;
  size_t removed = 0;  // files of an earlier report that this one does not have
};

// Writes the report directory: figures, raw copies, then index.html last, each file to a
// temporary name renamed into place, so a page never names a figure not yet written and a
// half-written file never carries its final name. Files left in figures/ and raw/ by an
// earlier report into the same OUT are removed. Throws Error when OUT exists, holds files
// and is not a report (no index.html, no figures/), so that nothing else is overwritten.
WrittenReport write_report(const Report& report, const std::filesystem::path& out);

}  // namespace longctx
