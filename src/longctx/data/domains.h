// Domains of the SlimPajama corpus: the seven RedPajama set names, their short names and the
// original token shares the recipe uses as per-source budgets (RECIPE.md section 2, the
// reference code's table; they sum to 1). Domains are free strings elsewhere in longctx; this
// table is a preset used for ordering reports and, later, for mixture budgets.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

struct KnownDomain {
  std::string_view set_name;    // value of meta.redpajama_set_name
  std::string_view short_name;  // the paper's name
  double original_share;        // share of tokens in SlimPajama
};

inline constexpr std::array<KnownDomain, 7> kSlimPajamaDomains{{
    {"RedPajamaCommonCrawl", "CC", 0.53374772},
    {"RedPajamaC4", "C4", 0.26609933},
    {"RedPajamaGithub", "Github", 0.05004782},
    {"RedPajamaBook", "Book", 0.0414836},
    {"RedPajamaArXiv", "ArXiv", 0.04290379},
    {"RedPajamaWikipedia", "Wikipedia", 0.03402128},
    {"RedPajamaStackExchange", "StackExchange", 0.03169647},
}};

// The preset entry for a set name or short name, if any.
std::optional<KnownDomain> find_known_domain(std::string_view name);

// Domains in report order: SlimPajama's first, in the preset's order (the reference table's,
// which is not strictly by share: Book comes before ArXiv), then the rest by name.
std::vector<std::string> report_order(std::vector<std::string> domains);

}  // namespace longctx
