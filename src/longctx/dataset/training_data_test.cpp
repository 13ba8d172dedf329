#include "longctx/dataset/training_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/dataset/format.h"
#include "longctx/dataset/writer.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

// --- fixtures ----------------------------------------------------------------------------------

// A span as (domain, start, end, document_start), to compare whole rows at once.
using SpanTuple = std::tuple<uint32_t, uint32_t, uint32_t, bool>;
std::vector<SpanTuple> tuples(const std::vector<RowSpan>& spans) {
  std::vector<SpanTuple> out;
  for (const RowSpan& s : spans) out.emplace_back(s.domain, s.start, s.end, s.document_start);
  return out;
}

std::vector<int32_t> iota32(size_t n, int32_t first) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// A mix dataset of 3 rows of 6 tokens, token = its position in the dataset (row * 6 + i):
//   row 0  [A A A A|B B]      A (domain 0) starts; B (domain 1) starts
//   row 1  [B B B|C C C]      B continues (offset 2); C (domain 0) starts
//   row 2  [C C C C C C]      C continues (offset 3)
// SpanRecord: {file, domain, line, start, end, offset}.
void write_mix(const fs::path& dir, bool bad_domain = false) {
  DatasetLayout layout;
  layout.dir = dir;
  layout.state_dir = dir / ".state";
  fs::create_directories(layout.state_dir);
  layout.seq_len = 6;
  layout.token_type = TokenType::kUint16;
  layout.domains = {"arxiv", "book"};
  layout.files = {"x.jsonl"};
  DatasetWriter writer(layout, nullptr);
  writer.write_row(iota32(6, 0), std::vector<SpanRecord>{{0, 0, 1, 0, 4, 0}, {0, 1, 2, 4, 6, 0}});
  writer.write_row(iota32(6, 6), std::vector<SpanRecord>{{0, 1, 2, 0, 3, 2}, {0, 0, 3, 3, 6, 0}});
  writer.write_row(iota32(6, 12), std::vector<SpanRecord>{{0, bad_domain ? 7u : 0u, 3, 0, 6, 3}});
  writer.finish();
  fs::remove_all(layout.state_dir);
  nlohmann::json manifest = {{"format", "longctx-mix"},
                             {"version", 1},
                             {"rows", 3},
                             {"seq_len", 6},
                             {"token_type", "uint16"},
                             {"vocab_size", 32000},
                             {"tokenizer", "sentencepiece tiny.model"},
                             {"tokenizer_fingerprint", "abc123"},
                             {"domains", layout.domains},
                             {"files", layout.files}};
  write_file_atomic(dir / kManifestJson, manifest.dump());
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// A uint16 Megatron dataset of sequences of the given lengths, every sequence its own document,
// token = its stream position: lengths [2, 1] -> .bin 0 1 2.
void write_megatron(const fs::path& prefix, const std::vector<int32_t>& lengths) {
  std::string idx("MMIDIDX\0\0", 9), bin;
  put<uint64_t>(idx, 1);
  put<uint8_t>(idx, 8);
  put<uint64_t>(idx, lengths.size());
  put<uint64_t>(idx, lengths.size() + 1);
  for (int32_t n : lengths) put<int32_t>(idx, n);
  int64_t tokens = 0;
  for (int32_t n : lengths) {
    put<int64_t>(idx, tokens * 2);
    tokens += n;
  }
  for (size_t d = 0; d <= lengths.size(); ++d) put<int64_t>(idx, static_cast<int64_t>(d));
  for (int64_t t = 0; t < tokens; ++t) put<uint16_t>(bin, static_cast<uint16_t>(t));
  testing::write_file(prefix.string() + ".idx", idx);
  testing::write_file(prefix.string() + ".bin", bin);
}

// The Error that open() throws, as "message | hint", or "" when it opens.
std::string open_error(const fs::path& path, uint32_t seq_len) {
  try {
    TrainingData::open(path, seq_len);
  } catch (const Error& e) {
    return std::string(e.what()) + " | " + e.hint();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- TrainingData: mix datasets ------------------------------------------------------------

TEST(TrainingData, ReadsAMixDatasetWithItsSpansAndManifest) {
  testing::TempDir tmp;
  write_mix(tmp.path());
  TrainingData data = TrainingData::open(tmp.path(), /*seq_len_tokens=*/0);
  EXPECT_EQ(data.kind(), "longctx-mix");
  EXPECT_EQ(data.rows(), 3u);
  EXPECT_EQ(data.seq_len(), 6u);
  EXPECT_EQ(data.domains(), (std::vector<std::string>{"arxiv", "book"}));
  EXPECT_EQ(data.tokenizer(), "sentencepiece tiny.model");
  EXPECT_EQ(data.tokenizer_fingerprint(), "abc123");
  EXPECT_EQ(data.vocab_size(), 32000u);

  std::vector<int32_t> ids(6);
  for (uint64_t row = 0; row < 3; ++row) {
    data.read_row(row, ids);
    EXPECT_EQ(ids, iota32(6, static_cast<int32_t>(row * 6)));
  }
  EXPECT_EQ(tuples(data.spans(0)), (std::vector<SpanTuple>{{0, 0, 4, true}, {1, 4, 6, true}}));
  EXPECT_EQ(tuples(data.spans(1)), (std::vector<SpanTuple>{{1, 0, 3, false}, {0, 3, 6, true}}));
  EXPECT_EQ(tuples(data.spans(2)), (std::vector<SpanTuple>{{0, 0, 6, false}}));
  EXPECT_EQ(data.document_bounds(0), (std::vector<int64_t>{0, 4, 6}));
  EXPECT_EQ(data.document_bounds(1), (std::vector<int64_t>{0, 3, 6}));
  EXPECT_EQ(data.document_bounds(2), (std::vector<int64_t>{0, 6}));

  EXPECT_THROW(data.read_row(3, ids), Error);
  std::vector<int32_t> short_ids(5);
  EXPECT_THROW(data.read_row(0, short_ids), Error);
  EXPECT_THROW(data.spans(3), Error);

  TrainingData same = TrainingData::open(tmp.path(), /*seq_len_tokens=*/6);
  EXPECT_EQ(same.rows(), 3u);
}

TEST(TrainingData, AMixSeqLenMismatchNamesBothLengthsAndTheFix) {
  testing::TempDir tmp;
  write_mix(tmp.path());
  std::string error = open_error(tmp.path(), 8);
  EXPECT_TRUE(contains(error, "holds rows of 6 tokens, but a sequence length of 8")) << error;
  EXPECT_TRUE(contains(error, "use --seq-len 6")) << error;
  EXPECT_TRUE(contains(error, "re-run longctx mix with --seq-len 8")) << error;
}

TEST(TrainingData, AMixSpanOfAnUnknownDomainFailsAtOpen) {
  testing::TempDir tmp;
  write_mix(tmp.path(), /*bad_domain=*/true);
  std::string error = open_error(tmp.path(), 0);
  EXPECT_TRUE(contains(error, "spans.bin: row 2")) << error;
}

TEST(TrainingData, AMixDatasetWithoutRowsFailsAtOpen) {
  testing::TempDir tmp;
  DatasetLayout layout;
  layout.dir = tmp.path();
  layout.state_dir = tmp.path() / ".state";
  fs::create_directories(layout.state_dir);
  layout.seq_len = 6;
  DatasetWriter(layout, nullptr).finish();
  nlohmann::json manifest = {{"format", "longctx-mix"}, {"rows", 0},        {"seq_len", 6},
                             {"token_type", "uint16"},  {"domains", {"a"}}, {"files", {"x"}}};
  write_file_atomic(tmp.path() / kManifestJson, manifest.dump());
  EXPECT_TRUE(contains(open_error(tmp.path(), 0), "has no rows"));
}

// --- TrainingData: Megatron datasets -------------------------------------------------------

TEST(TrainingData, CutsAMegatronStreamIntoRows) {
  // Sequences [5, 3] into rows of 4: [s0 s0 s0 s0][s0 | s1 s1 s1].
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "corpus_text_document";
  write_megatron(prefix, {5, 3});
  for (const fs::path& given :
       {prefix, fs::path(prefix.string() + ".bin"), fs::path(prefix.string() + ".idx")}) {
    SCOPED_TRACE(given.string());
    TrainingData data = TrainingData::open(given, /*seq_len_tokens=*/4);
    EXPECT_EQ(data.kind(), "megatron");
    EXPECT_EQ(data.rows(), 2u);
    EXPECT_EQ(data.seq_len(), 4u);
    EXPECT_EQ(data.domains(), (std::vector<std::string>{"all"}));
    EXPECT_EQ(data.tokenizer(), "");
    EXPECT_EQ(data.tokenizer_fingerprint(), "");
    EXPECT_EQ(data.vocab_size(), 0u);
    std::vector<int32_t> ids(4);
    data.read_row(1, ids);
    EXPECT_EQ(ids, iota32(4, 4));
    EXPECT_EQ(tuples(data.spans(0)), (std::vector<SpanTuple>{{0, 0, 4, true}}));
    EXPECT_EQ(tuples(data.spans(1)), (std::vector<SpanTuple>{{0, 0, 1, false}, {0, 1, 4, true}}));
    EXPECT_EQ(data.document_bounds(0), (std::vector<int64_t>{0, 4}));
    EXPECT_EQ(data.document_bounds(1), (std::vector<int64_t>{0, 1, 4}));
  }
}

TEST(TrainingData, MegatronRowsSkipEmptySequencesAndDropThePartialLastRow) {
  // Sequences [5, 0, 3, 2, 6] = 16 tokens into rows of 3: 5 rows, token 15 dropped.
  //   stream  0 1 2 | 3 4 5 | 6 7 8 | 9 10 11 | 12 13 14 | 15
  //   seq     0 0 0 | 0 0 2 | 2 2 3 | 3 4  4  | 4  4  4  | 4
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  write_megatron(prefix, {5, 0, 3, 2, 6});
  TrainingData data = TrainingData::open(prefix, 3);
  ASSERT_EQ(data.rows(), 5u);
  std::vector<int32_t> all, ids(3);
  for (uint64_t row = 0; row < data.rows(); ++row) {
    data.read_row(row, ids);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(all, iota32(15, 0));
  const std::vector<std::vector<SpanTuple>> expected = {{{0, 0, 3, true}},
                                                        {{0, 0, 2, false}, {0, 2, 3, true}},
                                                        {{0, 0, 2, false}, {0, 2, 3, true}},
                                                        {{0, 0, 1, false}, {0, 1, 3, true}},
                                                        {{0, 0, 3, false}}};
  for (uint64_t row = 0; row < data.rows(); ++row)
    EXPECT_EQ(tuples(data.spans(row)), expected[row]) << "row " << row;
  EXPECT_EQ(data.document_bounds(3), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(data.document_bounds(4), (std::vector<int64_t>{0, 3}));
}

TEST(TrainingData, AMegatronDatasetNeedsASeqLenThatGivesARow) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  write_megatron(prefix, {5, 3});
  std::string error = open_error(prefix, 0);
  EXPECT_TRUE(contains(error, "has no row length of its own | pass --seq-len N")) << error;
  error = open_error(prefix, 9);
  EXPECT_TRUE(contains(error, "holds 8 tokens, less than one row of 9")) << error;
  EXPECT_EQ(open_error(prefix, 8), "");
}

TEST(TrainingData, ABrokenMegatronDatasetFailsAtOpen) {
  testing::TempDir tmp;
  const fs::path prefix = tmp.path() / "d";
  write_megatron(prefix, {5, 3});
  fs::resize_file(prefix.string() + ".bin", 10);
  EXPECT_TRUE(contains(open_error(prefix, 4), "d.bin: 10 bytes"));
  fs::remove(prefix.string() + ".bin");
  EXPECT_TRUE(contains(open_error(prefix, 4), "d.bin is missing"));
}

TEST(TrainingData, APathThatIsNeitherSaysWhatWasLookedFor) {
  testing::TempDir tmp;
  for (const fs::path& path : {tmp.path() / "nothing", tmp.path()}) {
    std::string error = open_error(path, 4);
    EXPECT_TRUE(contains(error, "no training data at " + path.string())) << error;
    EXPECT_TRUE(contains(error, (path / "manifest.json").string())) << error;
    EXPECT_TRUE(contains(error, path.string() + ".bin + " + path.string() + ".idx")) << error;
  }
  // An unfinished mix says how to finish it.
  fs::create_directories(tmp.path() / "mix" / ".mix-state");
  EXPECT_TRUE(contains(open_error(tmp.path() / "mix", 0), "--resume"));
}

// --- DataOrder -----------------------------------------------------------------------------

TEST(DataOrder, SplitMix64AndXoshiroMatchTheReferenceOutputs) {
  // prng.di.unimi.it's C code: splitmix64 with x = 1234567; xoshiro256** with s = {1, 2, 3, 4}.
  SplitMix64 sm(1234567);
  EXPECT_EQ(sm.next(), 6457827717110365317u);
  EXPECT_EQ(sm.next(), 3203168211198807973u);
  Xoshiro256StarStar x({1, 2, 3, 4});
  EXPECT_EQ(x.next(), 11520u);
  EXPECT_EQ(x.next(), 0u);
  EXPECT_EQ(x.next(), 1509978240u);
  EXPECT_EQ(x.next(), 1215971899390074240u);
}

TEST(DataOrder, BelowIsInRangeAndCoversIt) {
  Xoshiro256StarStar x = Xoshiro256StarStar::from_seed(7);
  EXPECT_EQ(x.below(1), 0u);
  std::vector<int> seen(5, 0);
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = x.below(5);
    ASSERT_LT(v, 5u);
    ++seen[v];
  }
  for (int count : seen) EXPECT_GT(count, 150);  // 200 expected each
  EXPECT_THROW(x.below(0), Error);
}

TEST(DataOrder, MatchesTheGoldenOrderOfTenRows) {
  // From scripts/make_data_order_goldens.py, an independent Python version of the order.
  auto epoch = [](uint64_t seed, uint64_t e) {
    DataOrder order(10, seed, Shuffle::kRows);
    std::vector<uint64_t> rows;
    for (uint64_t i = 0; i < 10; ++i) rows.push_back(order.row_at(e * 10 + i));
    return rows;
  };
  EXPECT_EQ(epoch(0, 0), (std::vector<uint64_t>{1, 3, 9, 2, 4, 5, 7, 6, 0, 8}));
  EXPECT_EQ(epoch(0, 1), (std::vector<uint64_t>{2, 9, 0, 6, 1, 3, 5, 8, 7, 4}));
  EXPECT_EQ(epoch(1, 0), (std::vector<uint64_t>{7, 3, 6, 0, 4, 2, 8, 1, 9, 5}));
}

TEST(DataOrder, KeepsDatasetOrderWithoutShuffle) {
  DataOrder order(4, 123, Shuffle::kNone);
  std::vector<uint64_t> rows;
  for (uint64_t i = 0; i < 9; ++i) rows.push_back(order.row_at(i));
  EXPECT_EQ(rows, (std::vector<uint64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
  EXPECT_EQ(order.epoch_of(8), 2u);
  EXPECT_THROW(DataOrder(0, 0, Shuffle::kRows), Error);
  DataOrder one(1, 5, Shuffle::kRows);
  EXPECT_EQ(one.row_at(3), 0u);
}

TEST(DataOrder, EachEpochIsAPermutationAndEpochsDiffer) {
  const uint64_t rows = 37;
  DataOrder order(rows, 42, Shuffle::kRows);
  std::set<std::vector<uint64_t>> epochs;
  for (uint64_t e = 0; e < 4; ++e) {
    std::vector<uint64_t> epoch;
    for (uint64_t i = 0; i < rows; ++i) epoch.push_back(order.row_at(e * rows + i));
    std::vector<uint64_t> sorted = epoch;
    std::sort(sorted.begin(), sorted.end());
    std::vector<uint64_t> all(rows);
    std::iota(all.begin(), all.end(), uint64_t{0});
    EXPECT_EQ(sorted, all) << "epoch " << e;
    epochs.insert(epoch);
  }
  EXPECT_EQ(epochs.size(), 4u);
}

TEST(DataOrder, RowAtDependsOnlyOnSeedAndPosition) {
  const uint64_t rows = 10, total = 35;
  DataOrder straight(rows, 9, Shuffle::kRows);
  std::vector<uint64_t> forward;
  for (uint64_t i = 0; i < total; ++i) forward.push_back(straight.row_at(i));

  // Backwards, across epochs, on a fresh order.
  DataOrder backward(rows, 9, Shuffle::kRows);
  for (uint64_t i = total; i-- > 0;) EXPECT_EQ(backward.row_at(i), forward[i]) << i;
  // A run resumed in the middle of epoch 1.
  DataOrder resumed(rows, 9, Shuffle::kRows);
  for (uint64_t i = 15; i < total; ++i) EXPECT_EQ(resumed.row_at(i), forward[i]) << i;
  // Jumping between epochs.
  DataOrder jumping(rows, 9, Shuffle::kRows);
  for (uint64_t i : {33u, 2u, 21u, 2u, 34u, 0u}) EXPECT_EQ(jumping.row_at(i), forward[i]) << i;

  DataOrder other_seed(rows, 10, Shuffle::kRows);
  std::vector<uint64_t> other;
  for (uint64_t i = 0; i < total; ++i) other.push_back(other_seed.row_at(i));
  EXPECT_NE(other, forward);
}

// --- DomainLoss ----------------------------------------------------------------------------

TEST(DomainLoss, CountsEachLossForTheSpanOfThePredictedToken) {
  // Row of 6 tokens: [a a a|b b b]. Loss i predicts token i + 1, so losses 0, 1 (tokens 1, 2)
  // are a's and losses 2, 3, 4 (tokens 3, 4, 5) are b's: loss 2, whose input is a's last
  // token, predicts b's first.
  DomainLoss loss({"a", "b", "c"});
  const std::vector<RowSpan> spans = {{0, 0, 3, true}, {1, 3, 6, true}};
  const std::vector<float> losses = {1, 2, 3, 4, 5};
  loss.add(spans, losses);
  std::vector<DomainLoss::Entry> entries = loss.entries();
  ASSERT_EQ(entries.size(), 2u);  // c has no token
  EXPECT_EQ(entries[0].domain, "a");
  EXPECT_EQ(entries[0].loss_sum, 3.0);
  EXPECT_EQ(entries[0].tokens, 2u);
  EXPECT_EQ(entries[1].domain, "b");
  EXPECT_EQ(entries[1].loss_sum, 12.0);
  EXPECT_EQ(entries[1].tokens, 3u);
  EXPECT_EQ(entries[1].mean(), 4.0);

  // A one-token span at the row's start is predicted by nothing; one in the middle gets the
  // single loss before it. [c|a a|c c c] -> a: losses 0, 1; c: losses 2, 3, 4.
  loss.reset();
  EXPECT_TRUE(loss.entries().empty());
  loss.add(std::vector<RowSpan>{{2, 0, 1, false}, {0, 1, 3, true}, {2, 3, 6, true}}, losses);
  entries = loss.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].domain, "a");
  EXPECT_EQ(entries[0].loss_sum, 3.0);
  EXPECT_EQ(entries[1].domain, "c");
  EXPECT_EQ(entries[1].loss_sum, 12.0);
  EXPECT_EQ(entries[1].tokens, 3u);

  // Rows add up.
  loss.add(std::vector<RowSpan>{{2, 0, 6, true}}, losses);
  EXPECT_EQ(loss.entries()[1].loss_sum, 27.0);
  EXPECT_EQ(loss.entries()[1].tokens, 8u);
}

TEST(DomainLoss, RejectsLossesThatDoNotFitTheRow) {
  DomainLoss loss({"a"});
  const std::vector<float> six(6, 1.0f);
  EXPECT_THROW(loss.add(std::vector<RowSpan>{{0, 0, 6, true}}, six), Error);  // needs 5
  EXPECT_THROW(loss.add(std::vector<RowSpan>{{1, 0, 7, true}}, six), Error);  // domain 1
  EXPECT_THROW(loss.add(std::vector<RowSpan>{}, six), Error);
}

}  // namespace
}  // namespace longctx
