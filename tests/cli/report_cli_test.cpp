// End-to-end tests of `longctx report`: the binary makes every input on a tiny corpus (stats,
// an original and a per-source mix, 3-step CPU training runs of the debug model on each, a
// needle and a passkey run against the fake OpenAI server, a native needle run on the trained
// model), then reports on the whole output directory. The page is checked section by section,
// its figures and links on disk, and in a real browser: headless Chromium loads it (its DOM
// holds every section) and takes a screenshot that must not be blank. Set
// LONGCTX_REPORT_SCREENSHOT=FILE to keep that screenshot (docs/report-screenshot.png is one).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>

#include "longctx/base/files.h"
#include "support/fake_openai_server.h"
#include "support/fixtures.h"
#include "support/png_reader.h"
#include "support/report_fixtures.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;

const fs::path kTokenizer = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model";
const std::vector<std::string> kSections = {"corpus",  "mixtures", "training", "needle",
                                            "passkey", "settings", "raw"};

// The fake model answers the needle question when the needle is in the last 600 characters of
// the context, and repeats the pass key it finds.
std::string fake_model(const std::string& prompt) {
  std::smatch key;
  if (std::regex_search(prompt, key, std::regex("The pass key is ([0-9]+)")))
    return fmt::format(" {}.", key[1].str());  // (not " " + ...: GCC 12's -Wrestrict misfires)
  size_t end = prompt.find("</book>"), needle = prompt.find("Dolores Park");
  if (end != std::string::npos && needle != std::string::npos && end - needle <= 600)
    return " eat a sandwich and sit in Dolores Park on a sunny day.";
  return " I do not know.";
}

class ReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const fs::path root = dir_->path();
    // 90 documents of three domains: Book long, C4 short, Github in between.
    std::mt19937 rng(11);
    const char* words[] = {"the", "keeper", "lit",  "a",    "lamp",    "at",    "night", "and",
                           "sea", "wind",   "rose", "over", "harbour", "boats", "came",  "home"};
    const char* domains[] = {"RedPajamaBook", "RedPajamaC4", "RedPajamaGithub"};
    const int lengths[] = {300, 40, 150};
    std::string corpus;
    for (int doc = 0; doc < 90; ++doc) {
      std::string text;
      for (int w = 0; w < lengths[doc % 3]; ++w)
        text += std::string(words[rng() % 16]) + (w % 12 == 11 ? ". " : " ");
      corpus += testing::jsonl_record(text, domains[doc % 3]);
    }
    testing::write_file(root / "corpus" / "a.jsonl", corpus);
    std::string haystack;
    for (int i = 0; i < 400; ++i) haystack += fmt::format("The lamp keeper wrote line {}. ", i);
    testing::write_file(root / "haystack" / "essay.txt", haystack);
    fs::create_directories(root / "tok");
    fs::copy_file(kTokenizer, root / "tok" / "tokenizer.model");

    const fs::path out = recipe();
    fs::create_directories(out);
    run_ok(fmt::format("stats {} --json {} -q", (root / "corpus").string(),
                       (out / "stats.json").string()));
    run_ok(fmt::format(
        "mix {} --tokenizer {} --strategy original --budget 12K --seq-len 256 "
        "--long-threshold 256 --out {} -q",
        (root / "corpus").string(), kTokenizer.string(), (out / "mix-original").string()));
    run_ok(fmt::format(
        "mix {} --tokenizer {} --strategy per-source --shares measured --budget 6K "
        "--seq-len 256 --long-threshold 256 --out {} -q",
        (root / "corpus").string(), kTokenizer.string(), (out / "mix-per-source").string()));
    run_ok(fmt::format("init --preset debug --tokenizer {} --out {}",
                       (root / "tok" / "tokenizer.model").string(), (root / "model").string()));
    for (const char* mix : {"original", "per-source"}) {
      run_ok(
          fmt::format("train --model {} --data {} --out {} --batch-tokens 512 --lr 1e-3 "
                      "--steps 3 --eval-every 1 --device cpu -q",
                      (root / "model").string(), (out / ("mix-" + std::string(mix))).string(),
                      (out / ("train-" + std::string(mix))).string()));
    }
    testing::FakeOpenAIServer server(fake_model);
    // The paper's scorer for the needle; the pass key is a number, scored by exact match.
    for (std::string task : {"needle", "passkey"}) {
      run_ok(fmt::format(
          "needle --endpoint {} --api-model fake-7b --tokenizer {} --haystack {} --task {} "
          "--scorer {} --lengths 400,900 --depths 0,50,100 --retries 0 --out {} -q",
          server.url(), kTokenizer.string(), (root / "haystack").string(), task,
          task == "passkey" ? "exact" : "paper", (out / (task + "-fake")).string()));
    }
    // Our trained model, at lengths around its 256-token rows (the dashed line falls between);
    // 80 tokens reserved hold the prompt's 77 around the context.
    run_ok(
        fmt::format("needle --model {} --device cpu --haystack {} --lengths 150,400 "
                    "--depths 0,100 --reserve 80 --max-new-tokens 2 --out {} -q",
                    (out / "train-per-source" / "model").string(), (root / "haystack").string(),
                    (out / "needle-ours").string()));
    testing::write_file(out / "notes" / "todo.txt", "not a run");  // skipped and counted

    report_ = new CommandResult(testing::run_longctx(fmt::format(
        "report {} --title \"Tiny recipe <test>\" --out {}", out.string(), report_dir().string())));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete dir_;
  }
  // Stops the set-up at the first command that fails (gtest reports the exception).
  static void run_ok(const std::string& args) {
    CommandResult r = testing::run_longctx(args);
    if (r.exit_code != 0)
      throw std::runtime_error(fmt::format("longctx {}: exit {}\n{}", args, r.exit_code, r.err));
  }
  static fs::path recipe() { return dir_->path() / "recipe"; }
  static fs::path report_dir() { return dir_->path() / "recipe" / "report"; }
  static std::string page() { return read_file(report_dir() / "index.html"); }
  // The text of <section id="ID"> up to its </section>.
  static std::string section(const std::string& id) {
    std::string html = page();
    size_t start = html.find("<section id=\"" + id + "\">");
    if (start == std::string::npos) return "";
    return html.substr(start, html.find("</section>", start) - start);
  }
  static testing::TempDir* dir_;
  static CommandResult* report_;
};
testing::TempDir* ReportCli::dir_ = nullptr;
CommandResult* ReportCli::report_ = nullptr;

// One test for the whole page: under ctest every test runs in a process of its own, which
// makes the inputs again (about 20 s).
TEST_F(ReportCli, ReportsEverySectionOfARecipeDirectory) {
  ASSERT_EQ(report_->exit_code, 0) << report_->err;
  EXPECT_EQ(report_->out, (report_dir() / "index.html").string() + "\n");
  // Every input found, the note folder skipped and counted.
  for (const char* name : {"mix-original", "mix-per-source", "train-original", "train-per-source",
                           "needle-fake", "passkey-fake", "needle-ours"})
    EXPECT_NE(report_->err.find(name), std::string::npos) << name << "\n" << report_->err;
  EXPECT_NE(report_->err.find("skipped 1 nested"), std::string::npos) << report_->err;
  std::string html = page();
  EXPECT_NE(html.find("<h1>Tiny recipe &lt;test&gt;</h1>"), std::string::npos);
  for (const std::string& id : kSections)
    EXPECT_NE(html.find("<section id=\"" + id + "\">"), std::string::npos) << id;
  EXPECT_EQ(html.find("<section id=\"evaluations\">"), std::string::npos);  // no such task run
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Nothing fetched: the only URL is the SVG namespace.
  std::string no_svg_ns =
      std::regex_replace(html, std::regex("http://www\\.w3\\.org/2000/svg"), "");
  EXPECT_EQ(no_svg_ns.find("http"), std::string::npos);

  // Each section shows its runs.
  std::string corpus = section("corpus");
  for (const char* domain : {"RedPajamaBook", "RedPajamaC4", "RedPajamaGithub"})
    EXPECT_NE(corpus.find(domain), std::string::npos) << domain;
  std::string mixtures = section("mixtures");
  EXPECT_NE(mixtures.find("<h3>mix-original (original)</h3>"), std::string::npos) << mixtures;
  EXPECT_NE(mixtures.find("<h3>mix-per-source (per-source)</h3>"), std::string::npos);
  EXPECT_NE(mixtures.find("<title>target Book: "), std::string::npos);  // budgeted: targets
  EXPECT_NE(mixtures.find("<title>after 0-1K: "), std::string::npos);   // the length panel
  std::string training = section("training");
  EXPECT_NE(training.find("id=\"fig-train-loss\""), std::string::npos);
  EXPECT_NE(training.find("id=\"fig-train-tokens-per-s\""), std::string::npos);
  EXPECT_NE(training.find("id=\"fig-train-lr\""), std::string::npos);
  EXPECT_NE(training.find("id=\"fig-train-domain-loss-train-per-source\""), std::string::npos);
  EXPECT_NE(training.find("<title>train-original: 1536, "), std::string::npos);  // 3 x 2 x 256
  std::string needle = section("needle");
  EXPECT_NE(needle.find(">fake-7b, acc "), std::string::npos) << needle;
  // Our model's panel: named after its run, the dashed line at its 256-token rows.
  EXPECT_NE(needle.find(">train-per-source, acc "), std::string::npos);
  EXPECT_NE(needle.find("stroke-dasharray"), std::string::npos);
  std::string passkey = section("passkey");
  EXPECT_NE(passkey.find(">fake-7b, acc 100.0</text>"), std::string::npos) << passkey;
  std::string settings = section("settings");
  EXPECT_NE(settings.find("<tr><td>eval_every</td><td class=\"value\">1</td></tr>"),
            std::string::npos);
  EXPECT_NE(settings.find("<tr><td>task</td><td class=\"value\">passkey</td></tr>"),
            std::string::npos);

  // Every link resolves; every figure has its SVG and PNG.
  std::regex href("href=\"([^\"#][^\"]*)\"");
  size_t links = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator();
       ++it, ++links) {
    EXPECT_TRUE(fs::is_regular_file(report_dir() / (*it)[1].str())) << (*it)[1].str();
  }
  EXPECT_GT(links, 20u);
  EXPECT_EQ(read_file(report_dir() / "raw" / "train-per-source" / "metrics.jsonl"),
            read_file(recipe() / "train-per-source" / "metrics.jsonl"));
  size_t figures = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(report_dir() / "figures")) {
    if (e.path().extension() != ".svg") continue;
    ++figures;
    fs::path png = e.path();
    png.replace_extension(".png");
    testing::RgbImage image = testing::decode_png(read_file(png));
    EXPECT_GT(image.width, 300) << png;
  }
  EXPECT_EQ(figures, 12u);  // corpus 1, mixes 4, training 3 + 2, needle 1, passkey 1
}

// Errors need no real runs: hand-written ones (tests/support/report_fixtures.h) will do.
TEST(ReportCliErrors, NameWhatIsWrong) {
  testing::TempDir dir;
  const fs::path root = dir.path();
  testing::write_file(root / "notes" / "todo.txt", "not a run");
  testing::write_train_run(root / "train");
  testing::write_file(root / "busy" / "thesis.tex", "mine");
  CommandResult unknown = testing::run_longctx(
      fmt::format("report {} --out {}", (root / "notes").string(), (root / "r1").string()));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(
      unknown.err.find("longctx report: error: " + (root / "notes").string() + " holds no input"),
      std::string::npos)
      << unknown.err;
  CommandResult missing = testing::run_longctx(
      fmt::format("report {} --out {}", (root / "nope").string(), (root / "r2").string()));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  CommandResult no_inputs =
      testing::run_longctx(fmt::format("report --out {}", (root / "r3").string()));
  EXPECT_NE(no_inputs.exit_code, 0);
  CommandResult busy = testing::run_longctx(
      fmt::format("report {} --out {} -q", (root / "train").string(), (root / "busy").string()));
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("holds files but no report"), std::string::npos) << busy.err;
  EXPECT_EQ(read_file(root / "busy" / "thesis.tex"), "mine");
  // The same inputs into a fresh directory work; --help explains inputs and outputs.
  CommandResult ok = testing::run_longctx(
      fmt::format("report {} --out {} -q", (root / "train").string(), (root / "r4").string()));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, (root / "r4" / "index.html").string() + "\n");
  EXPECT_EQ(ok.err, "");  // --quiet
  CommandResult help = testing::run_longctx("report --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("results.jsonl + settings.json"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--train-len"), std::string::npos);
}

// ---- the browser ----

std::string chromium_binary() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(path)) return path;
  return "";
}

// Headless Chromium with no network traffic of its own, a fresh profile, killed after 60 s.
CommandResult run_chromium(const std::string& binary, const fs::path& profile,
                           const std::string& args) {
  return testing::run_command(fmt::format(
      "timeout -k 5 60 {} --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --no-first-run --disable-sync --disable-quic "
      "--user-data-dir={} {}",
      binary, profile.string(), args));
}

TEST_F(ReportCli, ChromiumLoadsThePageAndItsScreenshotIsNotBlank) {
  std::string chromium = chromium_binary();
  if (chromium.empty()) GTEST_SKIP() << "no chromium (apt-get install chromium) to load the page";
  ASSERT_EQ(report_->exit_code, 0) << report_->err;
  std::string url = "file://" + (report_dir() / "index.html").string();

  testing::TempDir profile;
  CommandResult dom = run_chromium(chromium, profile.path() / "dom", "--dump-dom " + url);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  for (const std::string& id : kSections)
    EXPECT_NE(dom.out.find("<section id=\"" + id + "\">"), std::string::npos) << id;
  std::string html = page();
  EXPECT_EQ(testing::count_of(dom.out, "<svg "), testing::count_of(html, "<svg "));
  EXPECT_NE(dom.out.find("id=\"fig-needle\""), std::string::npos);

  fs::path shot = profile.path() / "shot.png";
  CommandResult taken =
      run_chromium(chromium, profile.path() / "shot",
                   fmt::format("--screenshot={} --window-size=1200,3000 {}", shot.string(), url));
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  testing::RgbImage image = testing::decode_png(read_file(shot));
  EXPECT_EQ(image.width, 1200);
  EXPECT_EQ(image.height, 3000);
  std::set<uint32_t> colors;
  size_t non_white = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      testing::Rgb c = image.at(x, y);
      colors.insert(c[0] << 16 | c[1] << 8 | c[2]);
      non_white += c != testing::Rgb{255, 255, 255};
    }
  EXPECT_GT(colors.size(), 50u);  // text, bars in every series colour, antialiasing
  EXPECT_GT(non_white, static_cast<size_t>(image.width) * image.height / 50);  // > 2% inked
  if (const char* keep = std::getenv("LONGCTX_REPORT_SCREENSHOT"))
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
}

}  // namespace
}  // namespace longctx
