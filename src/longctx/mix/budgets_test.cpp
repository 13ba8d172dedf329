#include "longctx/mix/budgets.h"

#include <gtest/gtest.h>

#include "longctx/base/error.h"

namespace longctx {
namespace {

double share_of(const DomainWeights& w, const std::string& name) {
  for (const auto& [n, s] : w) {
    if (n == name) return s;
  }
  ADD_FAILURE() << "no domain " << name;
  return -1;
}

TEST(Budgets, ShortNamesAreTheSlimPajamaSetNames) {
  EXPECT_EQ(canonical_domain("Book"), "RedPajamaBook");
  EXPECT_EQ(canonical_domain("CC"), "RedPajamaCommonCrawl");
  EXPECT_EQ(canonical_domain("RedPajamaC4"), "RedPajamaC4");
  EXPECT_EQ(canonical_domain("my-domain"), "my-domain");
}

TEST(Budgets, DefaultSharesAreTheReferenceTableUsedAsIs) {
  DomainWeights shares = *parse_shares("slimpajama");
  ASSERT_EQ(shares.size(), 7u);
  DomainWeights b = budget_shares(Strategy::kPerSource, shares, "", true);
  EXPECT_EQ(share_of(b, "RedPajamaC4"), 0.26609933);
  EXPECT_EQ(share_of(b, "RedPajamaBook"), 0.0414836);
  EXPECT_FALSE(parse_shares("measured").has_value());
}

TEST(Budgets, GivenSharesAreNormalised) {
  DomainWeights shares = *parse_shares("C4=1,Book=3");
  DomainWeights b = budget_shares(Strategy::kPerSource, shares, "", false);
  EXPECT_DOUBLE_EQ(share_of(b, "RedPajamaC4"), 0.25);
  EXPECT_DOUBLE_EQ(share_of(b, "RedPajamaBook"), 0.75);
  EXPECT_THROW(parse_shares("C4=1,RedPajamaC4=2"), Error);
  EXPECT_THROW(parse_shares("C4=-1"), Error);
  EXPECT_THROW(parse_shares("C4=abc"), Error);
}

TEST(Budgets, UpsampleWeightsAreFinalSharesAndTheRestKeepsItsProportions) {
  DomainWeights shares = *parse_shares("A=0.5,B=0.3,C=0.2");
  DomainWeights b = budget_shares(Strategy::kUpsample, shares, "C=0.6", false);
  EXPECT_DOUBLE_EQ(share_of(b, "C"), 0.6);
  EXPECT_DOUBLE_EQ(share_of(b, "A"), 0.4 * 0.5 / 0.8);
  EXPECT_DOUBLE_EQ(share_of(b, "B"), 0.4 * 0.3 / 0.8);
  EXPECT_THROW(budget_shares(Strategy::kUpsample, shares, "", false), Error);
  EXPECT_THROW(budget_shares(Strategy::kUpsample, shares, "D=0.1", false), Error);
  EXPECT_THROW(budget_shares(Strategy::kUpsample, shares, "A=0.7,C=0.6", false), Error);
}

TEST(Budgets, Fu2024CodeWeightsGithubArxivBookAtPointSixThenNormalises) {
  DomainWeights b = budget_shares(Strategy::kFu2024Code, *parse_shares("slimpajama"), "", true);
  double sum = 0.26609933 + 0.53374772 + 0.03169647 + 0.03402128 + 3 * 0.6;
  EXPECT_DOUBLE_EQ(share_of(b, "RedPajamaBook"), 0.6 / sum);
  EXPECT_DOUBLE_EQ(share_of(b, "RedPajamaC4"), 0.26609933 / sum);
}

TEST(Budgets, DomainWeightsOnlyWithUpsample) {
  EXPECT_THROW(budget_shares(Strategy::kPerSource, *parse_shares("slimpajama"), "Book=0.5", true),
               Error);
}

}  // namespace
}  // namespace longctx
