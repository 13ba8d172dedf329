#include "longctx/data/corpus_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace longctx {
namespace {

TEST(LengthBucket, Edges) {
  const std::vector<std::pair<uint64_t, int>> cases = {
      {0, 0},
      {1, 0},
      {1023, 0},
      {1024, 1},
      {2047, 1},
      {2048, 2},
      {4095, 2},
      {4096, 3},
      {8191, 3},
      {8192, 4},
      {16383, 4},
      {16384, 5},
      {32767, 5},
      {32768, 6},
      {65535, 6},
      {65536, 7},
      {131071, 7},
      {131072, 8},
      {131073, 8},
      {262144, 8},
      {uint64_t{1} << 40, 8},
      {std::numeric_limits<uint64_t>::max(), 8},
  };
  for (const auto& [tokens, bucket] : cases) EXPECT_EQ(length_bucket(tokens), bucket) << tokens;
}

TEST(LengthBucket, EveryLengthUpTo300KFallsInsideItsBucket) {
  for (uint64_t tokens = 0; tokens < 300'000; ++tokens) {
    int b = length_bucket(tokens);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, kLengthBucketCount);
    ASSERT_GE(tokens, bucket_min_tokens(b)) << tokens;
    if (b + 1 < kLengthBucketCount) {
      ASSERT_LT(tokens, bucket_min_tokens(b + 1)) << tokens;
    }
  }
}

TEST(BucketLabels, PaperLabelsAndLowerEdges) {
  const std::vector<std::string> labels = {"0-1K",   "1-2K",   "2-4K",    "4-8K", "8-16K",
                                           "16-32K", "32-64K", "64-128K", "128K+"};
  const std::vector<uint64_t> mins = {0, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072};
  ASSERT_EQ(labels.size(), static_cast<size_t>(kLengthBucketCount));
  for (int b = 0; b < kLengthBucketCount; ++b) {
    EXPECT_EQ(bucket_label(b), labels[static_cast<size_t>(b)]);
    EXPECT_EQ(bucket_min_tokens(b), mins[static_cast<size_t>(b)]);
  }
}

// The median of a sorted copy: the middle value, or the mean of the two middle values.
double brute_force_median(std::vector<uint64_t> lengths) {
  std::sort(lengths.begin(), lengths.end());
  size_t n = lengths.size();
  if (n % 2 == 1) return static_cast<double>(lengths[n / 2]);
  return (static_cast<double>(lengths[n / 2 - 1]) + static_cast<double>(lengths[n / 2])) / 2.0;
}

TEST(DomainProfile, MedianAgainstASortedVector) {
  std::mt19937_64 rng(2024);
  for (size_t n : {1, 2, 3, 4, 5, 10, 11, 100, 101, 1000, 1001, 4096, 4097}) {
    for (uint64_t range : {uint64_t{5}, uint64_t{1000}, uint64_t{1} << 40}) {  // many ties or few
      std::vector<uint64_t> lengths(n);
      DomainProfile profile;
      for (uint64_t& length : lengths) {
        length = rng() % range;
        profile.add(length, 4096);
      }
      EXPECT_EQ(profile.median_tokens(), brute_force_median(lengths))
          << "n " << n << " range " << range;
    }
  }
}

TEST(DomainProfile, MedianSmallCases) {
  DomainProfile empty;
  EXPECT_EQ(empty.median_tokens(), 0.0);
  DomainProfile p;
  p.add(7, 4096);
  EXPECT_EQ(p.median_tokens(), 7.0);
  p.add(10, 4096);
  EXPECT_EQ(p.median_tokens(), 8.5);
  p.add(1, 4096);
  EXPECT_EQ(p.median_tokens(), 7.0);
  p.add(1, 4096);  // 1 1 7 10
  EXPECT_EQ(p.median_tokens(), 4.0);
}

TEST(DomainProfile, LongTokenShareAtTheThreshold) {
  DomainProfile p;
  p.add(4095, 4096);  // one short of long
  EXPECT_EQ(p.long_documents, 0u);
  EXPECT_EQ(p.long_token_share(), 0.0);
  p.add(4096, 4096);  // exactly the threshold: long
  p.add(4097, 4096);
  EXPECT_EQ(p.documents, 3u);
  EXPECT_EQ(p.tokens, 12288u);
  EXPECT_EQ(p.long_documents, 2u);
  EXPECT_EQ(p.long_tokens, 8193u);
  EXPECT_EQ(p.long_token_share(), 8193.0 / 12288.0);
  DomainProfile none;
  EXPECT_EQ(none.long_token_share(), 0.0);
  // A threshold of 0 makes every document long, even an empty one.
  DomainProfile all;
  all.add(0, 0);
  all.add(5, 0);
  EXPECT_EQ(all.long_documents, 2u);
  EXPECT_EQ(all.long_token_share(), 1.0);
}

TEST(DomainProfile, BucketsCountDocumentsAndTokens) {
  DomainProfile p;
  // Document i has length 1024 * 2^(i-1) for i >= 1 (the lower edge of bucket i), and 0.
  for (int b = 0; b < kLengthBucketCount; ++b) p.add(bucket_min_tokens(b), 4096);
  p.add(1023, 4096);  // bucket 0 again
  for (int b = 0; b < kLengthBucketCount; ++b) {
    EXPECT_EQ(p.bucket_documents[static_cast<size_t>(b)], b == 0 ? 2u : 1u) << b;
    EXPECT_EQ(p.bucket_tokens[static_cast<size_t>(b)], b == 0 ? 1023u : bucket_min_tokens(b)) << b;
  }
  EXPECT_EQ(p.tokens, 1023u + 1024u * 255u);  // 1024 * (1 + 2 + ... + 128)
}

// Random (domain, length) adds with a fixed seed.
std::vector<std::pair<std::string, uint64_t>> random_documents(size_t n, unsigned seed) {
  const char* names[] = {"RedPajamaBook", "zeta", "RedPajamaC4", "alpha", "RedPajamaCommonCrawl"};
  std::mt19937 rng(seed);
  std::vector<std::pair<std::string, uint64_t>> docs;
  for (size_t i = 0; i < n; ++i) {
    uint64_t length = rng() % 3 == 0 ? rng() % 200'000 : rng() % 3000;
    docs.emplace_back(names[rng() % 5], length);
  }
  return docs;
}

TEST(CorpusProfile, MergeInAnyOrderEqualsOneProfile) {
  auto docs = random_documents(3000, 5);
  CorpusProfile whole(4096);
  for (const auto& [domain, length] : docs) whole.add(domain, length);
  std::string reference = whole.to_json().dump();

  std::vector<CorpusProfile> parts(4, CorpusProfile(4096));
  for (size_t i = 0; i < docs.size(); ++i) parts[(i * 7) % 4].add(docs[i].first, docs[i].second);
  std::vector<int> order = {0, 1, 2, 3};
  do {
    CorpusProfile merged(4096);
    for (int p : order) merged.merge(parts[static_cast<size_t>(p)]);
    EXPECT_EQ(merged.to_json().dump(), reference);
  } while (std::next_permutation(order.begin(), order.end()));

  // Merging into a non-empty profile, and merging an empty one, change nothing else.
  CorpusProfile left = parts[0];
  left.merge(parts[1]);
  left.merge(CorpusProfile(4096));
  CorpusProfile right = parts[2];
  right.merge(parts[3]);
  left.merge(right);
  EXPECT_EQ(left.to_json().dump(), reference);
}

TEST(CorpusProfile, TotalSumsTheDomains) {
  CorpusProfile profile(100);
  profile.add("a", 10);
  profile.add("b", 200);
  profile.add("b", 3000);
  DomainProfile total = profile.total();
  EXPECT_EQ(total.documents, 3u);
  EXPECT_EQ(total.tokens, 3210u);
  EXPECT_EQ(total.long_documents, 2u);
  EXPECT_EQ(total.long_tokens, 3200u);
  EXPECT_EQ(total.median_tokens(), 200.0);
  EXPECT_EQ(profile.domains().at("b").documents, 2u);
  EXPECT_EQ(profile.long_threshold_tokens(), 100u);
}

TEST(CorpusProfile, DomainOrderIsPresetFirstThenAlphabetical) {
  CorpusProfile profile;
  for (const char* name : {"zeta", "RedPajamaBook", "alpha", "RedPajamaCommonCrawl", "Beta",
                           "RedPajamaC4", "RedPajamaGithub"}) {
    profile.add(name, 1);
  }
  std::vector<std::string> want = {"RedPajamaCommonCrawl",
                                   "RedPajamaC4",
                                   "RedPajamaGithub",
                                   "RedPajamaBook",
                                   "Beta",
                                   "alpha",
                                   "zeta"};
  EXPECT_EQ(profile.domain_names(), want);
  nlohmann::json j = profile.to_json();
  ASSERT_EQ(j["domains"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(j["domains"][i]["name"], want[i]);
}

TEST(CorpusProfile, ToJsonHoldsEveryNumber) {
  CorpusProfile profile(4096);
  profile.add("RedPajamaBook", 121602);
  profile.add("RedPajamaBook", 5000);
  profile.add("RedPajamaC4", 315);
  profile.add("RedPajamaC4", 100);
  profile.add("RedPajamaC4", 1500);
  nlohmann::json j = profile.to_json();
  EXPECT_EQ(j["long_threshold_tokens"], 4096);

  ASSERT_EQ(j["buckets"].size(), 9u);
  EXPECT_EQ(j["buckets"][0],
            (nlohmann::json{{"label", "0-1K"}, {"min_tokens", 0}, {"max_tokens", 1024}}));
  EXPECT_EQ(j["buckets"][7],
            (nlohmann::json{{"label", "64-128K"}, {"min_tokens", 65536}, {"max_tokens", 131072}}));
  EXPECT_EQ(j["buckets"][8],
            (nlohmann::json{{"label", "128K+"}, {"min_tokens", 131072}, {"max_tokens", nullptr}}));

  const uint64_t total_tokens = 121602 + 5000 + 315 + 100 + 1500;  // 128517
  ASSERT_EQ(j["domains"].size(), 2u);
  const nlohmann::json& c4 = j["domains"][0];
  EXPECT_EQ(c4["name"], "RedPajamaC4");
  EXPECT_EQ(c4["documents"], 3);
  EXPECT_EQ(c4["tokens"], 1915);
  EXPECT_EQ(c4["token_share"], 1915.0 / static_cast<double>(total_tokens));
  EXPECT_EQ(c4["median_document_tokens"], 315.0);
  EXPECT_EQ(c4["long_documents"], 0);
  EXPECT_EQ(c4["long_tokens"], 0);
  EXPECT_EQ(c4["long_token_share"], 0.0);
  EXPECT_EQ(c4["bucket_tokens"], (nlohmann::json{415, 1500, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(c4["bucket_documents"], (nlohmann::json{2, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(c4["bucket_token_shares"][0], 415.0 / 1915.0);
  EXPECT_EQ(c4["bucket_token_shares"][1], 1500.0 / 1915.0);
  EXPECT_EQ(c4["bucket_document_shares"][0], 2.0 / 3.0);

  const nlohmann::json& book = j["domains"][1];
  EXPECT_EQ(book["name"], "RedPajamaBook");
  EXPECT_EQ(book["median_document_tokens"], (121602.0 + 5000.0) / 2.0);
  EXPECT_EQ(book["long_documents"], 2);
  EXPECT_EQ(book["long_token_share"], 1.0);
  EXPECT_EQ(book["bucket_tokens"], (nlohmann::json{0, 0, 0, 5000, 0, 0, 0, 121602, 0}));

  const nlohmann::json& total = j["total"];
  EXPECT_EQ(total.contains("name"), false);
  EXPECT_EQ(total["documents"], 5);
  EXPECT_EQ(total["tokens"], total_tokens);
  EXPECT_EQ(total["token_share"], 1.0);
  EXPECT_EQ(total["median_document_tokens"], 1500.0);
  EXPECT_EQ(total["long_tokens"], 126602);
  EXPECT_EQ(total["long_token_share"], 126602.0 / static_cast<double>(total_tokens));
}

TEST(CorpusProfile, EmptyProfileHasZeroSharesNotNaN) {
  CorpusProfile profile;
  nlohmann::json j = profile.to_json();
  EXPECT_TRUE(j["domains"].empty());
  EXPECT_EQ(j["total"]["documents"], 0);
  EXPECT_EQ(j["total"]["token_share"], 0.0);
  EXPECT_EQ(j["total"]["median_document_tokens"], 0.0);
  for (const auto& share : j["total"]["bucket_token_shares"]) EXPECT_EQ(share, 0.0);
  // A domain whose documents are all empty has zero tokens: shares stay 0.
  profile.add("RedPajamaC4", 0);
  nlohmann::json k = profile.to_json();
  EXPECT_EQ(k["domains"][0]["token_share"], 0.0);
  EXPECT_EQ(k["domains"][0]["bucket_document_shares"][0], 1.0);
  EXPECT_EQ(k["domains"][0]["bucket_token_shares"][0], 0.0);
}

}  // namespace
}  // namespace longctx
