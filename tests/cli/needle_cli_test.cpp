// End-to-end tests of `longctx needle`: against a fake OpenAI-compatible server whose "model"
// sees only the last K characters of its prompt's context (so the grid's expected scores are
// known cell by cell), with resume, failures and the heatmaps; `needle plot`; and the native
// backend on a debug model, with prefix reuse.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "longctx/base/files.h"
#include "support/fake_openai_server.h"
#include "support/fixtures.h"
#include "support/png_reader.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;

const fs::path kTokenizer = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model";

// A haystack of numbered sentences, each ending in a period.
fs::path write_haystack(const fs::path& dir) {
  std::string text;
  for (int i = 0; i < 400; ++i)
    text += fmt::format("The lamp keeper wrote line {} in the log. ", i);
  testing::write_file(dir / "haystack" / "essay.txt", text);
  return dir / "haystack";
}

// The fake model answers only if the needle is within the last `window` characters of the
// context (the text before "</book>"): a model that "sees" only recent tokens.
std::string answer_if_recent(const std::string& prompt, size_t window) {
  size_t end = prompt.find("</book>");
  size_t needle = prompt.find("Dolores Park");
  if (end == std::string::npos || needle == std::string::npos) return " I do not know.";
  return end - needle <= window ? " eat a sandwich and sit in Dolores Park on a sunny day."
                                : " I do not know.";
}

TEST(NeedleCli, EndpointGridScoresAndResume) {
  testing::TempDir dir;
  fs::path haystack = write_haystack(dir.path());
  testing::FakeOpenAIServer server([](const std::string& p) { return answer_if_recent(p, 600); });
  fs::path out = dir.path() / "run";
  std::string args = fmt::format(
      "needle --endpoint {} --tokenizer {} --haystack {} --lengths 400,900 --depths 0,50,100 "
      "--out {} --retries 0 --train-len 600 --title fake -q",
      server.url(), kTokenizer.string(), haystack.string(), out.string());
  CommandResult r = testing::run_longctx(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> results = testing::read_jsonl(out / "results.jsonl");
  ASSERT_EQ(results.size(), 6u);
  std::map<std::pair<int, int>, double> score;
  for (const nlohmann::json& j : results)
    score[std::pair(j["length"].get<int>(), static_cast<int>(j["depth"].get<double>()))] =
        j["scores"]["paper"].get<double>();
  auto at = [&](int length, int depth) { return score[std::pair(length, depth)]; };
  // Depth 100 is always recent; depth 0 of the long context is not; the short context fits
  // the window everywhere.
  EXPECT_DOUBLE_EQ(at(400, 0), 11.0 / 12);
  EXPECT_DOUBLE_EQ(at(400, 100), 11.0 / 12);
  EXPECT_DOUBLE_EQ(at(900, 100), 11.0 / 12);
  EXPECT_DOUBLE_EQ(at(900, 0), 0.0);
  EXPECT_TRUE(fs::exists(out / "heatmap.svg"));
  EXPECT_TRUE(fs::exists(out / "heatmap.png"));
  EXPECT_TRUE(fs::exists(out / "settings.json"));
  std::string svg = read_file(out / "heatmap.svg");
  EXPECT_NE(svg.find("fake, acc"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // --train-len 600
  // heatmap.png is the SVG rasterised at twice its size, text included: the title's dark glyph
  // pixels lie in the band above the grid (the old PNG writer drew no text).
  std::smatch size;
  ASSERT_TRUE(std::regex_search(svg, size, std::regex("width=\"([0-9]+)\" height=\"([0-9]+)\"")));
  testing::RgbImage png = testing::decode_png(read_file(out / "heatmap.png"));
  EXPECT_EQ(png.width, 2 * std::stoi(size[1].str()));
  EXPECT_EQ(png.height, 2 * std::stoi(size[2].str()));
  size_t dark = 0;
  for (int y = 0; y < 2 * 28; ++y)
    for (int x = 0; x < png.width; ++x) {
      testing::Rgb c = png.at(x, y);
      dark += c[0] < 100 && c[1] < 100 && c[2] < 100;
    }
  EXPECT_GT(dark, 50u);

  // A rerun skips finished cells: the server sees no new request.
  int before = server.requests();
  CommandResult again = testing::run_longctx(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.requests(), before);
  EXPECT_EQ(testing::read_jsonl(out / "results.jsonl").size(), 6u);
}

TEST(NeedleCli, FailedCellsAreReportedAndRunAgain) {
  testing::TempDir dir;
  fs::path haystack = write_haystack(dir.path());
  testing::FakeOpenAIServer server([](const std::string& p) { return answer_if_recent(p, 600); });
  server.fail_next(2, 500);
  fs::path out = dir.path() / "run";
  std::string args = fmt::format(
      "needle --endpoint {} --tokenizer {} --haystack {} --lengths 400 --depths 0,50,100 "
      "--out {} --retries 0 --concurrency 1 -q",
      server.url(), kTokenizer.string(), haystack.string(), out.string());
  CommandResult r = testing::run_longctx(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("2 failed"), std::string::npos) << r.out;
  size_t errors = 0;
  for (const nlohmann::json& j : testing::read_jsonl(out / "results.jsonl"))
    errors += j.value("error", std::string()).empty() ? 0 : 1;
  EXPECT_EQ(errors, 2u);
  CommandResult again = testing::run_longctx(args);  // the two failed cells run again and succeed
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("0 failed"), std::string::npos) << again.out;
}

TEST(NeedleCli, PlotDrawsPanelsSideBySide) {
  testing::TempDir dir;
  fs::path haystack = write_haystack(dir.path());
  testing::FakeOpenAIServer near([](const std::string& p) { return answer_if_recent(p, 300); });
  testing::FakeOpenAIServer far([](const std::string& p) { return answer_if_recent(p, 100000); });
  for (auto [name, server] : {std::pair{"near", &near}, std::pair{"far", &far}}) {
    CommandResult r = testing::run_longctx(fmt::format(
        "needle --endpoint {} --tokenizer {} --haystack {} --lengths 400,900 --depths 0,100 "
        "--out {} -q",
        server->url(), kTokenizer.string(), haystack.string(), (dir.path() / name).string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  CommandResult plot = testing::run_longctx(fmt::format(
      "needle plot {} {} --titles near far --out {}", (dir.path() / "near/results.jsonl").string(),
      (dir.path() / "far/results.jsonl").string(), (dir.path() / "both.svg").string()));
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  std::string svg = read_file(dir.path() / "both.svg");
  EXPECT_NE(svg.find("near, acc"), std::string::npos);
  EXPECT_NE(svg.find("far, acc 91.7"), std::string::npos);  // every cell 11/12
  EXPECT_TRUE(fs::exists(dir.path() / "both.png"));
}

TEST(NeedleCli, NativeBackendOnTheDebugModelReusesPrefixes) {
  testing::TempDir dir;
  fs::path haystack = write_haystack(dir.path());
  fs::create_directories(dir.path() / "tok");
  fs::copy_file(kTokenizer, dir.path() / "tok" / "tokenizer.model");
  fs::path model = dir.path() / "model";
  ASSERT_EQ(testing::run_longctx(fmt::format("init --preset debug --tokenizer {} --out {}",
                                             (dir.path() / "tok" / "tokenizer.model").string(),
                                             model.string()))
                .exit_code,
            0);
  CommandResult r = testing::run_longctx(fmt::format(
      "needle --model {} --device cpu --haystack {} --lengths 300,500 --depths 0,50,100 "
      "--max-new-tokens 4 --out {} -q",
      model.string(), haystack.string(), (dir.path() / "run").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> results = testing::read_jsonl(dir.path() / "run" / "results.jsonl");
  ASSERT_EQ(results.size(), 6u);
  // Each prompt: the context (length - 200 reserved tokens) plus the template and question,
  // within the length.
  for (const nlohmann::json& j : results) {
    EXPECT_GT(j["prompt_tokens"].get<int64_t>(), j["length"].get<int64_t>() - 200);
    EXPECT_LE(j["prompt_tokens"].get<int64_t>(), j["length"].get<int64_t>());
  }
  EXPECT_NE(r.out.find("saved by prefix reuse"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("(0.0%) saved"), std::string::npos) << r.out;
}

TEST(NeedleCli, HaystackFromACorpusDomain) {
  testing::TempDir dir;
  std::string corpus;
  for (int i = 0; i < 30; ++i) {
    corpus += testing::jsonl_record(
        fmt::format("Chapter {}. The whale swam far. The sea was grey.", i), "RedPajamaBook");
    corpus += testing::jsonl_record("short web text", "RedPajamaC4");
  }
  testing::write_file(dir.path() / "corpus" / "a.jsonl", corpus);
  testing::FakeOpenAIServer server([](const std::string& p) {
    // Only Book text may form the haystack.
    return p.find("short web text") == std::string::npos && p.find("whale") != std::string::npos
               ? " eat a sandwich and sit in Dolores Park on a sunny day."
               : " no";
  });
  CommandResult r = testing::run_longctx(fmt::format(
      "needle --endpoint {} --tokenizer {} --haystack-corpus {} --lengths 400 --depths 50 "
      "--out {} -q",
      server.url(), kTokenizer.string(), (dir.path() / "corpus").string(),
      (dir.path() / "run").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("acc 91.7"), std::string::npos) << r.out;
  CommandResult missing = testing::run_longctx(fmt::format(
      "needle --endpoint {} --tokenizer {} --haystack-corpus {} --haystack-domain RedPajamaArXiv "
      "--lengths 400 --depths 50 --out {} -q",
      server.url(), kTokenizer.string(), (dir.path() / "corpus").string(),
      (dir.path() / "run2").string()));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("RedPajamaArXiv"), std::string::npos) << missing.err;
}

TEST(NeedleCli, DumpPromptsWritesEveryCellsIds) {
  testing::TempDir dir;
  fs::path haystack = write_haystack(dir.path());
  fs::path file = dir.path() / "prompts.jsonl";
  CommandResult r = testing::run_longctx(fmt::format(
      "needle --tokenizer {} --haystack {} --lengths 400,900 --depths 0,50,100 --dump-prompts {}",
      kTokenizer.string(), haystack.string(), file.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> lines = testing::read_jsonl(file);
  ASSERT_EQ(lines.size(), 6u);
  for (const nlohmann::json& j : lines) {
    std::vector<int32_t> ids = j["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids.front(), 1);  // BOS
    EXPECT_LE(static_cast<int64_t>(ids.size()), j["length"].get<int64_t>());
    EXPECT_GT(static_cast<int64_t>(ids.size()), j["length"].get<int64_t>() - 200);
  }
}

TEST(NeedleCli, ErrorsNameTheFlag) {
  CommandResult both = testing::run_longctx("needle --model m --endpoint http://x --out o");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("either --model"), std::string::npos) << both.err;
  CommandResult no_tok = testing::run_longctx("needle --endpoint http://127.0.0.1:1 --out o");
  EXPECT_NE(no_tok.err.find("--tokenizer"), std::string::npos) << no_tok.err;
  CommandResult bad =
      testing::run_longctx(fmt::format("needle --endpoint http://127.0.0.1:1 --tokenizer {} "
                                       "--haystack {} --lengths ten --out o",
                                       kTokenizer.string(), kTokenizer.string()));
  EXPECT_NE(bad.err.find("--lengths"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace longctx
