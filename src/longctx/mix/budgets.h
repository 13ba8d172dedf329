// Domain shares and per-domain budgets for the strategies that have them (RECIPE.md section 2).
//
//   --shares slimpajama (default)  the SlimPajama table, as the reference code's
//   --shares measured              each domain's share of the input's own tokens
//   --shares C4=0.27,CC=0.53,...   given shares (normalised to sum to 1)
//   --domain-weights Book=0.55     (upsample) Book gets 55% of the budget; the other domains
//                                  share the rest in proportion to their shares
//   fu2024-code                    the released code's mode: Github, ArXiv and Book weighted
//                                  0.6, the others keep their share, all normalised together
//
// Domain names are free strings; the seven SlimPajama set names and their short names (CC,
// C4, Github, Book, ArXiv, Wikipedia, StackExchange) are the same domain.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longctx/mix/selector.h"

namespace longctx {

using DomainWeights = std::vector<std::pair<std::string, double>>;

// The SlimPajama set name for a set or short name ("Book" -> "RedPajamaBook"), else the name.
std::string canonical_domain(std::string_view name);

// Parses --shares: nullopt for "measured", the SlimPajama table for "slimpajama", else
// NAME=SHARE,... with canonical names. Throws Error naming --shares on a bad entry.
std::optional<DomainWeights> parse_shares(std::string_view text);

// Each domain's share of `lengths` (name, total length), in the same order.
DomainWeights measured_shares(const DomainWeights& lengths);

// The budget shares of a strategy: shares for per-source (normalised unless they are the
// SlimPajama table, used as is like the reference), shares with --domain-weights applied for
// upsample, and the reference's normalised weights for fu2024-code. Throws Error naming the
// flag for unknown domains, negative values or weights that sum past 1.
DomainWeights budget_shares(Strategy strategy, const DomainWeights& shares,
                            std::string_view domain_weights, bool shares_are_default);

}  // namespace longctx
