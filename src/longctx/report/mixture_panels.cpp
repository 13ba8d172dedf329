#include "longctx/report/mixture_panels.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "longctx/base/error.h"
#include "longctx/data/domains.h"

namespace longctx {
namespace {

const nlohmann::json& field(const nlohmann::json& j, std::string_view key, std::string_view where) {
  if (!j.is_object() || !j.contains(key)) {
    throw Error(fmt::format("{}: missing \"{}\"", where, key),
                "is it the JSON of this version of longctx?");
  }
  return j.at(std::string(key));
}

double number(const nlohmann::json& j, std::string_view key, std::string_view where) {
  const nlohmann::json& v = field(j, key, where);
  if (!v.is_number()) throw Error(fmt::format("{}: \"{}\" is not a number", where, key));
  return v.get<double>();
}

// name -> token_share of a profile's domains.
double profile_share(const nlohmann::json& profile, const std::string& name) {
  for (const nlohmann::json& d : field(profile, "domains", "profile")) {
    if (d.value("name", "") == name) return number(d, "token_share", "profile domain");
  }
  return 0;
}

std::vector<double> bucket_shares(const nlohmann::json& profile, std::string_view where) {
  std::vector<double> out;
  for (const nlohmann::json& v :
       field(field(profile, "total", where), "bucket_token_shares", where))
    out.push_back(v.get<double>());
  return out;
}

}  // namespace

std::string short_domain_name(std::string_view name) {
  std::optional<KnownDomain> known = find_known_domain(name);
  return known ? std::string(known->short_name) : std::string(name);
}

MixtureSeries series_from_stats_json(std::string label, const nlohmann::json& profile) {
  MixtureSeries series;
  series.label = std::move(label);
  for (const nlohmann::json& d : field(profile, "domains", "stats JSON")) {
    series.domain_shares.emplace_back(field(d, "name", "stats JSON domain").get<std::string>(),
                                      number(d, "token_share", "stats JSON domain"));
  }
  std::vector<double> buckets = bucket_shares(profile, "stats JSON");
  if (buckets.size() != series.bucket_shares.size()) {
    throw Error(fmt::format("stats JSON: {} length buckets; expected {}", buckets.size(),
                            series.bucket_shares.size()));
  }
  std::copy(buckets.begin(), buckets.end(), series.bucket_shares.begin());
  return series;
}

BarChart mix_domain_chart(const nlohmann::json& report, std::string title) {
  const nlohmann::json& domains = field(report, "domains", "report.json");
  const nlohmann::json& before = field(report, "before", "report.json");
  BarChart chart{.title = std::move(title), .categories = {}, .series = {}};
  BarSeries target{.label = "target", .values = {}, .color = "#9E9E9E"};
  BarSeries before_series{.label = "before", .values = {}, .color = "#3B6FB6"};
  BarSeries after_series{.label = "after", .values = {}, .color = "#F0496E"};
  bool any_target = false;
  for (const nlohmann::json& d : domains) {
    std::string name = field(d, "name", "report.json domain").get<std::string>();
    chart.categories.push_back(short_domain_name(name));
    bool has_target = d.contains("target_share") && d["target_share"].is_number();
    any_target = any_target || has_target;
    target.values.push_back(has_target ? d["target_share"].get<double>()
                                       : std::numeric_limits<double>::quiet_NaN());
    before_series.values.push_back(profile_share(before, name));
    after_series.values.push_back(number(d, "after_share", "report.json domain"));
  }
  if (any_target) chart.series.push_back(std::move(target));
  chart.series.push_back(std::move(before_series));
  chart.series.push_back(std::move(after_series));
  return chart;
}

BarChart mix_length_chart(const nlohmann::json& report, std::string title) {
  const nlohmann::json& after = field(report, "after", "report.json");
  BarChart chart{.title = std::move(title), .categories = {}, .series = {}};
  for (const nlohmann::json& b : field(after, "buckets", "report.json after"))
    chart.categories.push_back(field(b, "label", "report.json bucket").get<std::string>());
  chart.series.push_back(
      {.label = "before",
       .values = bucket_shares(field(report, "before", "report.json"), "report.json before"),
       .color = "#3B6FB6"});
  chart.series.push_back(
      {.label = "after", .values = bucket_shares(after, "report.json after"), .color = "#F0496E"});
  return chart;
}

}  // namespace longctx
