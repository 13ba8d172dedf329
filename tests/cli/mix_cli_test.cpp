// End-to-end tests of `longctx mix` and `longctx inspect` on generated corpora.
//
// The corpus is made here: documents of words drawn with a fixed seed, in three SlimPajama
// domains (Book mostly long, C4 mostly short, Github mixed), spread in stream order over plain
// and multi-frame zstd JSON-lines files. Every expectation is computed here from those texts:
// each document is encoded again with the checked-in tiny SentencePiece model
// (tests/tokenizer/goldens/tiny_bpe.model, 1600 pieces, BOS 1) and the written token stream
// of a document is rebuilt as the recipe packs it ([BOS] + ids, or [BOS] + piece for each piece
// when documents are cut). data.bin/data.idx and segments.bin/.idx are read with the
// independent Megatron reader of tests/support, spans.bin through longctx::PackedDataset.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "longctx/base/files.h"
#include "longctx/dataset/format.h"
#include "longctx/dataset/packed_dataset.h"
#include "longctx/tokenizer/tokenizer.h"
#include "support/fixtures.h"
#include "support/megatron_reader.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::TempDir;

const fs::path kModel = fs::path(LONGCTX_SOURCE_DIR) / "tests/tokenizer/goldens/tiny_bpe.model";
constexpr int32_t kBos = 1;  // tiny_bpe.model's <s>
constexpr int32_t kEos = 2;  // tiny_bpe.model's </s>
constexpr uint64_t kLongThreshold = 256;

const Tokenizer& tokenizer() {
  static const std::unique_ptr<Tokenizer> loaded = load_tokenizer(kModel);
  return *loaded;
}

// Every file a finished mix may write, each with its final name.
const std::vector<std::string_view> kFinalNames = {kDataBin,      kDataIdx,     kSpansBin,
                                                   kSegmentsBin,  kSegmentsIdx, kRowsJsonl,
                                                   kManifestJson, kReportJson,  kReportSvg};

struct Doc {
  std::string file;  // relative to the corpus root, e.g. "b.jsonl.zst"
  uint64_t line = 0;
  std::string domain;
  std::string text;
  std::vector<int32_t> ids;  // tokenizer().encode(text): no BOS, no EOS
};

// How a mix wrote its documents: what the test needs to rebuild each written token stream.
struct Packing {
  uint32_t seq_len = 512;
  bool bos = true;
  bool eos = false;
  uint64_t max_piece_tokens = 0;  // 0: documents are not cut
};

// The tokens a document is written as: [BOS] + ids (+ [EOS]), or [BOS] + piece (+ [EOS]) for
// each piece of at most max_piece_tokens ids. Example, ids [5 6 7 8 9], max 2, no EOS:
// [1 5 6 | 1 7 8 | 1 9].
std::vector<int32_t> written_tokens(const Doc& doc, const Packing& packing) {
  size_t limit = packing.max_piece_tokens > 0 ? packing.max_piece_tokens : doc.ids.size();
  std::vector<int32_t> out;
  size_t at = 0;
  do {
    size_t n = std::min(limit, doc.ids.size() - at);
    if (packing.bos) out.push_back(kBos);
    out.insert(out.end(), doc.ids.begin() + static_cast<ptrdiff_t>(at),
               doc.ids.begin() + static_cast<ptrdiff_t>(at + n));
    if (packing.eos) out.push_back(kEos);
    at += n;
  } while (at < doc.ids.size());
  return out;
}

// A generated corpus: `documents` documents in stream order over four files (sorted names),
// domains drawn as Book 15%, C4 60%, Github 25% of documents. A long document has 180-340
// words (about 290-550 tokens, all over kLongThreshold), a short one 5-90 words (under it).
// The text "<s>" appears as a word: plain text, never the BOS id.
class MixCorpus {
 public:
  MixCorpus(const fs::path& root, size_t documents, uint32_t seed) : root_(root) {
    static const char* kWords[] = {
        "the",   "of",    "and",    "to",      "in",    "a",       "was",   "he",      "that",
        "it",    "his",   "with",   "for",     "on",    "as",      "had",   "at",      "by",
        "not",   "but",   "from",   "they",    "which", "one",     "all",   "were",    "be",
        "this",  "there", "would",  "when",    "what",  "their",   "an",    "or",      "we",
        "so",    "if",    "no",     "out",     "up",    "into",    "them",  "than",    "then",
        "about", "more",  "some",   "her",     "only",  "time",    "over",  "two",     "could",
        "sea",   "lamp",  "keeper", "light",   "night", "water",   "boat",  "harbour", "wind",
        "rain",  "book",  "wrote",  "morning", "again", "return",  "x",     "+",       "1;",
        "<s>",   "f(x):", "42",     "Marrow",  "Point", "logbook", "green", "cloth"};
    struct Domain {
      const char* name;
      double document_share;
      double long_fraction;
    };
    const Domain kDomains[] = {{"RedPajamaBook", 0.15, 0.85},
                               {"RedPajamaC4", 0.60, 0.20},
                               {"RedPajamaGithub", 0.25, 0.30}};
    const char* kFiles[] = {"a.jsonl", "b.jsonl.zst", "c.jsonl", "d/e.jsonl.zst"};
    std::mt19937 rng(seed);
    auto uniform = [&](size_t lo, size_t hi) { return lo + rng() % (hi - lo + 1); };
    std::map<std::string, std::string> contents;
    std::map<std::string, uint64_t> lines;
    for (size_t i = 0; i < documents; ++i) {
      double pick = static_cast<double>(rng() % 10000) / 10000.0;
      const Domain* domain = &kDomains[2];
      if (pick < kDomains[0].document_share) {
        domain = &kDomains[0];
      } else if (pick < kDomains[0].document_share + kDomains[1].document_share) {
        domain = &kDomains[1];
      }
      bool is_long = static_cast<double>(rng() % 10000) / 10000.0 < domain->long_fraction;
      size_t words = is_long ? uniform(180, 340) : uniform(5, 90);
      std::string text;
      for (size_t w = 0; w < words; ++w) {
        text += kWords[rng() % std::size(kWords)];
        text += w + 1 == words ? "." : (w % 40 == 39 ? ".\n" : " ");
      }
      Doc doc;
      doc.file = kFiles[i * std::size(kFiles) / documents];
      doc.line = ++lines[doc.file];
      doc.domain = domain->name;
      doc.text = text;
      doc.ids = tokenizer().encode(text);
      if (std::find(doc.ids.begin(), doc.ids.end(), kBos) != doc.ids.end() ||
          std::find(doc.ids.begin(), doc.ids.end(), kEos) != doc.ids.end()) {
        ADD_FAILURE() << "plain text encoded to BOS or EOS: " << text;
      }
      if (is_long != (doc.ids.size() >= kLongThreshold)) {
        ADD_FAILURE() << "a " << (is_long ? "long" : "short") << " document of " << doc.ids.size()
                      << " tokens: " << text;
      }
      contents[doc.file] += testing::jsonl_record(doc.text, doc.domain);
      by_location_[{doc.file, doc.line}] = docs_.size();
      docs_.push_back(std::move(doc));
    }
    for (const auto& [name, text] : contents) {
      bool zst = name.ends_with(".zst");
      testing::write_file(root_ / name, zst ? testing::zstd_compress(text, 5000) : text);
    }
  }

  const fs::path& root() const { return root_; }
  const std::vector<Doc>& docs() const { return docs_; }

  // The index of the document a span names (a path from manifest "files" and a line); -1 when
  // there is none.
  ptrdiff_t find(const std::string& path, uint64_t line) const {
    std::string relative = fs::path(path).lexically_relative(root_).generic_string();
    auto it = by_location_.find({relative, line});
    return it == by_location_.end() ? -1 : static_cast<ptrdiff_t>(it->second);
  }

  uint64_t tokens_in(const std::string& domain) const {
    uint64_t n = 0;
    for (const Doc& d : docs_) n += d.domain == domain ? d.ids.size() : 0;
    return n;
  }

 private:
  fs::path root_;
  std::vector<Doc> docs_;
  std::map<std::pair<std::string, uint64_t>, size_t> by_location_;
};

CommandResult run_mix(const MixCorpus& corpus, const fs::path& out, const std::string& args,
                      const std::string& env = "") {
  return testing::run_command(fmt::format("{} {} mix {} --tokenizer {} --out {} -q {}", env,
                                          LONGCTX_BINARY, corpus.root().string(), kModel.string(),
                                          out.string(), args));
}

nlohmann::json read_json(const fs::path& path) {
  return nlohmann::json::parse(read_file(path));
}

// What check_dataset found, for tests that look further.
struct Checked {
  uint64_t rows = 0;
  std::vector<size_t> documents;                 // corpus indices in the order they were written
  std::vector<std::vector<int64_t>> row_tokens;  // [rows][seq_len] from the Megatron reader
};

// The checks every finished dataset in `out` must pass:
// - data.bin/data.idx through the independent Megatron reader: uint16, one sequence of exactly
//   seq_len tokens per row, document indices 0..rows; the same tokens through PackedDataset;
// - the spans of every row tile it ([0, seq_len), consecutive, none empty), name a document of
//   the corpus with its domain, and hold exactly that document's written tokens at the span's
//   offset; BOS sits exactly where a document (or a cut piece) starts;
// - documents are written whole, one after another in stream order, only the last one may be
//   cut short by the dropped partial row; tokens_dropped < seq_len, and rows x seq_len +
//   tokens_dropped equals the tokens of the kept pieces (report.json) plus their BOS/EOS.
void check_dataset(const fs::path& out, const MixCorpus& corpus, const Packing& packing,
                   Checked* checked) {
  nlohmann::json report = read_json(out / kReportJson);
  nlohmann::json manifest = read_json(out / kManifestJson);
  const uint64_t rows = report.at("rows").get<uint64_t>();
  const uint32_t seq_len = packing.seq_len;
  ASSERT_GT(rows, 0u) << report.dump(1);
  EXPECT_EQ(manifest.at("rows").get<uint64_t>(), rows);
  EXPECT_EQ(manifest.at("seq_len").get<uint32_t>(), seq_len);
  EXPECT_EQ(report.at("seq_len").get<uint32_t>(), seq_len);
  EXPECT_EQ(report.at("tokens_written").get<uint64_t>(), rows * seq_len);

  testing::MegatronDataset megatron = testing::read_megatron(out / "data");
  EXPECT_EQ(megatron.dtype_name, "uint16");
  ASSERT_EQ(megatron.sequence_count(), rows);
  for (int32_t length : megatron.sequence_lengths) ASSERT_EQ(length, static_cast<int32_t>(seq_len));
  std::vector<int64_t> documents(rows + 1);
  std::iota(documents.begin(), documents.end(), 0);
  EXPECT_EQ(megatron.document_indices, documents);

  PackedDataset data = PackedDataset::open(out);
  ASSERT_EQ(data.rows(), rows);
  ASSERT_EQ(data.seq_len(), seq_len);

  Checked result;
  result.rows = rows;
  ptrdiff_t current = -1;  // document being written
  std::vector<int32_t> current_written;
  uint64_t next_offset = 0;
  uint64_t span_total = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> tokens = megatron.sequence(r);
    std::vector<int32_t> via_reader = data.row(r);
    ASSERT_EQ(std::vector<int64_t>(via_reader.begin(), via_reader.end()), tokens)
        << "row " << r << ": PackedDataset and the Megatron reader disagree";
    std::span<const SpanRecord> spans = data.spans(r);
    ASSERT_FALSE(spans.empty()) << "row " << r;
    span_total += spans.size();
    EXPECT_EQ(spans.front().start, 0u) << "row " << r;
    EXPECT_EQ(spans.back().end, seq_len) << "row " << r;
    std::set<uint32_t> bos_expected;
    for (size_t j = 0; j < spans.size(); ++j) {
      const SpanRecord& s = spans[j];
      std::string where =
          fmt::format("row {} span {} [{}, {}) offset {}", r, j, s.start, s.end, s.offset);
      ASSERT_LT(s.start, s.end) << where;
      if (j > 0) {
        ASSERT_EQ(s.start, spans[j - 1].end) << where << ": spans must be consecutive";
      }
      ASSERT_LT(s.file, data.files().size()) << where;
      ASSERT_LT(s.domain, data.domains().size()) << where;
      ptrdiff_t doc = corpus.find(data.files()[s.file], s.line);
      ASSERT_GE(doc, 0) << where << ": no document " << data.files()[s.file] << ":" << s.line;
      const Doc& d = corpus.docs()[static_cast<size_t>(doc)];
      EXPECT_EQ(data.domains()[s.domain], d.domain) << where;

      if (doc != current) {
        // A new document: the previous one is complete, and this one comes later in the stream.
        if (current >= 0) {
          EXPECT_EQ(next_offset, current_written.size())
              << where << ": the previous document was not written whole";
          EXPECT_GT(doc, current) << where << ": documents out of stream order";
        }
        EXPECT_EQ(s.offset, 0u) << where << ": a document must start at offset 0";
        current = doc;
        current_written = written_tokens(d, packing);
        next_offset = 0;
        result.documents.push_back(static_cast<size_t>(doc));
      } else if (s.start != 0) {
        // Within a row, a document goes on in a new span only where a cut piece starts.
        EXPECT_TRUE(packing.max_piece_tokens > 0 && next_offset < current_written.size() &&
                    current_written[next_offset] == kBos)
            << where << ": a document continues in a new span only at a row or piece start";
      }
      ASSERT_EQ(s.offset, next_offset) << where << ": offset does not continue the document";
      ASSERT_LE(s.offset + (s.end - s.start), current_written.size()) << where;
      std::vector<int64_t> want(
          current_written.begin() + static_cast<ptrdiff_t>(s.offset),
          current_written.begin() + static_cast<ptrdiff_t>(s.offset + s.end - s.start));
      std::vector<int64_t> got(tokens.begin() + s.start, tokens.begin() + s.end);
      ASSERT_EQ(got, want) << where << ": tokens differ from the document's encoding (" << d.file
                           << ":" << d.line << ")";
      if (s.offset == 0 && packing.bos) {
        EXPECT_EQ(tokens[s.start], kBos) << where << ": a document must start with BOS";
      }
      for (uint64_t k = 0; k < s.end - s.start; ++k) {
        if (current_written[s.offset + k] == kBos) bos_expected.insert(s.start + k);
      }
      next_offset += s.end - s.start;
    }
    std::set<uint32_t> bos_found;
    for (uint32_t t = 0; t < seq_len; ++t) {
      if (tokens[t] == kBos) bos_found.insert(t);
    }
    EXPECT_EQ(bos_found, bos_expected) << "row " << r << ": BOS where no document starts";
    if (packing.bos && packing.max_piece_tokens == 0) {
      std::set<uint32_t> starts;
      for (const SpanRecord& s : spans) {
        if (s.offset == 0) starts.insert(s.start);
      }
      EXPECT_EQ(bos_found, starts) << "row " << r;
    }
    result.row_tokens.push_back(std::move(tokens));
  }
  EXPECT_EQ(data.span_count(), span_total);
  EXPECT_EQ(report.at("spans").get<uint64_t>(), span_total);

  // The partial last row: under one row, and at least the unwritten rest of the last document.
  uint64_t dropped = report.at("tokens_dropped").get<uint64_t>();
  EXPECT_LT(dropped, seq_len);
  EXPECT_GE(dropped, current_written.size() - next_offset);
  uint64_t kept_written = 0;
  for (const auto& domain : report.at("domains")) {
    kept_written += domain.at("kept_tokens").get<uint64_t>();
    if (packing.bos) kept_written += domain.at("pieces").get<uint64_t>();
    if (packing.eos) kept_written += domain.at("pieces").get<uint64_t>();
  }
  EXPECT_EQ(rows * seq_len + dropped, kept_written)
      << "rows x seq_len + tokens_dropped must be every written token of the kept pieces";
  if (checked != nullptr) *checked = std::move(result);
}

bool same_bytes(const fs::path& a, const fs::path& b) {
  return fs::exists(a) && fs::exists(b) && read_file(a) == read_file(b);
}

// The names in a directory (not recursive, hidden ones included).
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

// Both directories hold the same files with the same bytes (and at least data.bin).
void expect_same_dataset(const fs::path& a, const fs::path& b) {
  EXPECT_EQ(listing(a), listing(b));
  EXPECT_TRUE(fs::exists(a / kDataBin));
  for (const std::string& name : listing(a)) {
    EXPECT_TRUE(same_bytes(a / name, b / name)) << name << " differs between " << a << " and " << b;
  }
}

void expect_error(const CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr should name '" << needle << "':\n"
                                                   << r.err;
}

double after_share(const nlohmann::json& report, const std::string& domain) {
  for (const auto& d : report.at("domains")) {
    if (d.at("name") == domain) return d.at("after_share").get<double>();
  }
  ADD_FAILURE() << "no domain " << domain << " in report.json";
  return -1;
}

double before_share(const nlohmann::json& report, const std::string& domain) {
  for (const auto& d : report.at("before").at("domains")) {
    if (d.at("name") == domain) return d.at("token_share").get<double>();
  }
  ADD_FAILURE() << "no domain " << domain << " in report.json before.domains";
  return -1;
}

// A corpus of 1300 documents (about 240K tokens), enough for the per-source budgets below.
class MixLarge : public ::testing::Test {
 protected:
  MixLarge() : corpus_(dir_.path() / "corpus", 1300, 7) {}
  TempDir dir_;
  MixCorpus corpus_;
};

// A corpus of 240 documents (about 45K tokens) for the cheaper checks.
class MixSmall : public ::testing::Test {
 protected:
  MixSmall() : corpus_(dir_.path() / "corpus", 240, 11) {}
  TempDir dir_;
  MixCorpus corpus_;
};

const std::string kShares = "--shares Book=0.3,C4=0.5,Github=0.2";
std::string per_source(const std::string& budget, uint32_t seq_len) {
  return fmt::format("--strategy per-source {} --budget {} --seq-len {} --long-threshold {}",
                     kShares, budget, seq_len, kLongThreshold);
}
const std::string kPerSource = per_source("100K", 1024);

TEST_F(MixLarge, PerSourceKeepsDomainSharesAndRaisesLongShare) {
  fs::path out = dir_.path() / "out";
  CommandResult r = run_mix(corpus_, out, kPerSource + " --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  ASSERT_TRUE(report.at("budget_met").get<bool>())
      << "the corpus is meant to meet every budget: " << report.at("domains").dump(1);
  const std::map<std::string, double> targets = {
      {"RedPajamaBook", 0.3}, {"RedPajamaC4", 0.5}, {"RedPajamaGithub", 0.2}};
  ASSERT_EQ(report.at("domains").size(), targets.size());
  for (const auto& [domain, target] : targets) {
    EXPECT_NEAR(after_share(report, domain), target, 0.01) << domain;
  }
  for (const auto& d : report.at("domains")) {
    EXPECT_NEAR(d.at("target_share").get<double>(), targets.at(d.at("name")), 1e-12);
    EXPECT_GT(d.at("filtered_documents").get<uint64_t>(), 0u) << d.at("name");
  }
  double before = report.at("before_long_share").get<double>();
  double after = report.at("after_long_share").get<double>();
  EXPECT_LT(before, after);
  EXPECT_GT(after, 0.9) << "short documents are kept with probability 0.1 only";
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 1024}, nullptr));
  EXPECT_TRUE(r.out.find("RedPajamaC4") != std::string::npos) << r.out;
}

TEST_F(MixLarge, OutputIsIdenticalForAnyThreadCountAndRepeatedRuns) {
  fs::path one = dir_.path() / "one", two = dir_.path() / "two", again = dir_.path() / "again";
  for (const auto& [out, threads] : {std::pair{one, 1}, {two, 2}, {again, 2}}) {
    CommandResult r = run_mix(corpus_, out, kPerSource + fmt::format(" --threads {}", threads));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  expect_same_dataset(one, two);
  expect_same_dataset(two, again);
  // Nor on how often a checkpoint is taken.
  fs::path checkpoints = dir_.path() / "checkpoints";
  CommandResult r = run_mix(corpus_, checkpoints, kPerSource + " --threads 2 --checkpoint-mb 0.01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_dataset(one, checkpoints);
  for (std::string_view name : {kDataBin, kDataIdx, kSpansBin, kReportJson, kManifestJson}) {
    EXPECT_TRUE(fs::exists(one / name)) << name;
  }
}

TEST_F(MixLarge, AnotherSeedSelectsOtherDocuments) {
  fs::path a = dir_.path() / "a", b = dir_.path() / "b";
  ASSERT_EQ(run_mix(corpus_, a, kPerSource + " --seed 15213").exit_code, 0);
  CommandResult r = run_mix(corpus_, b, kPerSource + " --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checked first, second;
  ASSERT_NO_FATAL_FAILURE(check_dataset(a, corpus_, {.seq_len = 1024}, &first));
  ASSERT_NO_FATAL_FAILURE(check_dataset(b, corpus_, {.seq_len = 1024}, &second));
  EXPECT_NE(first.documents, second.documents);
  EXPECT_FALSE(same_bytes(a / kDataBin, b / kDataBin));
  EXPECT_EQ(read_json(b / kReportJson)["settings"]["seed"], 1);
}

TEST_F(MixSmall, GlobalDriftsTowardTheLongDomain) {
  fs::path out = dir_.path() / "out";
  CommandResult r = run_mix(corpus_, out,
                            fmt::format("--strategy global --budget 1B --seq-len 512 "
                                        "--long-threshold {}",
                                        kLongThreshold));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  // The whole corpus was offered: the "before" side is the corpus itself.
  EXPECT_EQ(report.at("documents_offered").get<uint64_t>(), corpus_.docs().size());
  uint64_t all = 0;
  for (const Doc& d : corpus_.docs()) all += d.ids.size();
  EXPECT_NEAR(before_share(report, "RedPajamaBook"),
              static_cast<double>(corpus_.tokens_in("RedPajamaBook")) / static_cast<double>(all),
              1e-9);
  EXPECT_GT(after_share(report, "RedPajamaBook"), before_share(report, "RedPajamaBook") + 0.05);
  EXPECT_LT(after_share(report, "RedPajamaC4"), before_share(report, "RedPajamaC4"));
  EXPECT_LT(report.at("before_long_share").get<double>(),
            report.at("after_long_share").get<double>());
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, nullptr));
}

TEST_F(MixSmall, CutLeavesNoPieceOverTheLimit) {
  constexpr uint64_t kMaxPiece = 100;
  fs::path out = dir_.path() / "out";
  CommandResult r = run_mix(
      corpus_, out,
      fmt::format("--strategy cut --max-doc-tokens {} --budget 1B --seq-len 512", kMaxPiece));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checked checked;
  ASSERT_NO_FATAL_FAILURE(
      check_dataset(out, corpus_, {.seq_len = 512, .max_piece_tokens = kMaxPiece}, &checked));
  // Between two BOS tokens of the whole stream, at most kMaxPiece tokens.
  uint64_t run = 0, longest = 0, bos_count = 0;
  for (const auto& row : checked.row_tokens) {
    for (int64_t t : row) {
      if (t == kBos) {
        ++bos_count;
        run = 0;
      } else {
        longest = std::max(longest, ++run);
      }
    }
  }
  EXPECT_LE(longest, kMaxPiece);
  EXPECT_EQ(longest, kMaxPiece) << "documents longer than the limit must fill whole pieces";
  size_t cut = 0;
  for (size_t doc : checked.documents) cut += corpus_.docs()[doc].ids.size() > kMaxPiece;
  EXPECT_GT(cut, 10u) << "the corpus must hold documents longer than the limit";
  EXPECT_GT(bos_count, checked.documents.size() + cut);
  // Every document is kept (budget 1B), in stream order.
  std::vector<size_t> prefix(checked.documents.size());
  std::iota(prefix.begin(), prefix.end(), 0);
  EXPECT_EQ(checked.documents, prefix);
}

TEST_F(MixSmall, OriginalKeepsEveryDocumentInStreamOrder) {
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --budget 1B --seq-len 512 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checked checked;
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, &checked));
  nlohmann::json report = read_json(out / kReportJson);
  EXPECT_EQ(report.at("documents_kept").get<uint64_t>(), corpus_.docs().size());
  // rows = floor(all written tokens / seq_len); the rest is dropped.
  uint64_t total = 0;
  for (const Doc& d : corpus_.docs()) total += 1 + d.ids.size();
  EXPECT_EQ(checked.rows, total / 512);
  EXPECT_EQ(report.at("tokens_dropped").get<uint64_t>(), total % 512);
  // The rows are the stream itself: every document, in file then line order, BOS first.
  std::vector<int64_t> stream, rows;
  for (const Doc& d : corpus_.docs()) {
    for (int32_t t : written_tokens(d, {})) stream.push_back(t);
  }
  for (const auto& row : checked.row_tokens) rows.insert(rows.end(), row.begin(), row.end());
  stream.resize(rows.size());
  EXPECT_TRUE(stream == rows) << "rows are not the documents in stream order";
  ASSERT_FALSE(checked.documents.empty());
  EXPECT_EQ(checked.documents.front(), 0u);
  for (size_t i = 1; i < checked.documents.size(); ++i)
    EXPECT_EQ(checked.documents[i], checked.documents[i - 1] + 1);
}

TEST_F(MixSmall, OriginalStopsAtTheDocumentThatPassesTheBudget) {
  // The reference keeps documents until the kept length passes the budget.
  constexpr uint64_t kBudget = 12000;
  size_t expected = 0;
  uint64_t sum = 0;
  while (expected < corpus_.docs().size() && sum <= kBudget)
    sum += corpus_.docs()[expected++].ids.size();
  ASSERT_LT(expected, corpus_.docs().size());
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, fmt::format("--strategy original --budget {} --seq-len 512", kBudget));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  EXPECT_EQ(report.at("documents_kept").get<uint64_t>(), expected);
  Checked checked;
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, &checked));
  uint64_t total = 0;
  for (size_t i = 0; i < expected; ++i) total += 1 + corpus_.docs()[i].ids.size();
  EXPECT_EQ(checked.rows, total / 512);
  EXPECT_EQ(report.at("tokens_dropped").get<uint64_t>(), total % 512);
}

TEST_F(MixLarge, UpsampleGivesTheWeightedDomainItsShare) {
  fs::path out = dir_.path() / "out";
  CommandResult r = run_mix(corpus_, out,
                            fmt::format("--strategy upsample --domain-weights Book=0.5 {} "
                                        "--budget 100K --seq-len 1024 --long-threshold {}",
                                        kShares, kLongThreshold));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  ASSERT_TRUE(report.at("budget_met").get<bool>()) << report.at("domains").dump(1);
  // Book gets 0.5; C4 and Github share the other half as 0.5 : 0.2.
  const std::map<std::string, double> targets = {{"RedPajamaBook", 0.5},
                                                 {"RedPajamaC4", 0.5 * 0.5 / 0.7},
                                                 {"RedPajamaGithub", 0.5 * 0.2 / 0.7}};
  for (const auto& d : report.at("domains")) {
    std::string name = d.at("name");
    EXPECT_NEAR(d.at("target_share").get<double>(), targets.at(name), 1e-9) << name;
    EXPECT_NEAR(d.at("after_share").get<double>(), targets.at(name), 0.01) << name;
  }
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 1024}, nullptr));
}

TEST_F(MixLarge, MeasuredSharesAreTheInputsOwnTokenShares) {
  fs::path out = dir_.path() / "out";
  CommandResult r = run_mix(corpus_, out,
                            fmt::format("--strategy per-source --shares measured --budget 100K "
                                        "--seq-len 1024 --long-threshold {}",
                                        kLongThreshold));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  ASSERT_TRUE(report.at("budget_met").get<bool>()) << report.at("domains").dump(1);
  uint64_t all = 0;
  for (const Doc& d : corpus_.docs()) all += d.ids.size();
  ASSERT_EQ(report.at("domains").size(), 3u);
  for (const auto& d : report.at("domains")) {
    std::string name = d.at("name");
    double measured = static_cast<double>(corpus_.tokens_in(name)) / static_cast<double>(all);
    EXPECT_NEAR(d.at("target_share").get<double>(), measured, 1e-9) << name;
    EXPECT_NEAR(d.at("after_share").get<double>(), measured, 0.01) << name;
  }
}

TEST_F(MixSmall, ShortfallAndDomainsWithoutDocumentsAreReported) {
  // The small corpus cannot fill a 100K budget; Wikipedia has a share but no documents.
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out,
              fmt::format("--strategy per-source --shares Book=0.3,C4=0.4,Github=0.2,Wikipedia=0.1 "
                          "--budget 100K --seq-len 512 --long-threshold {}",
                          kLongThreshold));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = read_json(out / kReportJson);
  EXPECT_FALSE(report.at("budget_met").get<bool>());
  std::string warnings = report.at("warnings").dump();
  EXPECT_NE(warnings.find("RedPajamaWikipedia"), std::string::npos) << warnings;
  for (const auto& d : report.at("domains")) {
    std::string name = d.at("name");
    // Every document was offered, and no domain met its budget.
    EXPECT_GT(d.at("shortfall").get<double>(), 0) << name;
    EXPECT_NEAR(d.at("shortfall").get<double>(),
                d.at("budget").get<double>() - d.at("kept_length").get<double>(), 1e-6)
        << name;
    if (name != "RedPajamaWikipedia") {
      EXPECT_NE(warnings.find(name), std::string::npos) << name << " shortfall: " << warnings;
    }
  }
  EXPECT_EQ(report.at("documents_offered").get<uint64_t>(), corpus_.docs().size());
  EXPECT_NE(r.out.find("warning"), std::string::npos) << r.out;
}

TEST_F(MixSmall, NoBosAndEosAreWrittenAsAsked) {
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --budget 1B --seq-len 512 --no-bos --eos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checked checked;
  ASSERT_NO_FATAL_FAILURE(
      check_dataset(out, corpus_, {.seq_len = 512, .bos = false, .eos = true}, &checked));
  uint64_t eos = 0;
  for (const auto& row : checked.row_tokens) eos += std::count(row.begin(), row.end(), kEos);
  EXPECT_GE(eos + 1, checked.documents.size());
  nlohmann::json manifest = read_json(out / kManifestJson);
  EXPECT_EQ(manifest.at("bos_id"), -1);
  EXPECT_EQ(manifest.at("eos_id"), kEos);
}

TEST_F(MixSmall, EstimateLengthsSelectByCodePointsOver368) {
  // The reference's rule: len(text) / 3.68 in doubles, summed until it passes the budget.
  constexpr double kBudget = 15000;
  size_t expected = 0;
  double sum = 0;
  while (expected < corpus_.docs().size() && !(sum > kBudget))
    sum += static_cast<double>(corpus_.docs()[expected++].text.size()) / 3.68;
  ASSERT_LT(expected, corpus_.docs().size());
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --length estimate --budget 15000 --seq-len 512");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(out / kReportJson).at("documents_kept").get<uint64_t>(), expected);
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, nullptr));
}

TEST_F(MixSmall, BudgetAcceptsSuffixesAndExponents) {
  const std::map<std::string, double> budgets = {{"5B", 5e9},  {"5b", 5e9},     {"500M", 5e8},
                                                 {"2e9", 2e9}, {"2.5e3", 2500}, {"12345", 12345}};
  int i = 0;
  for (const auto& [text, value] : budgets) {
    fs::path out = dir_.path() / fmt::format("out{}", i++);
    CommandResult r =
        run_mix(corpus_, out, fmt::format("--strategy original --seq-len 512 --budget {}", text));
    ASSERT_EQ(r.exit_code, 0) << text << ": " << r.err;
    EXPECT_EQ(read_json(out / kReportJson)["settings"]["budget_tokens"].get<double>(), value)
        << text;
  }
}

TEST_F(MixSmall, OverwriteReplacesAFinishedDataset) {
  fs::path out = dir_.path() / "out", fresh = dir_.path() / "fresh";
  ASSERT_EQ(run_mix(corpus_, out, "--strategy original --budget 10K --seq-len 512").exit_code, 0);
  expect_error(run_mix(corpus_, out, "--strategy original --budget 20K --seq-len 256"),
               "--overwrite");
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --budget 20K --seq-len 256 --overwrite");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(run_mix(corpus_, fresh, "--strategy original --budget 20K --seq-len 256").exit_code, 0);
  expect_same_dataset(fresh, out);
}

// --- Errors -------------------------------------------------------------------------------

TEST_F(MixSmall, DomainWithoutAShareIsAnErrorNamingIt) {
  CommandResult r =
      run_mix(corpus_, dir_.path() / "out", "--budget 10K --seq-len 512 --shares Book=0.5,C4=0.5");
  expect_error(r, "RedPajamaGithub");
  EXPECT_NE(r.err.find("no share"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "out" / kManifestJson));
}

TEST_F(MixSmall, OutputDirectoryMustBeEmpty) {
  fs::path out = dir_.path() / "out";
  testing::write_file(out / "notes.txt", "mine\n");
  CommandResult r = run_mix(corpus_, out, "--strategy original --budget 10K --seq-len 512");
  expect_error(r, "not empty");
  EXPECT_NE(r.err.find(out.string()), std::string::npos) << r.err;
  EXPECT_EQ(listing(out), std::set<std::string>{"notes.txt"});
}

TEST_F(MixSmall, MissingBudgetIsAnError) {
  expect_error(run_mix(corpus_, dir_.path() / "out", "--strategy original --seq-len 512"),
               "--budget");
}

TEST_F(MixSmall, MissingTokenizerIsAnError) {
  CommandResult r = testing::run_command(
      fmt::format("{} mix {} --out {} -q --budget 10K --strategy original", LONGCTX_BINARY,
                  corpus_.root().string(), (dir_.path() / "out").string()));
  expect_error(r, "--tokenizer");
}

TEST_F(MixSmall, UpsampleWithoutDomainWeightsIsAnError) {
  expect_error(run_mix(corpus_, dir_.path() / "out",
                       "--strategy upsample --budget 10K --seq-len 512 " + kShares),
               "--domain-weights");
}

TEST_F(MixSmall, BadBudgetTextIsAnError) {
  for (std::string budget : {"lots", "5X", "-3", "1e", ""}) {
    CommandResult r =
        run_mix(corpus_, dir_.path() / "out",
                fmt::format("--strategy original --seq-len 512 --budget '{}'", budget));
    EXPECT_EQ(r.exit_code, 1) << "--budget '" << budget << "': " << r.err;
    EXPECT_NE(r.err.find("--budget"), std::string::npos)
        << "--budget '" << budget << "': " << r.err;
  }
}

// --- Resume -------------------------------------------------------------------------------

// Runs `args` uninterrupted into DIR/reference; then into DIR/resumed killed by
// LONGCTX_TEST_CRASH=crash, and again with --resume. The two must be byte-identical.
void crash_and_resume(const MixCorpus& corpus, const fs::path& dir, const std::string& args,
                      const std::string& crash) {
  fs::path reference = dir / "reference", resumed = dir / ("resumed-" + crash);
  CommandResult full = run_mix(corpus, reference, args);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  CommandResult killed = run_mix(corpus, resumed, args, "LONGCTX_TEST_CRASH=" + crash);
  ASSERT_EQ(killed.exit_code, 77) << crash << ": " << killed.err;
  if (crash.starts_with("rows:")) {
    for (std::string_view name : kFinalNames) {
      EXPECT_FALSE(fs::exists(resumed / name)) << name << " carries its final name after " << crash;
    }
  }
  CommandResult finished = run_mix(corpus, resumed, args + " --resume");
  ASSERT_EQ(finished.exit_code, 0) << crash << ": " << finished.err;
  expect_same_dataset(reference, resumed);
}

std::string resume_args(uint32_t seq_len = 512, int threads = 2) {
  return per_source("40K", seq_len) + fmt::format(" --threads {} --checkpoint-mb 0.01", threads);
}
const std::string kResumeArgs = resume_args();

TEST_F(MixLarge, ResumeAfterACrashMidRowsGivesTheSameBytes) {
  fs::path probe = dir_.path() / "probe";
  ASSERT_EQ(run_mix(corpus_, probe, kResumeArgs).exit_code, 0);
  uint64_t rows = read_json(probe / kReportJson).at("rows").get<uint64_t>();
  ASSERT_GE(rows, 20u);
  ASSERT_NO_FATAL_FAILURE(
      crash_and_resume(corpus_, dir_.path(), kResumeArgs, fmt::format("rows:{}", rows / 3)));
  ASSERT_NO_FATAL_FAILURE(check_dataset(dir_.path() / fmt::format("resumed-rows:{}", rows / 3),
                                        corpus_, {.seq_len = 512}, nullptr));
}

TEST_F(MixLarge, ResumeTwiceInterruptedGivesTheSameBytes) {
  fs::path reference = dir_.path() / "reference", resumed = dir_.path() / "resumed";
  ASSERT_EQ(run_mix(corpus_, reference, kResumeArgs).exit_code, 0);
  uint64_t rows = read_json(reference / kReportJson).at("rows").get<uint64_t>();
  ASSERT_GE(rows, 20u);
  ASSERT_EQ(run_mix(corpus_, resumed, kResumeArgs, "LONGCTX_TEST_CRASH=rows:3").exit_code, 77);
  CommandResult again = run_mix(corpus_, resumed, kResumeArgs + " --resume",
                                fmt::format("LONGCTX_TEST_CRASH=rows:{}", rows / 2));
  ASSERT_EQ(again.exit_code, 77) << again.err;
  // The thread count is not a setting of the output: a resume may use another.
  CommandResult finished = run_mix(corpus_, resumed, resume_args(512, 1) + " --resume");
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  expect_same_dataset(reference, resumed);
}

TEST_F(MixSmall, ResumeAfterACrashBeforeTheFirstCheckpointGivesTheSameBytes) {
  // With the default --checkpoint-mb the whole small selection is one batch: the crash comes
  // after row 1 is appended, before any checkpoint, so the resume starts the packing again.
  ASSERT_NO_FATAL_FAILURE(crash_and_resume(
      corpus_, dir_.path(), "--strategy original --budget 1B --seq-len 512", "rows:1"));
}

TEST_F(MixSmall, ResumeAfterAKillBetweenTheFinalRenamesGivesTheSameBytes) {
  // finish() renames data.bin.partial first, then spans.bin.partial, segments.bin.partial and
  // rows.jsonl.partial. A kill after the first rename is simulated from an after-finish crash
  // by giving the others their partial names back.
  std::string args =
      "--strategy original --budget 1B --seq-len 512 --doc-boundaries --format jsonl "
      "--checkpoint-mb 0.01";
  fs::path reference = dir_.path() / "reference", resumed = dir_.path() / "resumed";
  ASSERT_EQ(run_mix(corpus_, reference, args).exit_code, 0);
  ASSERT_EQ(run_mix(corpus_, resumed, args, "LONGCTX_TEST_CRASH=after-finish").exit_code, 77);
  for (std::string_view name : {kSpansBin, kSegmentsBin, kRowsJsonl}) {
    ASSERT_TRUE(fs::exists(resumed / name)) << name;
    fs::rename(resumed / name, resumed / fmt::format("{}.partial", name));
  }
  EXPECT_FALSE(fs::exists(resumed / kManifestJson));
  CommandResult finished = run_mix(corpus_, resumed, args + " --resume");
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  expect_same_dataset(reference, resumed);
}

TEST_F(MixLarge, ResumeAfterACrashBeforeFinishGivesTheSameBytes) {
  crash_and_resume(corpus_, dir_.path(), kResumeArgs, "before-finish");
}

TEST_F(MixLarge, ResumeAfterACrashAfterFinishGivesTheSameBytes) {
  crash_and_resume(corpus_, dir_.path(), kResumeArgs, "after-finish");
}

TEST_F(MixSmall, ResumeWithEveryOutputGivesTheSameBytes) {
  // Cut pieces, segment ids and rows.jsonl too: every partial file is cut back on resume.
  std::string args =
      "--strategy cut --max-doc-tokens 300 --budget 1B --seq-len 512 --doc-boundaries "
      "--format jsonl --threads 2 --checkpoint-mb 0.01";
  ASSERT_NO_FATAL_FAILURE(crash_and_resume(corpus_, dir_.path(), args, "rows:20"));
  EXPECT_TRUE(fs::exists(dir_.path() / "reference" / kRowsJsonl));
  EXPECT_TRUE(fs::exists(dir_.path() / "reference" / kSegmentsBin));
}

TEST_F(MixLarge, ResumeRefusesOtherSettingsAndFinishedDatasetsHaveNothingToDo) {
  fs::path out = dir_.path() / "out";
  ASSERT_EQ(run_mix(corpus_, out, kResumeArgs, "LONGCTX_TEST_CRASH=rows:5").exit_code, 77);
  expect_error(run_mix(corpus_, out, resume_args(256) + " --resume"), "seq_len");
  expect_error(run_mix(corpus_, out, kResumeArgs + " --seed 99 --resume"), "seed");
  // Changed inputs are refused too.
  fs::path first = corpus_.root() / corpus_.docs().front().file;
  std::string original = read_file(first);
  fs::file_time_type written = fs::last_write_time(first);
  testing::write_file(first, original + testing::jsonl_record("one more", "RedPajamaC4"));
  expect_error(run_mix(corpus_, out, kResumeArgs + " --resume"), "inputs");
  testing::write_file(first, original);  // same bytes, another time
  fs::last_write_time(first, written - std::chrono::seconds(10));
  expect_error(run_mix(corpus_, out, kResumeArgs + " --resume"), "inputs");
  fs::last_write_time(first, written);
  // Without --resume, an interrupted mix is not overwritten silently.
  expect_error(run_mix(corpus_, out, kResumeArgs), "--resume");

  CommandResult finished = run_mix(corpus_, out, kResumeArgs + " --resume");
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  std::string data = read_file(out / kDataBin), manifest = read_file(out / kManifestJson);
  CommandResult again = run_mix(corpus_, out, kResumeArgs + " --resume");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
  EXPECT_EQ(read_file(out / kDataBin), data);
  EXPECT_EQ(read_file(out / kManifestJson), manifest);
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, nullptr));
}

// --- Other outputs ------------------------------------------------------------------------

TEST_F(MixSmall, JsonlRowsEqualDataBinAndSpans) {
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --budget 20K --seq-len 512 --format jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checked checked;
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, &checked));
  PackedDataset data = PackedDataset::open(out);
  std::istringstream lines(read_file(out / kRowsJsonl));
  uint64_t r_index = 0;
  for (std::string line; std::getline(lines, line); ++r_index) {
    ASSERT_LT(r_index, checked.rows) << "more lines than rows";
    nlohmann::json row = nlohmann::json::parse(line);
    EXPECT_EQ(row.at("input_ids").get<std::vector<int64_t>>(), checked.row_tokens[r_index])
        << "row " << r_index;
    std::span<const SpanRecord> spans = data.spans(r_index);
    ASSERT_EQ(row.at("source").size(), spans.size()) << "row " << r_index;
    for (size_t j = 0; j < spans.size(); ++j) {
      const nlohmann::json& s = row["source"][j];
      EXPECT_EQ(s.at("source"), data.domains()[spans[j].domain]);
      EXPECT_EQ(s.at("document"), fmt::format("{}:{}", data.files()[spans[j].file], spans[j].line));
      EXPECT_EQ(s.at("start"), spans[j].start);
      EXPECT_EQ(s.at("end"), spans[j].end);
      EXPECT_EQ(s.at("offset"), spans[j].offset);
    }
  }
  EXPECT_EQ(r_index, checked.rows);
}

TEST_F(MixSmall, DocBoundariesGiveTheSpanIndexOfEveryToken) {
  fs::path out = dir_.path() / "out";
  CommandResult r =
      run_mix(corpus_, out, "--strategy original --budget 20K --seq-len 512 --doc-boundaries");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NO_FATAL_FAILURE(check_dataset(out, corpus_, {.seq_len = 512}, nullptr));
  PackedDataset data = PackedDataset::open(out);
  ASSERT_TRUE(data.has_segments());
  testing::MegatronDataset segments = testing::read_megatron(out / "segments");
  EXPECT_EQ(segments.dtype_name, "uint16");
  ASSERT_EQ(segments.sequence_count(), data.rows());
  for (uint64_t row = 0; row < data.rows(); ++row) {
    std::vector<int64_t> want(data.seq_len(), -1);
    std::span<const SpanRecord> spans = data.spans(row);
    for (size_t j = 0; j < spans.size(); ++j) {
      for (uint32_t t = spans[j].start; t < spans[j].end; ++t) want[t] = static_cast<int64_t>(j);
    }
    EXPECT_EQ(segments.sequence(row), want) << "row " << row;
    std::vector<int32_t> via_reader(data.seq_len());
    data.read_segments(row, via_reader);
    EXPECT_EQ(std::vector<int64_t>(via_reader.begin(), via_reader.end()), want) << "row " << row;
  }
}

// --- inspect ------------------------------------------------------------------------------

class InspectCli : public MixSmall {
 protected:
  void SetUp() override {
    out_ = dir_.path() / "out";
    CommandResult r = run_mix(corpus_, out_, "--strategy original --budget 20K --seq-len 512");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  CommandResult inspect(const std::string& args) {
    return testing::run_command(
        fmt::format("{} inspect {} {}", LONGCTX_BINARY, out_.string(), args));
  }
  fs::path out_;
};

TEST_F(InspectCli, SummaryGivesRowsTokensAndDomains) {
  PackedDataset data = PackedDataset::open(out_);
  CommandResult r = inspect("");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(fmt::format("{} rows x 512 tokens", data.rows())), std::string::npos)
      << r.out;
  uint64_t starts = 0;
  std::set<std::string> domains;
  for (uint64_t row = 0; row < data.rows(); ++row) {
    for (const SpanRecord& s : data.spans(row)) {
      starts += s.offset == 0;
      domains.insert(data.domains()[s.domain]);
    }
  }
  EXPECT_NE(r.out.find(fmt::format("{} spans", data.span_count())), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("{} document starts", starts)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uint16"), std::string::npos) << r.out;
  for (const std::string& d : domains) EXPECT_NE(r.out.find(d), std::string::npos) << d;
}

TEST_F(InspectCli, RowShowsSpansWithDecodedText) {
  PackedDataset data = PackedDataset::open(out_);
  CommandResult r = inspect("--row 0 --tokenizer " + kModel.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::span<const SpanRecord> spans = data.spans(0);
  EXPECT_NE(r.out.find(fmt::format("row 0 of {}: {} spans", data.rows(), spans.size())),
            std::string::npos)
      << r.out;
  std::vector<int32_t> ids = data.row(0);
  for (const SpanRecord& s : spans) {
    std::string document = fmt::format("{}:{}", data.files()[s.file], s.line);
    EXPECT_NE(r.out.find(document), std::string::npos) << document << "\n" << r.out;
    // The span's text as the tokenizer decodes it, newlines shown as spaces: its start at least.
    std::string text =
        tokenizer().decode(std::span<const int32_t>(ids).subspan(s.start, s.end - s.start));
    std::replace(text.begin(), text.end(), '\n', ' ');
    text.resize(std::min<size_t>(text.size(), 40));
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
    if (s.offset == 0) {
      // A document's first span decodes to the start of the document.
      const Doc& d =
          corpus_.docs()[static_cast<size_t>(corpus_.find(data.files()[s.file], s.line))];
      std::string head = d.text.substr(0, text.size());
      std::replace(head.begin(), head.end(), '\n', ' ');
      EXPECT_EQ(text, head) << document;
    }
  }
}

TEST_F(InspectCli, RowOutOfRangeIsAnError) {
  PackedDataset data = PackedDataset::open(out_);
  CommandResult r = inspect(fmt::format("--row {}", data.rows()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(data.rows())), std::string::npos) << r.err;
}

TEST_F(InspectCli, NegativeRowIsAnError) {
  CommandResult r = inspect("--row -1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--row"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("rows x"), std::string::npos) << "printed the summary instead:\n" << r.out;
}

TEST(InspectCliErrors, NotADatasetIsAnError) {
  TempDir dir;
  CommandResult r =
      testing::run_command(fmt::format("{} inspect {}", LONGCTX_BINARY, dir.path().string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("manifest.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace longctx
