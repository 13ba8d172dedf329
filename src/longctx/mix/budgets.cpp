#include "longctx/mix/budgets.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/data/domains.h"

namespace longctx {

namespace {

double parse_share(const std::string& text, std::string_view flag, const std::string& name) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0) {
    throw Error(fmt::format("{}: '{}={}' is not a share of 0 or more", flag, name, text),
                "write NAME=0.25,NAME=0.75");
  }
  return value;
}

DomainWeights normalised(DomainWeights weights, std::string_view flag) {
  double sum = 0;
  for (const auto& [name, w] : weights) sum += w;
  if (!(sum > 0)) throw Error(fmt::format("{}: the shares sum to 0", flag));
  for (auto& [name, w] : weights) w /= sum;
  return weights;
}

}  // namespace

std::string canonical_domain(std::string_view name) {
  if (auto known = find_known_domain(name)) return std::string(known->set_name);
  return std::string(name);
}

std::optional<DomainWeights> parse_shares(std::string_view text) {
  if (text == "measured") return std::nullopt;
  DomainWeights shares;
  if (text == "slimpajama" || text.empty()) {
    for (const KnownDomain& d : kSlimPajamaDomains)
      shares.emplace_back(std::string(d.set_name), d.original_share);
    return shares;
  }
  for (auto& [name, value] : parse_key_values(text, "--shares")) {
    std::string canonical = canonical_domain(name);
    for (const auto& [seen, unused] : shares) {
      if (seen == canonical) throw Error(fmt::format("--shares: '{}' given twice", name));
    }
    shares.emplace_back(canonical, parse_share(value, "--shares", name));
  }
  if (shares.empty()) throw Error("--shares: no domains given", "write NAME=SHARE,...");
  return shares;
}

DomainWeights measured_shares(const DomainWeights& lengths) {
  return normalised(lengths, "--shares measured");
}

DomainWeights budget_shares(Strategy strategy, const DomainWeights& shares,
                            std::string_view domain_weights, bool shares_are_default) {
  if (strategy == Strategy::kFu2024Code) {
    if (!domain_weights.empty())
      throw Error("--domain-weights is not used by fu2024-code", "use --strategy upsample");
    DomainWeights weights = shares;
    for (auto& [name, w] : weights) {
      if (name == "RedPajamaGithub" || name == "RedPajamaArXiv" || name == "RedPajamaBook") w = 0.6;
    }
    return normalised(weights, "fu2024-code");
  }
  if (strategy == Strategy::kPerSource) {
    if (!domain_weights.empty())
      throw Error("--domain-weights needs --strategy upsample",
                  "per-source keeps the domain shares; use --shares to change them");
    return shares_are_default ? shares : normalised(shares, "--shares");
  }
  if (strategy != Strategy::kUpsample) return {};
  if (domain_weights.empty()) {
    throw Error("--strategy upsample needs --domain-weights",
                "e.g. --domain-weights Book=0.55 gives Book 55% of the tokens");
  }
  DomainWeights base = normalised(shares, "--shares");
  double fixed = 0, rest = 0;
  std::vector<std::optional<double>> given(base.size());
  for (auto& [name, value] : parse_key_values(domain_weights, "--domain-weights")) {
    std::string canonical = canonical_domain(name);
    size_t i = 0;
    while (i < base.size() && base[i].first != canonical) ++i;
    if (i == base.size()) {
      throw Error(
          fmt::format("--domain-weights: '{}' is not one of the domains of --shares", name));
    }
    if (given[i]) throw Error(fmt::format("--domain-weights: '{}' given twice", name));
    given[i] = parse_share(value, "--domain-weights", name);
    fixed += *given[i];
  }
  if (fixed > 1 + 1e-9) {
    throw Error(fmt::format("--domain-weights sum to {:.4g}, more than 1", fixed),
                "a weight is the domain's final share of the tokens");
  }
  for (size_t i = 0; i < base.size(); ++i) {
    if (!given[i]) rest += base[i].second;
  }
  DomainWeights out;
  for (size_t i = 0; i < base.size(); ++i) {
    double share = given[i] ? *given[i] : (rest > 0 ? base[i].second / rest * (1 - fixed) : 0);
    out.emplace_back(base[i].first, share);
  }
  return out;
}

}  // namespace longctx
