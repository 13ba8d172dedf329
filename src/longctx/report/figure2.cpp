#include "longctx/report/figure2.h"

#include <fmt/format.h>
#include <algorithm>

#include "longctx/data/domains.h"
#include "longctx/report/svg.h"

namespace longctx {

namespace {

constexpr std::array<const char*, 6> kSeriesColours{"#3B6FB6", "#F0496E", "#0CD79F",
                                                    "#EBB839", "#7E57C2", "#8D6E63"};

double nice_ceiling(double max_share) {
  for (double top : {0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0}) {
    if (max_share <= top) return top;
  }
  return 1.0;
}

}  // namespace

MixtureSeries series_from_profile(std::string label, const CorpusProfile& profile) {
  MixtureSeries series;
  series.label = std::move(label);
  DomainProfile total = profile.total();
  auto share = [&](uint64_t part) {
    return total.tokens == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(total.tokens);
  };
  for (const std::string& name : profile.domain_names()) {
    series.domain_shares.emplace_back(name, share(profile.domains().find(name)->second.tokens));
  }
  for (size_t b = 0; b < series.bucket_shares.size(); ++b) {
    series.bucket_shares[b] = share(total.bucket_tokens[b]);
  }
  return series;
}

std::string draw_figure2(const std::vector<MixtureSeries>& series, const std::string& title) {
  // Union of domains over all series, in report order.
  std::vector<std::string> domains;
  for (const MixtureSeries& s : series) {
    for (const auto& entry : s.domain_shares) {
      if (std::find(domains.begin(), domains.end(), entry.first) == domains.end()) {
        domains.push_back(entry.first);
      }
    }
  }
  domains = report_order(domains);
  auto domain_share = [](const MixtureSeries& s, const std::string& name) {
    for (const auto& [domain, share] : s.domain_shares) {
      if (domain == name) return share;
    }
    return 0.0;
  };
  double max_domain = 0.0, max_bucket = 0.0;
  for (const MixtureSeries& s : series) {
    for (const auto& entry : s.domain_shares) max_domain = std::max(max_domain, entry.second);
    for (double v : s.bucket_shares) max_bucket = std::max(max_bucket, v);
  }
  double domain_top = nice_ceiling(max_domain), bucket_top = nice_ceiling(max_bucket);

  const double width = 1000, panel_top = 70, label_width = 170, legend_height = 24;
  // Domain groups share the panel height; bars stay between 4 and 14 px thick.
  double series_count = static_cast<double>(std::max<size_t>(series.size(), 1));
  double plot_height =
      std::max(260.0, static_cast<double>(domains.size()) * (series_count * 6 + 8));
  double group_height = plot_height / static_cast<double>(std::max<size_t>(domains.size(), 1));
  double bar_height = std::min(14.0, (group_height * 0.7) / series_count);
  double group_gap = group_height - bar_height * series_count;
  double height = panel_top + plot_height + 60 + legend_height;
  Svg svg(width, height);
  svg.text(width / 2, 26, title, {.size = 16, .anchor = "middle", .weight = "bold"});

  // Left panel: horizontal bars, one group per domain.
  const double left_x = label_width + 10, left_width = 300;
  svg.text(left_x + left_width / 2, 52, "Domain share of tokens",
           {.size = 13, .anchor = "middle", .weight = "bold"});
  for (int tick = 0; tick <= 4; ++tick) {
    double x = left_x + left_width * tick / 4.0;
    svg.line(x, panel_top, x, panel_top + plot_height, "#dddddd");
    svg.text(x, panel_top + plot_height + 16, fmt::format("{:.0f}%", domain_top * 25 * tick),
             {.size = 10, .anchor = "middle", .color = "#555555"});
  }
  for (size_t d = 0; d < domains.size(); ++d) {
    double y = panel_top + static_cast<double>(d) * group_height + group_gap / 2;
    auto known = find_known_domain(domains[d]);
    std::string name = known ? std::string(known->short_name) : domains[d];
    svg.text(left_x - 8, y + bar_height * series_count / 2 + 4, name,
             {.size = 11, .anchor = "end"});
    for (size_t s = 0; s < series.size(); ++s) {
      double share = domain_share(series[s], domains[d]);
      double w = left_width * share / domain_top;
      double by = y + static_cast<double>(s) * bar_height;
      svg.rect(left_x, by, w, bar_height - 2, kSeriesColours[s % kSeriesColours.size()],
               fmt::format("{} {}: {:.2f}%", series[s].label, domains[d], share * 100));
      svg.text(left_x + w + 4, by + bar_height - 3, fmt::format("{:.1f}%", share * 100),
               {.size = 9, .color = "#444444"});
    }
  }

  // Right panel: vertical bars, one group per length bucket.
  const double right_x = left_x + left_width + 90, right_width = width - right_x - 30;
  svg.text(right_x + right_width / 2, 52, "Share of tokens by document length (tokens)",
           {.size = 13, .anchor = "middle", .weight = "bold"});
  double base_y = panel_top + plot_height;
  for (int tick = 0; tick <= 4; ++tick) {
    double y = base_y - plot_height * tick / 4.0;
    svg.line(right_x, y, right_x + right_width, y, "#dddddd");
    svg.text(right_x - 6, y + 3, fmt::format("{:.0f}%", bucket_top * 25 * tick),
             {.size = 10, .anchor = "end", .color = "#555555"});
  }
  double slot = right_width / kLengthBucketCount;
  double bar_width = (slot - 8) / static_cast<double>(std::max<size_t>(series.size(), 1));
  for (int b = 0; b < kLengthBucketCount; ++b) {
    double x0 = right_x + slot * b + 4;
    svg.text(x0 + (slot - 8) / 2, base_y + 16, bucket_label(b), {.size = 10, .anchor = "middle"});
    for (size_t s = 0; s < series.size(); ++s) {
      double share = series[s].bucket_shares[static_cast<size_t>(b)];
      double h = plot_height * share / bucket_top;
      svg.rect(x0 + bar_width * static_cast<double>(s), base_y - h, bar_width - 1, h,
               kSeriesColours[s % kSeriesColours.size()],
               fmt::format("{} {}: {:.2f}%", series[s].label, bucket_label(b), share * 100));
    }
  }

  // Legend.
  double legend_y = height - legend_height;
  double x = left_x;
  for (size_t s = 0; s < series.size(); ++s) {
    svg.rect(x, legend_y - 10, 12, 12, kSeriesColours[s % kSeriesColours.size()]);
    svg.text(x + 16, legend_y, series[s].label, {.size = 11});
    x += 30 + 7.0 * static_cast<double>(series[s].label.size());
  }
  return svg.str();
}

}  // namespace longctx
