// Document selection: which documents of a corpus stream go into the training mixture, by one
// of the paper's strategies (RECIPE.md section 2). The selector sees documents one at a time in
// stream order and decides each at once, exactly as the reference script does; everything it
// decides depends only on that order, the settings and the seed, never on threads.
//
//   Selector selector(settings, budgets);          // budgets: resolve_budgets() for per-source
//   for (const DocumentInfo& doc : stream) {
//     if (selector.offer(doc) == Decision::kKeep) keep(doc);
//     if (selector.done()) break;
//   }
//
// Lengths are doubles in "selection units": exact token counts in --length tokens mode, and
// code points / 3.68 in estimate mode, computed and summed in IEEE double exactly as the
// reference's Python floats, so budget edges fall on the same document. The random filter on
// short documents draws from MT19937 like numpy's legacy np.random.random() after
// np.random.seed(15213), and only where the reference draws, so estimate mode reproduces the
// reference's choice of documents.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "longctx/data/corpus_profile.h"
#include "longctx/data/length_model.h"

namespace longctx {

enum class Strategy { kOriginal, kCut, kPerSource, kGlobal, kUpsample, kFu2024Code };

// "original", "cut", "per-source", "global", "upsample", "fu2024-code".
std::string_view strategy_name(Strategy strategy);
Strategy parse_strategy(std::string_view name);  // throws Error naming --strategy
// Strategies that give each domain its own budget.
bool has_domain_budgets(Strategy strategy);
// Strategies that drop short documents at random.
bool filters_short_documents(Strategy strategy);

struct SelectionSettings {
  Strategy strategy = Strategy::kPerSource;
  double budget_tokens = 0;      // total budget in selection units
  double long_threshold = 4096;  // a document of at least this length is long
  double short_keep_prob = 0.1;  // chance that a short document is kept
  uint64_t seed = 15213;         // MT19937 seed of the short-document filter
};

// numpy's legacy RandomState(seed).random(): MT19937 seeded by init_genrand, 53-bit doubles
// from two 32-bit draws (the same as CPython's random.random()).
class ReferenceRandom {
 public:
  explicit ReferenceRandom(uint64_t seed) : engine_(static_cast<uint32_t>(seed)) {}
  double next() {
    uint32_t a = engine_() >> 5, b = engine_() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

 private:
  std::mt19937 engine_;
};

// One document of the stream, as the selector and the packer see it.
struct DocumentInfo {
  uint32_t file = 0;    // index into the input file list
  uint32_t domain = 0;  // index into the domain name table
  uint64_t line = 0;    // 1-based line in the file
  double length = 0;    // selection units (see above)
};

enum class Decision { kKeep, kFiltered, kOverBudget };

// Per-domain counts of what the selector saw and did.
struct DomainSelection {
  uint64_t seen_documents = 0;
  double seen_length = 0;
  uint64_t kept_documents = 0;
  double kept_length = 0;
  uint64_t filtered_documents = 0;     // short, dropped by the random filter
  uint64_t over_budget_documents = 0;  // offered after the domain's budget was exceeded
};

class Selector {
 public:
  // `budgets` is indexed by domain id; it must cover every domain offered when the strategy
  // has domain budgets (a domain id past its end is a logic error of the caller).
  Selector(SelectionSettings settings, std::vector<double> budgets);

  Decision offer(const DocumentInfo& document);
  // True once the budget is met: no further document would be kept.
  bool done() const { return done_; }

  const SelectionSettings& settings() const { return settings_; }
  const std::vector<double>& budgets() const { return budgets_; }
  // Indexed by domain id; grows as domains are offered.
  const std::vector<DomainSelection>& domains() const { return domains_; }
  uint64_t offered() const { return offered_; }
  double kept_length() const { return kept_length_; }

 private:
  SelectionSettings settings_;
  std::vector<double> budgets_;
  std::vector<DomainSelection> domains_;
  ReferenceRandom random_;
  double kept_length_ = 0;
  uint64_t offered_ = 0;
  bool done_ = false;
};

}  // namespace longctx
