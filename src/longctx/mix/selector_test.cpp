#include "longctx/mix/selector.h"

#include <gtest/gtest.h>

#include <vector>

#include "longctx/base/error.h"

namespace longctx {
namespace {

// From numpy itself: scripts/make_reference_random_goldens.py.
struct RandomGolden {
  uint64_t seed;
  std::vector<double> values;
};
const std::vector<RandomGolden> kNumpyDraws = {
    {15213,
     {0.8272432781221952, 0.5589351228959545, 0.39938572073915846, 0.05305354326867995,
      0.42722337422966694}},
    {42,
     {0.3745401188473625, 0.9507143064099162, 0.7319939418114051, 0.5986584841970366,
      0.15601864044243652}},
    {0,
     {0.5488135039273248, 0.7151893663724195, 0.6027633760716439, 0.5448831829968969,
      0.4236547993389047}},
};

TEST(ReferenceRandom, MatchesNumpyLegacyRandomBitForBit) {
  for (const RandomGolden& g : kNumpyDraws) {
    ReferenceRandom random(g.seed);
    for (double expected : g.values) EXPECT_EQ(random.next(), expected) << "seed " << g.seed;
  }
}

TEST(Strategy, NamesRoundTripAndUnknownIsAnError) {
  for (auto s : {Strategy::kOriginal, Strategy::kCut, Strategy::kPerSource, Strategy::kGlobal,
                 Strategy::kUpsample, Strategy::kFu2024Code}) {
    EXPECT_EQ(parse_strategy(strategy_name(s)), s);
  }
  EXPECT_THROW(parse_strategy("per_source"), Error);
}

DocumentInfo doc(uint32_t domain, double length, uint64_t line = 1) {
  return DocumentInfo{0, domain, line, length};
}

TEST(Selector, OriginalKeepsEverythingUntilTheBudgetIsExceeded) {
  SelectionSettings s;
  s.strategy = Strategy::kOriginal;
  s.budget_tokens = 100;
  Selector selector(s, {});
  EXPECT_EQ(selector.offer(doc(0, 60)), Decision::kKeep);
  EXPECT_FALSE(selector.done());
  EXPECT_EQ(selector.offer(doc(1, 40)), Decision::kKeep);
  EXPECT_FALSE(selector.done()) << "the reference stops only once the total is *over* the budget";
  EXPECT_EQ(selector.offer(doc(0, 1)), Decision::kKeep);
  EXPECT_TRUE(selector.done());
  EXPECT_EQ(selector.domains()[0].kept_documents, 2u);
  EXPECT_EQ(selector.domains()[1].kept_length, 40);
}

TEST(Selector, GlobalFiltersShortDocumentsWithTheReferenceDraws) {
  // Seed 15213 draws 0.827, 0.559, 0.399, 0.053, 0.427: with keep probability 0.5 the 1st and
  // 2nd short documents are dropped, the 3rd and 4th kept. Long documents draw nothing.
  SelectionSettings s;
  s.strategy = Strategy::kGlobal;
  s.budget_tokens = 1e9;
  s.short_keep_prob = 0.5;
  Selector selector(s, {});
  EXPECT_EQ(selector.offer(doc(0, 10)), Decision::kFiltered);   // 0.827
  EXPECT_EQ(selector.offer(doc(0, 5000)), Decision::kKeep);     // long: no draw
  EXPECT_EQ(selector.offer(doc(0, 10)), Decision::kFiltered);   // 0.559
  EXPECT_EQ(selector.offer(doc(0, 10)), Decision::kKeep);       // 0.399
  EXPECT_EQ(selector.offer(doc(0, 4095.99)), Decision::kKeep);  // 0.053: short, kept
  EXPECT_EQ(selector.offer(doc(0, 4096)), Decision::kKeep);     // exactly the threshold: long
  EXPECT_EQ(selector.domains()[0].filtered_documents, 2u);
}

TEST(Selector, PerSourceSkipsFullDomainsWithoutDrawing) {
  SelectionSettings s;
  s.strategy = Strategy::kPerSource;
  s.short_keep_prob = 0.5;
  Selector selector(s, {100, 100});
  EXPECT_EQ(selector.offer(doc(0, 5000)), Decision::kKeep);  // domain 0 now over its budget
  EXPECT_FALSE(selector.done());
  EXPECT_EQ(selector.offer(doc(0, 10)), Decision::kOverBudget);  // no draw
  EXPECT_EQ(selector.offer(doc(1, 10)), Decision::kFiltered);    // 0.827
  EXPECT_EQ(selector.offer(doc(1, 10)), Decision::kFiltered);    // 0.559
  EXPECT_EQ(selector.offer(doc(1, 90)), Decision::kKeep);        // 0.399
  EXPECT_FALSE(selector.done()) << "90 < 100";
  EXPECT_EQ(selector.offer(doc(1, 10)), Decision::kKeep);  // 0.053
  EXPECT_TRUE(selector.done()) << "every domain has reached its budget";
  EXPECT_EQ(selector.domains()[0].over_budget_documents, 1u);
  EXPECT_EQ(selector.domains()[1].filtered_documents, 2u);
  EXPECT_EQ(selector.domains()[1].kept_length, 100);
}

TEST(Selector, ADomainAtExactlyItsBudgetStillTakesADocument) {
  // The reference skips a source only when its tokens are *greater* than its budget.
  SelectionSettings s;
  s.strategy = Strategy::kPerSource;
  s.short_keep_prob = 1.0;  // every draw is <= 1: every short document passes
  Selector selector(s, {100, 1000});
  EXPECT_EQ(selector.offer(doc(0, 100)), Decision::kKeep);  // exactly at the budget
  EXPECT_EQ(selector.offer(doc(0, 5)), Decision::kKeep);    // 100 > 100 is false: one more
  EXPECT_EQ(selector.offer(doc(0, 1)), Decision::kOverBudget);
  EXPECT_EQ(selector.domains()[0].kept_length, 105);
}

TEST(Selector, PerSourceLongDocumentsAreAlwaysKeptUntilTheBudget) {
  SelectionSettings s;
  s.strategy = Strategy::kPerSource;
  s.short_keep_prob = 0.0;
  Selector selector(s, {10000});
  EXPECT_EQ(selector.offer(doc(0, 4096)), Decision::kKeep);
  EXPECT_EQ(selector.offer(doc(0, 1)), Decision::kFiltered);
  EXPECT_EQ(selector.offer(doc(0, 4096)), Decision::kKeep);
  EXPECT_EQ(selector.offer(doc(0, 4096)), Decision::kKeep);  // 8192 <= 10000: still open
  EXPECT_TRUE(selector.done());                              // 12288 >= 10000
  EXPECT_EQ(selector.offer(doc(0, 4096)), Decision::kOverBudget);
}

TEST(Selector, ZeroBudgetsAreDoneAtOnce) {
  SelectionSettings s;
  s.strategy = Strategy::kPerSource;
  Selector selector(s, {0, 0});
  EXPECT_TRUE(selector.done());
}

}  // namespace
}  // namespace longctx
