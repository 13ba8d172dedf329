#include "longctx/mix/selector.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "longctx/base/error.h"

namespace longctx {

namespace {

constexpr std::array<std::pair<Strategy, std::string_view>, 6> kStrategyNames{{
    {Strategy::kOriginal, "original"},
    {Strategy::kCut, "cut"},
    {Strategy::kPerSource, "per-source"},
    {Strategy::kGlobal, "global"},
    {Strategy::kUpsample, "upsample"},
    {Strategy::kFu2024Code, "fu2024-code"},
}};

}  // namespace

std::string_view strategy_name(Strategy strategy) {
  for (const auto& [s, name] : kStrategyNames) {
    if (s == strategy) return name;
  }
  return "?";
}

Strategy parse_strategy(std::string_view name) {
  for (const auto& [s, known] : kStrategyNames) {
    if (known == name) return s;
  }
  throw Error(fmt::format("--strategy: unknown strategy '{}'", name),
              "use original, cut, per-source, global, upsample or fu2024-code");
}

bool has_domain_budgets(Strategy strategy) {
  return strategy == Strategy::kPerSource || strategy == Strategy::kUpsample ||
         strategy == Strategy::kFu2024Code;
}

bool filters_short_documents(Strategy strategy) {
  return strategy == Strategy::kGlobal || has_domain_budgets(strategy);
}

Selector::Selector(SelectionSettings settings, std::vector<double> budgets)
    : settings_(settings),
      budgets_(std::move(budgets)),
      domains_(budgets_.size()),
      random_(settings.seed) {
  // A strategy with domain budgets is done at once when every budget is zero or less.
  if (has_domain_budgets(settings_.strategy)) {
    done_ = true;
    for (double b : budgets_) done_ = done_ && b <= 0;
  }
}

Decision Selector::offer(const DocumentInfo& document) {
  if (document.domain >= domains_.size()) domains_.resize(document.domain + 1);
  DomainSelection& domain = domains_[document.domain];
  ++offered_;
  ++domain.seen_documents;
  domain.seen_length += document.length;
  bool is_short = document.length < settings_.long_threshold;

  // The order of the tests, and when a random number is drawn, follow the reference script.
  if (has_domain_budgets(settings_.strategy)) {
    if (document.domain >= budgets_.size()) {
      throw Error(fmt::format("domain #{} has no budget", document.domain));
    }
    double& taken = domain.kept_length;
    if (taken > budgets_[document.domain]) {
      ++domain.over_budget_documents;
      return Decision::kOverBudget;
    }
    if (is_short && random_.next() > settings_.short_keep_prob) {
      ++domain.filtered_documents;
      return Decision::kFiltered;
    }
    ++domain.kept_documents;
    taken += document.length;
    kept_length_ += document.length;
    done_ = true;
    for (size_t d = 0; d < budgets_.size(); ++d) {
      if (domains_[d].kept_length < budgets_[d]) {
        done_ = false;
        break;
      }
    }
    return Decision::kKeep;
  }
  if (settings_.strategy == Strategy::kGlobal && is_short &&
      random_.next() > settings_.short_keep_prob) {
    ++domain.filtered_documents;
    return Decision::kFiltered;
  }
  ++domain.kept_documents;
  domain.kept_length += document.length;
  kept_length_ += document.length;
  done_ = kept_length_ > settings_.budget_tokens;
  return Decision::kKeep;
}

}  // namespace longctx
