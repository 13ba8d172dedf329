#include "longctx/data/corpus_profile.h"

#include <fmt/format.h>
#include <algorithm>
#include <bit>

#include "longctx/data/domains.h"

namespace longctx {

int length_bucket(uint64_t tokens) {
  if (tokens < 1024) return 0;
  // tokens in [1024 * 2^(b-1), 1024 * 2^b) -> b = bit_width(tokens / 1024).
  int bucket = static_cast<int>(std::bit_width(tokens / 1024));
  return std::min(bucket, kLengthBucketCount - 1);
}

uint64_t bucket_min_tokens(int bucket) {
  return bucket == 0 ? 0 : uint64_t{512} << bucket;
}

std::string bucket_label(int bucket) {
  if (bucket == kLengthBucketCount - 1)
    return fmt::format("{}K+", bucket_min_tokens(bucket) / 1024);
  return fmt::format("{}-{}K", bucket_min_tokens(bucket) / 1024,
                     bucket_min_tokens(bucket + 1) / 1024);
}

void DomainProfile::add(uint64_t document_tokens, uint64_t long_threshold_tokens) {
  ++documents;
  tokens += document_tokens;
  if (document_tokens >= long_threshold_tokens) {
    ++long_documents;
    long_tokens += document_tokens;
  }
  int bucket = length_bucket(document_tokens);
  ++bucket_documents[static_cast<size_t>(bucket)];
  bucket_tokens[static_cast<size_t>(bucket)] += document_tokens;
  ++length_counts[document_tokens];
}

void DomainProfile::merge(const DomainProfile& other) {
  documents += other.documents;
  tokens += other.tokens;
  long_documents += other.long_documents;
  long_tokens += other.long_tokens;
  for (size_t b = 0; b < bucket_documents.size(); ++b) {
    bucket_documents[b] += other.bucket_documents[b];
    bucket_tokens[b] += other.bucket_tokens[b];
  }
  for (const auto& [length, count] : other.length_counts) length_counts[length] += count;
}

double DomainProfile::median_tokens() const {
  if (documents == 0) return 0.0;
  std::vector<std::pair<uint64_t, uint64_t>> sorted(length_counts.begin(), length_counts.end());
  std::sort(sorted.begin(), sorted.end());
  // 0-based ranks of the middle documents: (n-1)/2 and n/2 (equal when n is odd).
  uint64_t low_rank = (documents - 1) / 2, high_rank = documents / 2;
  uint64_t seen = 0;
  double low = 0.0, high = 0.0;
  bool have_low = false;
  for (const auto& [length, count] : sorted) {
    seen += count;
    if (!have_low && seen > low_rank) {
      low = static_cast<double>(length);
      have_low = true;
    }
    if (seen > high_rank) {
      high = static_cast<double>(length);
      break;
    }
  }
  return (low + high) / 2.0;
}

double DomainProfile::long_token_share() const {
  return tokens == 0 ? 0.0 : static_cast<double>(long_tokens) / static_cast<double>(tokens);
}

void CorpusProfile::add(std::string_view domain, uint64_t document_tokens) {
  auto it = domains_.find(domain);
  if (it == domains_.end()) it = domains_.emplace(std::string(domain), DomainProfile{}).first;
  it->second.add(document_tokens, long_threshold_tokens_);
}

void CorpusProfile::merge(const CorpusProfile& other) {
  for (const auto& [name, profile] : other.domains_) domains_[name].merge(profile);
}

std::vector<std::string> CorpusProfile::domain_names() const {
  std::vector<std::string> names;
  for (const auto& entry : domains_) names.push_back(entry.first);
  return report_order(std::move(names));
}

DomainProfile CorpusProfile::total() const {
  DomainProfile total;
  for (const auto& entry : domains_) total.merge(entry.second);
  return total;
}

namespace {

double share(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

nlohmann::json domain_json(const DomainProfile& d, uint64_t corpus_tokens) {
  nlohmann::json j;
  j["documents"] = d.documents;
  j["tokens"] = d.tokens;
  j["token_share"] = share(d.tokens, corpus_tokens);
  j["median_document_tokens"] = d.median_tokens();
  j["long_documents"] = d.long_documents;
  j["long_tokens"] = d.long_tokens;
  j["long_token_share"] = d.long_token_share();
  nlohmann::json bucket_tokens = nlohmann::json::array(),
                 bucket_documents = nlohmann::json::array();
  nlohmann::json token_shares = nlohmann::json::array(), document_shares = nlohmann::json::array();
  for (size_t b = 0; b < d.bucket_tokens.size(); ++b) {
    bucket_tokens.push_back(d.bucket_tokens[b]);
    bucket_documents.push_back(d.bucket_documents[b]);
    token_shares.push_back(share(d.bucket_tokens[b], d.tokens));
    document_shares.push_back(share(d.bucket_documents[b], d.documents));
  }
  j["bucket_tokens"] = bucket_tokens;
  j["bucket_documents"] = bucket_documents;
  j["bucket_token_shares"] = token_shares;
  j["bucket_document_shares"] = document_shares;
  return j;
}

}  // namespace

nlohmann::json CorpusProfile::to_json() const {
  DomainProfile all = total();
  nlohmann::json j;
  j["long_threshold_tokens"] = long_threshold_tokens_;
  nlohmann::json buckets = nlohmann::json::array();
  for (int b = 0; b < kLengthBucketCount; ++b) {
    nlohmann::json bucket{{"label", bucket_label(b)}, {"min_tokens", bucket_min_tokens(b)}};
    bucket["max_tokens"] = b + 1 < kLengthBucketCount ? nlohmann::json(bucket_min_tokens(b + 1))
                                                      : nlohmann::json(nullptr);
    buckets.push_back(bucket);
  }
  j["buckets"] = buckets;
  nlohmann::json domains = nlohmann::json::array();
  for (const std::string& name : domain_names()) {
    nlohmann::json d = domain_json(domains_.find(name)->second, all.tokens);
    d["name"] = name;
    domains.push_back(d);
  }
  j["domains"] = domains;
  j["total"] = domain_json(all, all.tokens);
  return j;
}

}  // namespace longctx
