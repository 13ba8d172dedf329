// The tokenizer is tested with a tiny SentencePiece BPE model trained by the test fixtures
// (train_sentencepiece_bpe), and checked against Debian's independent command-line encoder
// (spm_encode).
#include "longctx/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "longctx/base/error.h"
#include "support/fixtures.h"
#include "support/sentencepiece_fixture.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Ids printed by spm_encode for each line of `texts`.
std::vector<std::vector<int32_t>> spm_encode(const fs::path& model, const fs::path& scratch,
                                             const std::vector<std::string>& texts) {
  std::string input;
  for (const std::string& t : texts) input += t + "\n";
  fs::path input_path = scratch / "encode-input.txt";
  testing::write_file(input_path, input);
  testing::CommandResult r = testing::run_command(fmt::format(
      "spm_encode --model={} --output_format=id < {}", model.string(), input_path.string()));
  if (r.exit_code != 0) throw std::runtime_error("spm_encode failed: " + r.err);
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream numbers(line);
    std::vector<int32_t> row;
    int32_t id;
    while (numbers >> id) row.push_back(id);
    ids.push_back(row);
  }
  return ids;
}

std::string error_of(const fs::path& path) {
  try {
    load_tokenizer(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class TinyModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_ = new fs::path(testing::train_sentencepiece_bpe(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }
  static TempDir* dir_;
  static fs::path* model_;
};
TempDir* TinyModel::dir_ = nullptr;
fs::path* TinyModel::model_ = nullptr;

const std::vector<std::string> kTexts = {
    "kato rine musa",
    "lo pe di vu zi an el or us th",
    "caf\xc3\xa9 \xe4\xb8\xad kari",
    "end of text </s> and <s> stay plain text",
    "a/b c<d e>f",
    "tokatokatokatoka",
    "x",
    "",
    "unseen letters QWXY and digits 12345",
};

TEST_F(TinyModel, VocabularyAndSpecialIds) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  EXPECT_EQ(tok->vocab_size(), 200u);
  EXPECT_EQ(tok->bos_id(), 1);  // SentencePiece's defaults: unk 0, bos 1, eos 2
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->description(), "sentencepiece:" + model_->string());
}

TEST_F(TinyModel, EncodeMatchesTheCommandLineEncoder) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  std::vector<std::vector<int32_t>> reference = spm_encode(*model_, dir_->path(), kTexts);
  ASSERT_EQ(reference.size(), kTexts.size());
  for (size_t i = 0; i < kTexts.size(); ++i) {
    SCOPED_TRACE(kTexts[i]);
    EXPECT_EQ(tok->encode(kTexts[i]), reference[i]);
    EXPECT_EQ(tok->count(kTexts[i]), reference[i].size());
  }
}

TEST_F(TinyModel, NoBosOrEosIsAddedAndSpecialTextIsPlain) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  EXPECT_TRUE(tok->encode("").empty());
  std::vector<int32_t> ids = tok->encode("</s> <s> kato");
  EXPECT_GT(ids.size(), 2u);
  for (int32_t id : ids) {
    EXPECT_NE(id, tok->bos_id());
    EXPECT_NE(id, tok->eos_id());
  }
  EXPECT_EQ(tok->decode(ids), "</s> <s> kato");
}

// With kParse, control-piece text is cut out and each piece of text around it is encoded on
// its own (with its own dummy prefix), as HF tokenizers does on the converted tokenizer.json.
TEST_F(TinyModel, ParseSpecialCutsOutControlPieces) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  std::vector<int32_t> want = tok->encode("kato");
  want.push_back(tok->eos_id());
  want.push_back(tok->bos_id());
  for (int32_t id : tok->encode(" rine")) want.push_back(id);
  EXPECT_EQ(tok->encode("kato</s><s> rine", SpecialTokens::kParse), want);
  EXPECT_EQ(tok->encode("</s>", SpecialTokens::kParse), (std::vector<int32_t>{tok->eos_id()}));
  EXPECT_EQ(tok->encode("<s", SpecialTokens::kParse), tok->encode("<s"));
}

TEST_F(TinyModel, DecodeOfEncodeIsTheText) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  for (const std::string& text :
       {std::string("kato rine musa"), std::string("caf\xc3\xa9 \xe4\xb8\xad kari."),
        std::string("a/b c<d e>f"), std::string("th us or el an zi vu di pe lo"),
        std::string("")}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
  // Every line the model was trained on.
  std::istringstream lines(testing::sentencepiece_training_text());
  std::string line;
  for (int i = 0; i < 50 && std::getline(lines, line); ++i) {
    EXPECT_EQ(tok->decode(tok->encode(line)), line);
  }
}

TEST_F(TinyModel, ConcurrentEncodesAgreeWithSequentialOnes) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer(*model_);
  std::vector<std::vector<int32_t>> sequential;
  for (const std::string& text : kTexts) sequential.push_back(tok->encode(text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (size_t i = 0; i < kTexts.size(); ++i) {
          if (tok->encode(kTexts[i]) != sequential[i]) ++mismatches[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(TinyModel, ModelDirectoryHoldingTokenizerModel) {
  TempDir dir;
  fs::copy_file(*model_, dir.path() / "tokenizer.model");
  std::unique_ptr<Tokenizer> tok = load_tokenizer(dir.path());
  EXPECT_EQ(tok->vocab_size(), 200u);
  EXPECT_EQ(tok->description(), "sentencepiece:" + (dir.path() / "tokenizer.model").string());
  std::unique_ptr<Tokenizer> direct = load_tokenizer(*model_);
  EXPECT_EQ(tok->encode("kato rine"), direct->encode("kato rine"));
}

TEST(TokenizerLoad, MissingPath) {
  TempDir dir;
  fs::path missing = dir.path() / "nope.model";
  EXPECT_EQ(error_of(missing), "tokenizer " + missing.string() + ": no such file or directory");
}

TEST(TokenizerLoad, DirectoryWithoutTokenizerFiles) {
  TempDir dir;
  testing::write_file(dir.path() / "config.json", "{}");
  EXPECT_EQ(error_of(dir.path()),
            dir.path().string() + ": no tokenizer.json or tokenizer.model in this directory");
}

TEST(TokenizerLoad, DirectoryPrefersTokenizerJson) {
  TempDir dir;
  testing::write_file(dir.path() / "tokenizer.json", "{}");
  EXPECT_EQ(error_of(dir.path()),
            (dir.path() / "tokenizer.json").string() + ": missing or non-object field 'model'");
}

TEST(TokenizerLoad, TokenizerJsonErrorsNameTheMissingPart) {
  TempDir dir;
  fs::path json = dir.path() / "tokenizer.json";
  testing::write_file(json, R"({"model": {"type": "BPE"}})");
  EXPECT_EQ(error_of(json), json.string() + ": missing or non-object field 'vocab'");
  testing::write_file(json, R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_EQ(error_of(json),
            json.string() + ": model type 'Unigram' is not supported (supported: BPE)");
  testing::write_file(json, R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
      "pre_tokenizer": {"type": "Whitespace"}})");
  EXPECT_EQ(error_of(json), json.string() + ": pre_tokenizer 'Whitespace' is not supported");
}

// A SentencePiece-style tokenizer.json in Gemma-3's shape: Replace(" " -> "▁"), then a Split
// on " " that can never match. The vocabulary joins "x" to a following "▁" ("x▁y"), so the
// text must not be cut before that "▁".
std::string gemma_like_json(std::string_view pre_tokenizer, std::string_view normalizer) {
  return fmt::format(R"({{"model": {{"type": "BPE", "unk_token": "<unk>",
      "vocab": {{"<unk>": 0, "x": 1, "▁": 2, "y": 3, "x▁": 4, "x▁y": 5,
                 "▁y": 6}},
      "merges": ["x ▁", "x▁ y", "▁ y"]}},
    "normalizer": {},
    "pre_tokenizer": {}}})",
                     normalizer, pre_tokenizer);
}

TEST(TokenizerLoad, SplitOnSpaceAfterTheNormalizerRemovedSpaces) {
  TempDir dir;
  fs::path json = dir.path() / "tokenizer.json";
  const std::string replace = R"({"type": "Replace", "pattern": {"String": " "}, "content": "▁"})";
  const std::string split =
      R"({"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious"})";
  testing::write_file(json, gemma_like_json(split, replace));
  std::unique_ptr<Tokenizer> tok = load_tokenizer(json);
  EXPECT_EQ(tok->encode("x y"), (std::vector<int32_t>{5}));  // "x▁y", one word
  EXPECT_EQ(tok->encode("y y"), (std::vector<int32_t>{3, 6}));
  // Without the normalizer the Split would cut: not supported.
  testing::write_file(json, gemma_like_json(split, "null"));
  EXPECT_TRUE(contains(error_of(json), "pre_tokenizer Split on the string ' '")) << error_of(json);
  testing::write_file(
      json,
      gemma_like_json(R"({"type": "Split", "pattern": {"String": "x"}, "behavior": "Isolated"})",
                      replace));
  EXPECT_TRUE(contains(error_of(json), "pre_tokenizer Split on the string 'x'")) << error_of(json);
}

TEST(TokenizerLoad, FileThatIsNotAModel) {
  TempDir dir;
  for (const char* contents : {"hello, I am not a model\n", ""}) {
    fs::path bogus = dir.path() / "bogus.model";
    testing::write_file(bogus, contents);
    std::string message = error_of(bogus);
    EXPECT_TRUE(
        contains(message, bogus.string() + ": neither a SentencePiece model nor a tiktoken"))
        << message;
  }
}

TEST(TokenizerLoad, ModelWithoutBosAndEos) {
  TempDir dir;
  fs::path model = testing::train_sentencepiece_bpe(dir.path(), "--bos_id=-1 --eos_id=-1");
  std::unique_ptr<Tokenizer> tok = load_tokenizer(model);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_id(), -1);
  EXPECT_EQ(tok->vocab_size(), 200u);
}

}  // namespace
}  // namespace longctx

namespace longctx {
namespace {

TEST(ParseTokenIds, ReadsWhitespaceSeparatedIdsAndNamesTheBadWord) {
  EXPECT_EQ(parse_token_ids(" 1 450\n\t4996 2147483647 ", "f"),
            (std::vector<int32_t>{1, 450, 4996, 2147483647}));
  EXPECT_TRUE(parse_token_ids("  \n", "f").empty());
  for (const char* bad : {"1 -2", "2147483648", "12a", "1.5", "99999999999"}) {
    try {
      parse_token_ids(bad, "ids.txt");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("ids.txt: '"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace longctx
