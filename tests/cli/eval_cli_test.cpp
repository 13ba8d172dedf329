// End-to-end tests of `longctx eval loss|mmlu|bookqa` on the CPU: a corpus mixed here with the
// checked-in tiny SentencePiece model, a debug model from `longctx init` with the same
// tokenizer; the endpoint backends against the fake OpenAI-compatible server.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "longctx/base/files.h"
#include "support/fake_openai_server.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;

const fs::path kTokenizer = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model";

// One corpus, one mix (rows of 128 tokens, two domains) and one debug model for all tests.
class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const fs::path root = dir_->path();
    testing::write_file(root / "corpus" / "a.jsonl", testing::two_domain_corpus(40));
    fs::create_directories(root / "tok");
    fs::copy_file(kTokenizer, root / "tok" / "tokenizer.model");
    CommandResult mix = testing::run_longctx(fmt::format(
        "mix {} --tokenizer {} --strategy original --budget 4K --seq-len 128 --out {} -q",
        (root / "corpus").string(), (root / "tok" / "tokenizer.model").string(), data().string()));
    ASSERT_EQ(mix.exit_code, 0) << mix.err;
    CommandResult init = testing::run_longctx(
        fmt::format("init --preset debug --tokenizer {} --out {}",
                    (root / "tok" / "tokenizer.model").string(), model().string()));
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path data() { return dir_->path() / "mix"; }
  static fs::path model() { return dir_->path() / "model"; }
  static fs::path path(const std::string& name) { return dir_->path() / name; }
  static testing::TempDir* dir_;
};
testing::TempDir* EvalCli::dir_ = nullptr;

nlohmann::json read_json(const fs::path& file) {
  return nlohmann::json::parse(read_file(file));
}

// Row `row` of the mix's data.bin (uint16 tokens: the tiny vocabulary has 1600 ids).
std::vector<int> row_ids(const fs::path& mix, int row, int seq_len) {
  std::string bin = read_file(mix / "data.bin");
  std::vector<int> ids;
  for (int p = 0; p < seq_len; ++p) {
    uint16_t v = 0;
    std::memcpy(&v, bin.data() + (static_cast<size_t>(row) * seq_len + p) * 2, 2);
    ids.push_back(v);
  }
  return ids;
}

TEST_F(EvalCli, LossMatchesScoreTokenByTokenAndWritesTheReport) {
  fs::path out = path("loss");
  CommandResult r = testing::run_longctx(
      fmt::format("eval loss --model {} --data {} --out {} --device cpu --rows 3 --batch 2 "
                  "--chunk 48 --buckets 0,64,128 --loss-at 32,128 --save-token-losses -q",
                  model().string(), data().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Loss@n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Book"), std::string::npos) << r.out;
  nlohmann::json j = read_json(out / "loss.json");
  EXPECT_EQ(j["format"], "longctx.eval-loss.v1");
  EXPECT_EQ(j["rows"], 3);
  EXPECT_EQ(j["seq_len"], 128);
  EXPECT_EQ(j["tokens"], 3 * 127);
  std::set<std::string> domains(j["domains"].begin(), j["domains"].end());
  EXPECT_EQ(domains, (std::set<std::string>{"RedPajamaC4", "RedPajamaBook", "all"}));
  EXPECT_EQ(j["domains"].back(), "all");
  uint64_t counted = 0;
  for (const nlohmann::json& cell : j["table"])
    if (cell["domain"] == "all") counted += cell["tokens"].get<uint64_t>();
  EXPECT_EQ(counted, 3u * 127);
  EXPECT_TRUE(fs::exists(out / "loss.svg"));

  // Row 1's saved losses against `longctx score` on the same ids, a different code path.
  std::string bytes = read_file(out / "token_losses.f32");
  ASSERT_EQ(bytes.size(), 3u * 127 * 4);
  std::vector<int> ids = row_ids(data(), 1, 128);
  std::string text;
  for (int id : ids) text += std::to_string(id) + " ";
  testing::write_file(path("row1.txt"), text);
  CommandResult score =
      testing::run_longctx(fmt::format("score --model {} --ids-file {} --json --device cpu",
                                       model().string(), path("row1.txt").string()));
  ASSERT_EQ(score.exit_code, 0) << score.err;
  std::vector<float> expected =
      nlohmann::json::parse(score.out)["losses"].get<std::vector<float>>();
  ASSERT_EQ(expected.size(), 127u);
  for (size_t p = 0; p < 127; ++p) {
    float ours = 0;
    std::memcpy(&ours, bytes.data() + (127 + p) * 4, 4);
    EXPECT_NEAR(ours, expected[p], 1e-4) << p;
  }

  // Against itself as the baseline: every difference 0, marked same.
  fs::path again = path("loss-again");
  CommandResult b = testing::run_longctx(
      fmt::format("eval loss --model {} --data {} --out {} --device cpu --rows 3 --batch 3 "
                  "--buckets 0,64,128 --loss-at 32,128 --baseline {} -q",
                  model().string(), data().string(), again.string(), (out / "loss.json").string()));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("Table 5"), std::string::npos) << b.out;
  nlohmann::json k = read_json(again / "loss.json");
  ASSERT_FALSE(k["baseline"]["table"].empty());
  for (const nlohmann::json& d : k["baseline"]["table"]) {
    EXPECT_EQ(d["mark"], "same");
    EXPECT_NEAR(d["delta"].get<double>(), 0.0, 1e-5);
  }
  // The same rows give the same intervals whatever the batch and chunk.
  for (int side = 0; side < 2; ++side)
    EXPECT_NEAR(k["table"][0]["ci95"][side].get<double>(),
                j["table"][0]["ci95"][side].get<double>(), 1e-5);
}

TEST_F(EvalCli, LossReadsAMegatronPrefixWithSeqLenAndNamesBadSettings) {
  CommandResult r = testing::run_longctx(
      fmt::format("eval loss --model {} --data {} --seq-len 64 --out {} --device cpu --rows 2 -q",
                  model().string(), (data() / "data").string(), path("loss-megatron").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = read_json(path("loss-megatron") / "loss.json");
  EXPECT_EQ(j["seq_len"], 64);
  EXPECT_EQ(j["domains"], (nlohmann::json{"all"}));  // a Megatron dataset's one domain
  CommandResult bad = testing::run_longctx(
      fmt::format("eval loss --model {} --data {} --out {} --buckets 0,100,50 -q", model().string(),
                  data().string(), path("loss-bad").string()));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("longctx eval: error: --buckets"), std::string::npos) << bad.err;
}

// Two subjects in the original CSV layout, one bad row (five columns).
fs::path write_mmlu(const fs::path& dir) {
  testing::write_file(dir / "dev/anatomy_dev.csv",
                      "Which bone is longest?,Femur,Tibia,Ulna,Rib,A\n"
                      "\"Where is the patella, the kneecap?\",Arm,Knee,Skull,Foot,B\n");
  testing::write_file(dir / "dev/sociology_dev.csv",
                      "Who wrote Suicide?,Durkheim,Weber,Marx,Comte,A\n"
                      "What is a norm?,A rule,A law,A place,A fine,A\n");
  testing::write_file(dir / "test/anatomy_test.csv",
                      "How many ribs?,12 pairs,10 pairs,8 pairs,6 pairs,A\n"
                      "Heart chambers?,2,3,4,5,C\n"
                      "bad,row,with,five,A\n"
                      "Largest organ?,Skin,Liver,Lung,Brain,A\n");
  testing::write_file(dir / "test/sociology_test.csv",
                      "Who coined sociology?,Comte,Marx,Weber,Mead,A\n"
                      "\"A \"\"quoted\"\" term?\",x,y,z,w,D\n");
  return dir;
}

TEST_F(EvalCli, MmluNativeWritesOneLinePerQuestionAndResumes) {
  fs::path mmlu = write_mmlu(path("mmlu-data"));
  fs::path out = path("mmlu");
  std::string args =
      fmt::format("eval mmlu --model {} --data {} --out {} --device cpu --shots 2 -q",
                  model().string(), mmlu.string(), out.string());
  CommandResult r = testing::run_longctx(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The five-column row is skipped, named by its file and line.
  EXPECT_NE(r.err.find("anatomy_test.csv:3: 5 columns, expected 6"), std::string::npos) << r.err;
  std::vector<nlohmann::json> lines = testing::read_jsonl(out / "results.jsonl");
  ASSERT_EQ(lines.size(), 5u);
  for (const nlohmann::json& l : lines) {
    EXPECT_EQ(l["loglikelihoods"].size(), 4u);
    double best = -INFINITY;
    int argmax = -1;
    for (int c = 0; c < 4; ++c) {
      double ll = l["loglikelihoods"][c].get<double>();
      if (ll > best) {
        best = ll;
        argmax = c;
      }
    }
    EXPECT_EQ(l["prediction"], argmax);
    EXPECT_LT(best, 0.0);
  }
  nlohmann::json summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["questions"], 5);
  EXPECT_EQ(summary["subjects"]["anatomy"]["questions"], 3);
  EXPECT_EQ(summary["categories"]["stem"]["questions"], 3);
  EXPECT_EQ(summary["categories"]["social_sciences"]["questions"], 2);
  EXPECT_EQ(summary["skipped_records"]["total"], 1);
  // A rerun scores nothing again.
  CommandResult again = testing::run_longctx(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(testing::read_jsonl(out / "results.jsonl").size(), 5u);
  EXPECT_NE(again.out.find("0 scored now"), std::string::npos) << again.out;
}

TEST_F(EvalCli, MmluEndpointScoresEchoedLogprobsAndRetriesFailedQuestions) {
  fs::path mmlu = write_mmlu(path("mmlu-data-2"));
  testing::FakeOpenAIServer server([](const std::string&) { return ""; });
  // Every token of choice c has log-probability -(c + 1) / 10; the first request fails.
  server.set_token_logprob(
      [](const std::vector<int32_t>&, size_t, size_t choice) { return -(choice + 1.0) / 10; });
  server.fail_next(1, 400);
  fs::path out = path("mmlu-endpoint");
  std::string args = fmt::format(
      "eval mmlu --endpoint {} --tokenizer {} --data {} --out {} --shots 1 --retries 0 "
      "--concurrency 1 -q",
      server.url(), (dir_->path() / "tok" / "tokenizer.model").string(), mmlu.string(),
      out.string());
  CommandResult r = testing::run_longctx(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;  // one question failed
  nlohmann::json summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["failed"], 1);
  CommandResult again = testing::run_longctx(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["questions"], 5);
  nlohmann::json body = nlohmann::json::parse(server.last_body());
  EXPECT_TRUE(body["echo"].get<bool>());
  EXPECT_EQ(body["prompt"].size(), 4u);  // the four continuations in one request
  EXPECT_EQ(body["prompt"][0][0], 1);    // BOS first
}

TEST_F(EvalCli, MmluDumpsRequestsForTheBenchmarks) {
  fs::path mmlu = write_mmlu(path("mmlu-data-3"));
  CommandResult r = testing::run_longctx(
      fmt::format("eval mmlu --tokenizer {} --data {} --shots 2 --dump-requests {}",
                  (dir_->path() / "tok" / "tokenizer.model").string(), mmlu.string(),
                  path("requests.jsonl").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> lines = testing::read_jsonl(path("requests.jsonl"));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["continuations"].size(), 4u);
  EXPECT_EQ(lines[0]["context"][0], 1);
  EXPECT_EQ(lines[0]["group"], 0);  // anatomy
  EXPECT_EQ(lines[4]["group"], 1);  // sociology
}

// Three questions; one book far longer than --truncate; one line without `answer`.
fs::path write_bookqa(const fs::path& file) {
  std::string long_book;
  for (int i = 0; i < 400; ++i) long_book += "the keeper lit a lamp at night and the sea rose. ";
  std::string text;
  text += nlohmann::json{{"id", 0},
                         {"context", "A short book about the harbour."},
                         {"input", "What is the book about?"},
                         {"answer", {"the harbour"}},
                         {"options", nlohmann::json::array()}}
              .dump() +
          "\n";
  text += nlohmann::json{{"id", 1}, {"context", "no answer"}, {"input", "?"}}.dump() + "\n";
  text += nlohmann::json{{"id", 2},
                         {"context", long_book},
                         {"input", "What is the capital?"},
                         {"answer", {"Paris", "the city of Paris"}}}
              .dump() +
          "\n";
  testing::write_file(file, text);
  return file;
}

TEST_F(EvalCli, BookQaNativeTruncatesLongBooksAndResumes) {
  fs::path data = write_bookqa(path("qa.jsonl"));
  fs::path out = path("bookqa");
  std::string args = fmt::format(
      "eval bookqa --model {} --data {} --out {} --device cpu --truncate 200 --max-new-tokens 4 -q",
      model().string(), data.string(), out.string());
  CommandResult r = testing::run_longctx(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("qa.jsonl:2: no `answer` field"), std::string::npos) << r.err;
  std::vector<nlohmann::json> lines = testing::read_jsonl(out / "results.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  for (const nlohmann::json& l : lines) {
    if (l["index"] == 2) {
      EXPECT_EQ(l["prompt_tokens"], 200);
      EXPECT_GT(l["full_tokens"].get<int>(), 2000);
      EXPECT_EQ(l["answers"].size(), 2u);
    } else {
      EXPECT_EQ(l["prompt_tokens"], l["full_tokens"]);
    }
  }
  nlohmann::json summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["examples"], 2);
  EXPECT_EQ(summary["truncated"], 1);
  EXPECT_EQ(summary["skipped_records"]["by_reason"]["missing_answer"], 1);
  CommandResult again = testing::run_longctx(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(testing::read_jsonl(out / "results.jsonl").size(), 2u);
}

TEST_F(EvalCli, BookQaEndpointSendsTheCutPromptAndScoresTheAnswer) {
  fs::path data = write_bookqa(path("qa2.jsonl"));
  testing::FakeOpenAIServer server([](const std::string& prompt) {
    return prompt.find("capital") != std::string::npos ? " Paris is the city." : " the harbour";
  });
  fs::path out = path("bookqa-endpoint");
  CommandResult r = testing::run_longctx(fmt::format(
      "eval bookqa --endpoint {} --tokenizer {} --data {} --out {} --truncate 200 --concurrency 1 "
      "-q",
      server.url(), (dir_->path() / "tok" / "tokenizer.model").string(), data.string(),
      out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int, nlohmann::json> by_index;
  for (const nlohmann::json& l : testing::read_jsonl(out / "results.jsonl"))
    by_index[l["index"]] = l;
  // " the harbour" against "the harbour": recall 1, F1 1 (articles dropped on both sides).
  EXPECT_DOUBLE_EQ(by_index[0]["recall"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(by_index[0]["f1"].get<double>(), 1.0);
  // " Paris is the city." against "Paris": recall 1 ("paris" is a word of it); F1 against
  // "the city of Paris" ([city of paris] vs [paris is city]: 2 of 3 each way) is 2/3.
  EXPECT_DOUBLE_EQ(by_index[2]["recall"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(by_index[2]["f1"].get<double>(), 2.0 / 3.0);
  // The last request was the cut book: the template's start and its end with the question.
  std::string sent = nlohmann::json::parse(server.last_body())["prompt"].get<std::string>();
  if (sent.find("capital") != std::string::npos) {
    EXPECT_EQ(sent.rfind("<|im_start|>Read the book below and answer a question.", 0), 0u) << sent;
    EXPECT_NE(sent.find("\n\nQuestion: What is the capital?\n\nAnswer:"), std::string::npos);
    EXPECT_LT(sent.size(), 2000u);
  }
}

}  // namespace
}  // namespace longctx
