#include "longctx/report/loss_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "longctx/base/error.h"
#include "longctx/data/domains.h"
#include "longctx/report/svg.h"
#include "longctx/report/table.h"

namespace longctx {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::string_view kFormat = "longctx.eval-loss.v1";

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

double number_of(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : kNaN;
}

nlohmann::json stat_json(const LossStat& s) {
  return {{"mean_loss", number(s.mean_loss)},
          {"tokens", s.tokens},
          {"rows", s.rows},
          {"ci95", {number(s.ci_low), number(s.ci_high)}}};
}

LossStat stat_of(const nlohmann::json& j) {
  LossStat s;
  s.mean_loss = number_of(j.at("mean_loss"));
  s.tokens = j.at("tokens").get<uint64_t>();
  s.rows = j.at("rows").get<uint64_t>();
  s.ci_low = number_of(j.at("ci95").at(0));
  s.ci_high = number_of(j.at("ci95").at(1));
  return s;
}

nlohmann::json delta_json(const LossDelta& d, bool cell) {
  nlohmann::json j = {{"domain", d.domain}};
  if (cell) {
    j["bucket"] = bucket_label(d.from, d.to);
    j["from"] = d.from;
    j["to"] = d.to;
  } else {
    j["n"] = d.to;
    j["label"] = token_label(d.to);
  }
  j["ours"] = number(d.ours);
  j["baseline"] = number(d.baseline);
  j["delta"] = number(d.delta);
  j["mark"] = delta_mark_name(d.mark);
  return j;
}

std::string ansi(std::string text, DeltaMark mark, bool colour) {
  if (!colour) return text;
  const char* code = mark == DeltaMark::kWorse ? "31" : mark == DeltaMark::kBetter ? "32" : "90";
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

std::string loss_text(double v) {
  return std::isfinite(v) ? fmt::format("{:.3f}", v) : "-";
}

const LossDelta* find_delta(const std::vector<LossDelta>& deltas, std::string_view domain,
                            int64_t from, int64_t to) {
  for (const LossDelta& d : deltas)
    if (d.domain == domain && d.from == from && d.to == to) return &d;
  return nullptr;
}

// The curve panel's polyline, one segment between consecutive bins' centres (geometric).
void draw_curve(Svg& svg, const std::vector<CurveBin>& curve, double x0, double y0, double w,
                double h, double log_max, double y_min, double y_max, std::string_view colour,
                std::string_view dash) {
  auto x_of = [&](const CurveBin& b) {
    double centre = std::sqrt(static_cast<double>(std::max<int64_t>(b.from, 1)) *
                              static_cast<double>(std::max<int64_t>(b.to - 1, 1)));
    return x0 + w * std::log2(std::max(centre, 1.0)) / log_max;
  };
  auto y_of = [&](double loss) { return y0 + h - h * (loss - y_min) / (y_max - y_min); };
  for (size_t i = 1; i < curve.size(); ++i)
    svg.line(x_of(curve[i - 1]), y_of(curve[i - 1].mean_loss), x_of(curve[i]),
             y_of(curve[i].mean_loss), colour, 2, dash);
}

}  // namespace

std::string_view delta_mark_name(DeltaMark mark) {
  return mark == DeltaMark::kWorse ? "worse" : mark == DeltaMark::kBetter ? "better" : "same";
}

DeltaMark delta_mark(double delta, double threshold) {
  if (delta > threshold) return DeltaMark::kWorse;
  if (delta < -threshold) return DeltaMark::kBetter;
  return DeltaMark::kSame;
}

std::string_view delta_colour(DeltaMark mark) {
  return mark == DeltaMark::kWorse ? "#F0496E" : mark == DeltaMark::kBetter ? "#0CD79F" : "#9E9E9E";
}

std::string domain_label(std::string_view domain) {
  std::optional<KnownDomain> known = find_known_domain(domain);
  return known ? std::string(known->short_name) : std::string(domain);
}

LossComparison compare_losses(const LossResult& ours, const LossResult& baseline,
                              std::string baseline_name, double threshold) {
  LossComparison cmp;
  cmp.baseline_name = std::move(baseline_name);
  auto make = [&](const std::string& domain, int64_t from, int64_t to, double a, double b) {
    LossDelta d{domain, from, to, a, b, a - b, delta_mark(a - b, threshold)};
    return d;
  };
  for (const LossCell& c : ours.cells) {
    const LossCell* other = baseline.cell(c.domain, c.from, c.to);
    if (other == nullptr || c.stat.tokens == 0 || other->stat.tokens == 0) continue;
    cmp.cells.push_back(make(c.domain, c.from, c.to, c.stat.mean_loss, other->stat.mean_loss));
  }
  for (const LossAtN& a : ours.loss_at) {
    const LossAtN* other = baseline.at(a.domain, a.n);
    if (other == nullptr || a.stat.tokens == 0 || other->stat.tokens == 0) continue;
    cmp.loss_at.push_back(make(a.domain, 0, a.n, a.stat.mean_loss, other->stat.mean_loss));
  }
  return cmp;
}

nlohmann::json loss_result_json(const LossResult& r, const LossComparison* comparison) {
  const LossSettings& s = r.settings;
  nlohmann::json j = {{"format", kFormat},
                      {"settings",
                       {{"buckets", s.bucket_bounds_tokens},
                        {"position", loss_position_name(s.position)},
                        {"loss_at", s.loss_at_tokens},
                        {"curve_bins_per_octave", s.curve_bins_per_octave},
                        {"bootstrap_samples", s.bootstrap_samples},
                        {"seed", s.seed}}},
                      {"seq_len", r.seq_len},
                      {"rows", r.rows},
                      {"tokens", r.tokens},
                      {"domains", r.domains}};
  j["table"] = nlohmann::json::array();
  for (const LossCell& c : r.cells) {
    nlohmann::json cell = {{"domain", c.domain},
                           {"bucket", bucket_label(c.from, c.to)},
                           {"from", c.from},
                           {"to", c.to}};
    cell.update(stat_json(c.stat));
    j["table"].push_back(cell);
  }
  j["loss_at"] = nlohmann::json::array();
  for (const LossAtN& a : r.loss_at) {
    nlohmann::json at = {{"domain", a.domain}, {"n", a.n}, {"label", token_label(a.n)}};
    at.update(stat_json(a.stat));
    j["loss_at"].push_back(at);
  }
  j["curve"] = nlohmann::json::array();
  for (const CurveBin& b : r.curve)
    j["curve"].push_back(
        {{"from", b.from}, {"to", b.to}, {"mean_loss", number(b.mean_loss)}, {"tokens", b.tokens}});
  if (comparison != nullptr) {
    nlohmann::json base = {{"name", comparison->baseline_name}, {"threshold", 0.01}};
    base["table"] = nlohmann::json::array();
    for (const LossDelta& d : comparison->cells) base["table"].push_back(delta_json(d, true));
    base["loss_at"] = nlohmann::json::array();
    for (const LossDelta& d : comparison->loss_at) base["loss_at"].push_back(delta_json(d, false));
    j["baseline"] = base;
  }
  return j;
}

LossResult parse_loss_json(const nlohmann::json& j, std::string_view where) {
  if (!j.is_object() || j.value("format", std::string()) != kFormat)
    throw Error(fmt::format("{} is not a `longctx eval loss` result (format {})", where, kFormat),
                "pass the loss.json another `longctx eval loss --out` wrote");
  try {
    LossResult r;
    r.seq_len = j.at("seq_len").get<uint32_t>();
    r.rows = j.at("rows").get<uint64_t>();
    r.tokens = j.at("tokens").get<uint64_t>();
    r.domains = j.at("domains").get<std::vector<std::string>>();
    const nlohmann::json& s = j.at("settings");
    r.settings.bucket_bounds_tokens = s.at("buckets").get<std::vector<int64_t>>();
    r.settings.position = parse_loss_position(s.at("position").get<std::string>());
    r.settings.loss_at_tokens = s.at("loss_at").get<std::vector<int64_t>>();
    r.settings.curve_bins_per_octave = s.at("curve_bins_per_octave").get<int>();
    r.settings.bootstrap_samples = s.at("bootstrap_samples").get<int>();
    r.settings.seed = s.at("seed").get<uint64_t>();
    for (const nlohmann::json& c : j.at("table"))
      r.cells.push_back({c.at("domain").get<std::string>(), c.at("from").get<int64_t>(),
                         c.at("to").get<int64_t>(), stat_of(c)});
    for (const nlohmann::json& a : j.at("loss_at"))
      r.loss_at.push_back(
          {a.at("domain").get<std::string>(), a.at("n").get<int64_t>(), stat_of(a)});
    for (const nlohmann::json& b : j.at("curve"))
      r.curve.push_back({b.at("from").get<int64_t>(), b.at("to").get<int64_t>(),
                         number_of(b.at("mean_loss")), b.at("tokens").get<uint64_t>()});
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

std::string loss_tables_text(const LossResult& r, const LossComparison* cmp, bool colour) {
  const std::vector<int64_t>& bounds = r.settings.bucket_bounds_tokens;
  std::string out =
      fmt::format("loss by domain and {} position (nats, mean [95% interval over {} rows]):\n",
                  loss_position_name(r.settings.position), r.rows);
  std::vector<std::string> header = {"domain"};
  std::vector<Align> align = {Align::kLeft};
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    header.push_back(bucket_label(bounds[b], bounds[b + 1]));
    align.push_back(Align::kRight);
  }
  header.push_back("tokens");
  align.push_back(Align::kRight);
  Table table(header, align);
  for (const std::string& domain : r.domains) {
    if (domain == kAllDomains) table.add_rule();
    std::vector<std::string> row = {domain_label(domain)};
    uint64_t tokens = 0;
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      const LossCell* c = r.cell(domain, bounds[b], bounds[b + 1]);
      tokens += c ? c->stat.tokens : 0;
      if (c == nullptr || c->stat.tokens == 0) {
        row.emplace_back("-");
      } else if (std::isfinite(c->stat.ci_low)) {
        row.push_back(fmt::format("{} [{}, {}]", loss_text(c->stat.mean_loss),
                                  loss_text(c->stat.ci_low), loss_text(c->stat.ci_high)));
      } else {
        row.push_back(loss_text(c->stat.mean_loss));
      }
    }
    row.push_back(std::to_string(tokens));
    table.add_row(row);
  }
  out += table.render();

  out += "\nLoss@n (positions [1, n) of rows at least n long):\n";
  std::vector<std::string> at_header = {"domain"};
  std::vector<Align> at_align = {Align::kLeft};
  for (int64_t n : r.settings.loss_at_tokens) {
    at_header.push_back(token_label(n));
    at_align.push_back(Align::kRight);
  }
  Table at_table(at_header, at_align);
  for (const std::string& domain : r.domains) {
    if (domain == kAllDomains) at_table.add_rule();
    std::vector<std::string> row = {domain_label(domain)};
    for (int64_t n : r.settings.loss_at_tokens) {
      const LossAtN* a = r.at(domain, n);
      row.push_back(a && a->stat.tokens ? loss_text(a->stat.mean_loss) : "-");
    }
    at_table.add_row(row);
  }
  out += at_table.render();

  if (cmp != nullptr) {
    out += fmt::format("\nTable 5: difference from {} (worse > +0.01, better < -0.01):\n",
                       cmp->baseline_name);
    Table delta_table(std::vector<std::string>(header.begin(), header.end() - 1),
                      std::vector<Align>(align.begin(), align.end() - 1));
    auto cell_text = [&](const LossDelta* d) {
      if (d == nullptr) return std::string("-");
      std::string text = fmt::format("{:+.3f} {}", d->delta, delta_mark_name(d->mark));
      return ansi(text, d->mark, colour);
    };
    for (const std::string& domain : r.domains) {
      if (domain == kAllDomains) delta_table.add_rule();
      std::vector<std::string> row = {domain_label(domain)};
      for (size_t b = 0; b + 1 < bounds.size(); ++b)
        row.push_back(cell_text(find_delta(cmp->cells, domain, bounds[b], bounds[b + 1])));
      delta_table.add_row(row);
    }
    out += delta_table.render();
    std::string line = "Loss@n difference (all):";
    for (int64_t n : r.settings.loss_at_tokens)
      line += fmt::format("  {} {}", token_label(n),
                          cell_text(find_delta(cmp->loss_at, kAllDomains, 0, n)));
    out += line + "\n";
  }
  return out;
}

std::string loss_svg(const LossResult& r, const LossResult* baseline, const LossComparison* cmp,
                     std::string_view title) {
  const std::vector<int64_t>& bounds = r.settings.bucket_bounds_tokens;
  const size_t columns = bounds.size() - 1;
  const double label_w = 120, cell_w = 130, cell_h = 28, top = 70;
  const double table_w = label_w + cell_w * static_cast<double>(columns);
  const double table_h = cell_h * static_cast<double>(r.domains.size() + 1);
  const double plot_x = table_w + 90, plot_w = 460, plot_h = 300;
  const double width = plot_x + plot_w + 40;
  const double height = top + std::max(table_h, plot_h) + 110;
  Svg svg(width, height);
  svg.text(width / 2, 28, title, {.size = 16, .anchor = "middle", .weight = "bold"});

  // Table 5: one row per domain, one column per bucket.
  svg.text(20, top - 18,
           cmp ? fmt::format("loss (nats) and difference from {}", cmp->baseline_name)
               : std::string("loss (nats)"),
           {.size = 13, .weight = "bold"});
  for (size_t b = 0; b < columns; ++b)
    svg.text(label_w + cell_w * (static_cast<double>(b) + 0.5), top + cell_h * 0.65,
             bucket_label(bounds[b], bounds[b + 1]), {.size = 12, .anchor = "middle"});
  for (size_t d = 0; d < r.domains.size(); ++d) {
    const std::string& domain = r.domains[d];
    double y = top + cell_h * static_cast<double>(d + 1);
    svg.text(label_w - 8, y + cell_h * 0.65, domain_label(domain),
             {.size = 12, .anchor = "end", .weight = domain == kAllDomains ? "bold" : "normal"});
    for (size_t b = 0; b < columns; ++b) {
      double x = label_w + cell_w * static_cast<double>(b);
      const LossCell* c = r.cell(domain, bounds[b], bounds[b + 1]);
      const LossDelta* delta =
          cmp ? find_delta(cmp->cells, domain, bounds[b], bounds[b + 1]) : nullptr;
      std::string fill = delta ? std::string(delta_colour(delta->mark)) : "#F4F4F4";
      std::string text = c && c->stat.tokens ? loss_text(c->stat.mean_loss) : "-";
      if (delta) text += fmt::format(" ({:+.3f})", delta->delta);
      std::string tip = c ? fmt::format("{} {}: {} nats over {} tokens", domain_label(domain),
                                        bucket_label(c->from, c->to), loss_text(c->stat.mean_loss),
                                        c->stat.tokens)
                          : std::string();
      svg.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, fill, tip);
      svg.text(x + cell_w / 2, y + cell_h * 0.65, text, {.size = 12, .anchor = "middle"});
    }
  }

  // The curve: log2 position on x, loss on y.
  double y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  for (const LossResult* side : {&r, baseline}) {
    if (side == nullptr) continue;
    for (const CurveBin& b : side->curve) {
      y_min = std::min(y_min, b.mean_loss);
      y_max = std::max(y_max, b.mean_loss);
    }
  }
  if (!(y_max > y_min)) {
    y_min = std::isfinite(y_min) ? y_min - 0.5 : 0;
    y_max = y_min + 1;
  }
  double pad = 0.05 * (y_max - y_min);
  y_min -= pad;
  y_max += pad;
  double log_max = std::log2(static_cast<double>(std::max<uint32_t>(r.seq_len, 2)));
  double plot_y = top;
  svg.text(plot_x + plot_w / 2, top - 18,
           fmt::format("loss by {} position", loss_position_name(r.settings.position)),
           {.size = 13, .anchor = "middle", .weight = "bold"});
  svg.line(plot_x, plot_y + plot_h, plot_x + plot_w, plot_y + plot_h, "#444444");
  svg.line(plot_x, plot_y, plot_x, plot_y + plot_h, "#444444");
  for (int e = 0; e <= static_cast<int>(log_max); e += std::max(1, static_cast<int>(log_max) / 8)) {
    double x = plot_x + plot_w * e / log_max;
    svg.line(x, plot_y + plot_h, x, plot_y + plot_h + 4, "#444444");
    svg.text(x, plot_y + plot_h + 16, token_label(int64_t{1} << e),
             {.size = 10, .anchor = "middle"});
  }
  for (int t = 0; t <= 4; ++t) {
    double v = y_min + (y_max - y_min) * t / 4;
    double y = plot_y + plot_h - plot_h * t / 4;
    svg.line(plot_x - 4, y, plot_x, y, "#444444");
    svg.text(plot_x - 6, y + 4, fmt::format("{:.2f}", v), {.size = 10, .anchor = "end"});
  }
  if (baseline != nullptr)
    draw_curve(svg, baseline->curve, plot_x, plot_y, plot_w, plot_h, log_max, y_min, y_max,
               "#9E9E9E", "6,4");
  draw_curve(svg, r.curve, plot_x, plot_y, plot_w, plot_h, log_max, y_min, y_max, "#3B6FB6", "");
  // Loss@n of all domains, under the plot.
  std::string line = "Loss@n:";
  for (int64_t n : r.settings.loss_at_tokens) {
    const LossAtN* a = r.at(kAllDomains, n);
    line += fmt::format("  {} {}", token_label(n),
                        a && a->stat.tokens ? loss_text(a->stat.mean_loss) : "-");
    if (const LossDelta* d = cmp ? find_delta(cmp->loss_at, kAllDomains, 0, n) : nullptr)
      line += fmt::format(" ({:+.3f})", d->delta);
  }
  svg.text(plot_x, plot_y + plot_h + 40, line, {.size = 12});
  if (baseline != nullptr)
    svg.text(plot_x, plot_y + plot_h + 58,
             fmt::format("solid: this run; dashed: {}", cmp ? cmp->baseline_name : "baseline"),
             {.size = 11, .color = "#666666"});
  return svg.str();
}

}  // namespace longctx
