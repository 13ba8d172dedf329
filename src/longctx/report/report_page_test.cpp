#include "longctx/report/report_page.h"
#include "longctx/report/report_sections.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "support/fixtures.h"
#include "support/png_reader.h"
#include "support/report_fixtures.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::count_of;

// Every kind of input: a corpus, two mixtures, two training runs, needle and passkey runs of
// the per-source model and a multi-needle run.
fs::path make_inputs(const fs::path& root) {
  testing::write_stats_json(root / "stats.json");
  testing::write_mix(root / "mix-original", {.strategy = "original", .cc_after = 0.75});
  testing::write_mix(root / "mix-per-source",
                     {.warnings = {"RedPajamaBook ran out of documents 12 short of its budget"}});
  testing::write_train_run(root / "train-original", {.seq_len = 128, .steps = 3});
  testing::write_train_run(root / "train-per-source",
                           {.seq_len = 128, .steps = 4, .eval_every = 2, .first_loss = 6.5});
  std::string model = (root / "train-per-source" / "model").string();
  testing::write_needle_run(root / "needle-per-source", {.model = model});
  testing::write_needle_run(
      root / "passkey-per-source",
      {.task = "passkey", .model = model, .cells = {{1000, 0, 1.0}, {1000, 50, 1.0}}});
  testing::write_needle_run(root / "multi", {.task = "multi-needle", .model = "m"});
  return root;
}

Report build(const fs::path& root, const ReportOptions& options = {}) {
  ReportData data = load_report_data(find_report_inputs({root}));
  return build_report(data, options);
}

// The text between <section id="ID"> and its </section>.
std::string section(const std::string& html, const std::string& id) {
  size_t start = html.find("<section id=\"" + id + "\">");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</section>", start) - start);
}

TEST(BuildReport, EverySectionInPageOrder) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"), {.title = "Recipe <demo>"});
  EXPECT_EQ(report.sections,
            (std::vector<std::string>{"corpus", "mixtures", "training", "needle", "passkey",
                                      "evaluations", "settings", "raw"}));
  const std::string& html = report.html;
  EXPECT_NE(html.find("<h1>Recipe &lt;demo&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("from 8 inputs: 1 corpus profile, 2 mixtures, 2 training runs, 3 "
                      "evaluations"),
            std::string::npos);
  size_t last = 0;
  for (const std::string& id : report.sections) {
    size_t at = html.find("<section id=\"" + id + "\">");
    ASSERT_NE(at, std::string::npos) << id;
    EXPECT_GT(at, last) << id;
    last = at;
  }
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(BuildReport, FiguresAreInlineAndListedForTheirFiles) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"));
  std::vector<std::string> stems;
  for (const ReportFigure& f : report.figures) stems.push_back(f.stem);
  EXPECT_EQ(stems, (std::vector<std::string>{
                       "corpus-recipe", "mix-mix-original-domains", "mix-mix-original-lengths",
                       "mix-mix-per-source-domains", "mix-mix-per-source-lengths", "train-loss",
                       "train-tokens-per-s", "train-lr", "train-domain-loss-train-original",
                       "train-domain-loss-train-per-source", "needle", "passkey", "evaluations"}));
  for (const ReportFigure& f : report.figures) {
    EXPECT_NE(report.html.find("<figure id=\"fig-" + f.stem + "\">"), std::string::npos) << f.stem;
    EXPECT_NE(report.html.find("<a href=\"figures/" + f.stem + ".png\">PNG</a>"),
              std::string::npos);
    EXPECT_NE(report.html.find(f.svg), std::string::npos) << f.stem;  // the same SVG inline
  }
  EXPECT_EQ(count_of(report.html, "<svg "), report.figures.size());
}

TEST(BuildReport, NumbersOfEachSection) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"));
  // Corpus: Book holds 5000 of 5600 tokens.
  std::string corpus = section(report.html, "corpus");
  EXPECT_NE(corpus.find("<td class=\"num\">89.3%</td>"), std::string::npos) << corpus;
  // Mixtures: targets only for the budgeted strategy; its warning shown.
  std::string mixtures = section(report.html, "mixtures");
  EXPECT_NE(mixtures.find("<h3>mix-per-source (per-source)</h3>"), std::string::npos);
  EXPECT_NE(mixtures.find("<title>target CC: 60.00%</title>"), std::string::npos);
  EXPECT_NE(mixtures.find("<title>after CC: 58.00%</title>"), std::string::npos);
  EXPECT_NE(mixtures.find("<title>before CC: 75.00%</title>"), std::string::npos);
  EXPECT_EQ(count_of(mixtures, "<title>target CC:"), 1u);
  EXPECT_NE(mixtures.find("ran out of documents 12 short"), std::string::npos);
  // Training: both runs' losses, per-domain loss of the per-source run (steps 2 and 4).
  std::string training = section(report.html, "training");
  EXPECT_NE(training.find("<title>train-per-source: 1024, 5</title>"), std::string::npos)
      << training;  // step 4: 2 x 128 x 4 tokens, loss 6.5 - 1.5
  EXPECT_NE(training.find("<title>Book: 1024, 5</title>"), std::string::npos);  // 6 - 0.25 x 4
  EXPECT_NE(training.find("<td class=\"num\">5.0000</td>"), std::string::npos);
  // Needle: titled with the model and acc (cells 1, 0.5, 0, 1: acc 62.5). The per-source
  // run's training length, 128 tokens, lies left of the 1000-token column: no dashed line.
  std::string needle = section(report.html, "needle");
  EXPECT_NE(needle.find(">train-per-source, acc 62.5</text>"), std::string::npos) << needle;
  EXPECT_EQ(needle.find("stroke-dasharray"), std::string::npos);
  EXPECT_NE(needle.find("<td class=\"num\">128</td>"), std::string::npos);  // training length
  // Acc by length: 1000 -> (1 + 0.5) / 2, 2000 -> (0 + 1) / 2.
  EXPECT_NE(needle.find("<tr><td class=\"num\">1000</td><td class=\"num\">75.0</td></tr>"),
            std::string::npos);
  EXPECT_NE(needle.find("<tr><td class=\"num\">2000</td><td class=\"num\">50.0</td></tr>"),
            std::string::npos);
  std::string passkey = section(report.html, "passkey");
  EXPECT_NE(passkey.find(">train-per-source, acc 100.0</text>"), std::string::npos);
  EXPECT_NE(section(report.html, "evaluations").find(">m, acc 62.5</text>"), std::string::npos);
}

TEST(BuildReport, TrainLengthOptionDrawsTheDashedLine) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"), {.title = "r", .train_length = 1500});
  std::string needle = section(report.html, "needle");
  EXPECT_NE(needle.find("stroke-dasharray"), std::string::npos);
  EXPECT_NE(needle.find("<td class=\"num\">1500</td>"), std::string::npos) << needle;
}

TEST(BuildReport, SettingsAndRawLinksOfEveryInput) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"));
  std::string settings = section(report.html, "settings");
  EXPECT_EQ(count_of(settings, "<details>"), 8u);
  EXPECT_NE(settings.find("<summary>train-per-source (train)</summary>"), std::string::npos);
  EXPECT_NE(settings.find("<tr><td>eval_every</td><td class=\"value\">2</td></tr>"),
            std::string::npos)
      << settings;
  EXPECT_NE(settings.find("<tr><td>budget_tokens</td><td class=\"value\">1280</td></tr>"),
            std::string::npos);  // report.json's settings
  std::string raw = section(report.html, "raw");
  EXPECT_NE(raw.find("<a href=\"raw/train-per-source/metrics.jsonl\">metrics.jsonl</a>"),
            std::string::npos);
  EXPECT_EQ(report.raw.size(), 1u + 2 * 2 + 2 * 2 + 3 * 2);
  EXPECT_EQ(report.raw[0].to, "raw/recipe/stats.json");
}

TEST(BuildReport, NamesFromTheInputsAreEscaped) {
  testing::TempDir dir;
  fs::path root = dir.path() / "r";
  testing::write_needle_run(root / "<img src=x onerror=alert(1)>", {.model = "m"});
  Report report = build(root);
  EXPECT_EQ(report.html.find("<img"), std::string::npos);
  EXPECT_NE(report.html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
}

TEST(FlattenSettings, DottedKeysCutListsAndValues) {
  nlohmann::json j = {{"b", {{"c", 1}, {"d", "text"}}},
                      {"a", std::vector<int>(40, 7)},
                      {"e", std::string(500, 'x')},
                      {"f", nlohmann::json::object()}};
  auto flat = flatten_settings(j);
  ASSERT_EQ(flat.size(), 5u);
  EXPECT_EQ(flat[0].first, "a");
  EXPECT_EQ(flat[0].second, "[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, ... (40 items)]");
  EXPECT_EQ(flat[1], (std::pair<std::string, std::string>{"b.c", "1"}));
  EXPECT_EQ(flat[2], (std::pair<std::string, std::string>{"b.d", "text"}));
  EXPECT_EQ(flat[3].second, std::string(400, 'x') + "...");
  EXPECT_EQ(flat[4], (std::pair<std::string, std::string>{"f", "{}"}));
}

TEST(WriteReport, WritesFiguresRawCopiesAndThePageLast) {
  testing::TempDir dir;
  fs::path root = make_inputs(dir.path() / "recipe");
  Report report = build(root);
  fs::path out = dir.path() / "report";
  WrittenReport written = write_report(report, out);
  EXPECT_EQ(written.index, out / "index.html");
  EXPECT_EQ(read_file(out / "index.html"), report.html);
  EXPECT_EQ(written.figures, report.figures.size());
  for (const ReportFigure& f : report.figures) {
    EXPECT_EQ(read_file(out / "figures" / (f.stem + ".svg")), f.svg);
    testing::RgbImage png = testing::decode_png(read_file(out / "figures" / (f.stem + ".png")));
    EXPECT_GT(png.width, 100) << f.stem;
  }
  EXPECT_EQ(read_file(out / "raw/train-per-source/metrics.jsonl"),
            read_file(root / "train-per-source/metrics.jsonl"));
  EXPECT_EQ(written.raw_files, report.raw.size());
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // Again, with fewer inputs: the old report's extra files go.
  fs::remove_all(root / "multi");
  testing::write_file(out / "figures" / "stale.svg", "<svg/>");
  WrittenReport again = write_report(build(root), out);
  EXPECT_FALSE(fs::exists(out / "figures" / "evaluations.svg"));
  EXPECT_FALSE(fs::exists(out / "figures" / "stale.svg"));
  EXPECT_FALSE(fs::exists(out / "raw" / "multi"));
  EXPECT_EQ(again.removed, 2u + 1u + 2u);  // evaluations.svg/.png, stale.svg, multi's two files
}

TEST(WriteReport, RefusesADirectoryThatIsNotAReport) {
  testing::TempDir dir;
  Report report = build(make_inputs(dir.path() / "recipe"));
  testing::write_file(dir.path() / "busy" / "thesis.tex", "x");
  EXPECT_THROW(write_report(report, dir.path() / "busy"), Error);
  EXPECT_TRUE(fs::exists(dir.path() / "busy" / "thesis.tex"));
  EXPECT_FALSE(fs::exists(dir.path() / "busy" / "index.html"));
  testing::write_file(dir.path() / "file", "x");
  EXPECT_THROW(write_report(report, dir.path() / "file"), Error);
  fs::create_directories(dir.path() / "empty");
  EXPECT_NO_THROW(write_report(report, dir.path() / "empty"));
}

}  // namespace
}  // namespace longctx
