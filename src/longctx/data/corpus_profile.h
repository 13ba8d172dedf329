// Corpus profile: the domain x length picture of a corpus (Figure 2 of the paper). Per domain
// and for the whole corpus: documents, tokens, median document length, the share of tokens in
// documents of at least `long_threshold` tokens, and histograms over the paper's length buckets
// (0-1K, 1-2K, 2-4K, 4-8K, 8-16K, 16-32K, 32-64K, 64-128K, 128K+; K = 1024 tokens), weighted by
// tokens and by documents. All counts are integers, so merging per-thread profiles gives the
// same result in any order.
//
//   CorpusProfile profile(/*long_threshold_tokens=*/4096);
//   profile.add("RedPajamaBook", 121602);
//   profile.total().median_tokens() == 121602
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace longctx {

inline constexpr int kLengthBucketCount = 9;

// Bucket of a document length: 0 for [0, 1024), b for [1024 * 2^(b-1), 1024 * 2^b), 8 for 128K+.
int length_bucket(uint64_t tokens);
// "0-1K", "1-2K", ..., "128K+".
std::string bucket_label(int bucket);
// Lower edge of a bucket in tokens (0, 1024, 2048, ...).
uint64_t bucket_min_tokens(int bucket);

struct DomainProfile {
  uint64_t documents = 0;
  uint64_t tokens = 0;
  uint64_t long_documents = 0;  // documents of at least the long threshold
  uint64_t long_tokens = 0;     // tokens in those documents
  std::array<uint64_t, kLengthBucketCount> bucket_documents{};
  std::array<uint64_t, kLengthBucketCount> bucket_tokens{};
  std::unordered_map<uint64_t, uint64_t> length_counts;  // length -> documents (exact median)

  void add(uint64_t document_tokens, uint64_t long_threshold_tokens);
  void merge(const DomainProfile& other);
  // Median document length in tokens (mean of the two middle values for an even count).
  double median_tokens() const;
  double long_token_share() const;
};

class CorpusProfile {
 public:
  explicit CorpusProfile(uint64_t long_threshold_tokens = 4096)
      : long_threshold_tokens_(long_threshold_tokens) {}

  void add(std::string_view domain, uint64_t document_tokens);
  void merge(const CorpusProfile& other);

  uint64_t long_threshold_tokens() const { return long_threshold_tokens_; }
  const std::map<std::string, DomainProfile, std::less<>>& domains() const { return domains_; }
  // Domain names in report order (SlimPajama preset first, then by name).
  std::vector<std::string> domain_names() const;
  DomainProfile total() const;

  // Every number of the profile: see docs/formats.md, "stats JSON".
  nlohmann::json to_json() const;

 private:
  uint64_t long_threshold_tokens_;
  std::map<std::string, DomainProfile, std::less<>> domains_;
};

}  // namespace longctx
