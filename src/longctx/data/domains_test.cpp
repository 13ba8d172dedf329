#include "longctx/data/domains.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace longctx {
namespace {

// The table of RECIPE.md section 2 (the reference code's original token shares), copied by hand.
struct RecipeRow {
  const char* set_name;
  const char* short_name;
  double share;
};
const RecipeRow kRecipe[] = {
    {"RedPajamaCommonCrawl", "CC", 0.53374772},
    {"RedPajamaC4", "C4", 0.26609933},
    {"RedPajamaGithub", "Github", 0.05004782},
    {"RedPajamaBook", "Book", 0.0414836},
    {"RedPajamaArXiv", "ArXiv", 0.04290379},
    {"RedPajamaWikipedia", "Wikipedia", 0.03402128},
    {"RedPajamaStackExchange", "StackExchange", 0.03169647},
};

TEST(Domains, PresetMatchesTheRecipeTable) {
  ASSERT_EQ(kSlimPajamaDomains.size(), std::size(kRecipe));
  double sum = 0;
  for (size_t i = 0; i < std::size(kRecipe); ++i) {
    EXPECT_EQ(kSlimPajamaDomains[i].set_name, kRecipe[i].set_name);
    EXPECT_EQ(kSlimPajamaDomains[i].short_name, kRecipe[i].short_name);
    EXPECT_EQ(kSlimPajamaDomains[i].original_share, kRecipe[i].share);
    sum += kSlimPajamaDomains[i].original_share;
  }
  EXPECT_NEAR(sum, 1.0, 1e-7);  // the published shares sum to 1.00000001
}

TEST(FindKnownDomain, BySetNameAndByShortName) {
  for (const RecipeRow& row : kRecipe) {
    for (const char* name : {row.set_name, row.short_name}) {
      std::optional<KnownDomain> d = find_known_domain(name);
      ASSERT_TRUE(d.has_value()) << name;
      EXPECT_EQ(d->set_name, row.set_name);
      EXPECT_EQ(d->short_name, row.short_name);
      EXPECT_EQ(d->original_share, row.share);
    }
  }
}

TEST(FindKnownDomain, UnknownNamesAndCase) {
  for (const char* name : {"", "c4", "redpajamac4", "RedPajama", "Books", "CommonCrawl", "C4 "}) {
    EXPECT_FALSE(find_known_domain(name).has_value()) << name;
  }
}

TEST(ReportOrder, PresetInTableOrderThenTheRestByName) {
  std::vector<std::string> names = {
      "zeta", "RedPajamaStackExchange", "alpha",  "Book", "RedPajamaCommonCrawl",
      "Beta", "RedPajamaArXiv",         "Github", "C4",   "Wikipedia"};
  std::vector<std::string> want = {
      "RedPajamaCommonCrawl",   "C4",   "Github", "Book", "RedPajamaArXiv", "Wikipedia",
      "RedPajamaStackExchange", "Beta", "alpha",  "zeta"};
  EXPECT_EQ(report_order(names), want);
  // Any input order gives the same result.
  std::vector<std::string> reversed(names.rbegin(), names.rend());
  EXPECT_EQ(report_order(reversed), want);
}

TEST(ReportOrder, SetAndShortNameOfOneDomainSortByName) {
  EXPECT_EQ(report_order({"RedPajamaC4", "x", "C4", "CC"}),
            (std::vector<std::string>{"CC", "C4", "RedPajamaC4", "x"}));
  EXPECT_TRUE(report_order({}).empty());
}

}  // namespace
}  // namespace longctx
