// Figure 2 of the paper as SVG: the left panel shows each domain's share of tokens, the right
// panel the share of tokens in each document-length bucket. Several series (e.g. a corpus
// before and after upsampling) are drawn as grouped bars in the same colours in both panels.
//
//   std::string svg = draw_figure2({series_from_profile("corpus", profile)}, "my corpus");
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "longctx/data/corpus_profile.h"

namespace longctx {

struct MixtureSeries {
  std::string label;
  std::vector<std::pair<std::string, double>> domain_shares;  // token share per domain
  std::array<double, kLengthBucketCount> bucket_shares{};     // token share per length bucket
};

MixtureSeries series_from_profile(std::string label, const CorpusProfile& profile);

std::string draw_figure2(const std::vector<MixtureSeries>& series, const std::string& title);

}  // namespace longctx
