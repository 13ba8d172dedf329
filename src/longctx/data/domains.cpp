#include "longctx/data/domains.h"

#include <algorithm>

namespace longctx {

std::optional<KnownDomain> find_known_domain(std::string_view name) {
  for (const KnownDomain& d : kSlimPajamaDomains) {
    if (d.set_name == name || d.short_name == name) return d;
  }
  return std::nullopt;
}

std::vector<std::string> report_order(std::vector<std::string> domains) {
  auto rank = [](const std::string& name) {
    for (size_t i = 0; i < kSlimPajamaDomains.size(); ++i) {
      if (kSlimPajamaDomains[i].set_name == name || kSlimPajamaDomains[i].short_name == name) {
        return i;
      }
    }
    return kSlimPajamaDomains.size();
  };
  std::sort(domains.begin(), domains.end(), [&](const std::string& a, const std::string& b) {
    size_t ra = rank(a), rb = rank(b);
    return ra != rb ? ra < rb : a < b;
  });
  return domains;
}

}  // namespace longctx
