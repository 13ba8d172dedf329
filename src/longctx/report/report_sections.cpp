#include "longctx/report/report_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "longctx/base/text.h"
#include "longctx/report/bar_chart.h"
#include "longctx/report/heatmap.h"
#include "longctx/report/line_chart.h"
#include "longctx/report/mixture_panels.h"
#include "longctx/report/training_curves.h"

namespace longctx {
namespace {

constexpr size_t kListItems = 12, kValueChars = 400;
constexpr size_t kOpenTableRows = 12;  // longer per-length tables start folded

const ReportInput& input_of(const ReportBuilder& b, size_t index) {
  return b.data().inputs[index];
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100 * fraction);
}

std::string count_of(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? format_count(j[key].get<uint64_t>()) : "-";
}

double number_or(const nlohmann::json& j, const char* key, double fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

// ---- corpus ----

void corpus_profile(ReportBuilder& b, const StatsData& s) {
  const ReportInput& input = input_of(b, s.input);
  const nlohmann::json& stats = s.stats;
  const nlohmann::json& total = stats.at("total");
  HtmlPage& page = b.page();
  page.heading(input.name);
  const uint64_t files = stats.value(nlohmann::json::json_pointer("/input/files"), uint64_t{0});
  page.paragraph(fmt::format(
      "{} documents, {} tokens in {} {} ({}); length: {}.", count_of(total, "documents"),
      count_of(total, "tokens"), files, files == 1 ? "file" : "files",
      format_bytes(stats.value(nlohmann::json::json_pointer("/input/bytes"), uint64_t{0})),
      stats.value("length", "?")));
  std::string svg = draw_figure2({series_from_stats_json("corpus", stats)}, input.name);
  page.figures({b.figure("corpus-" + input.slug, svg,
                         "Share of tokens by domain (left) and by document length (right)")});
  std::string long_header =
      fmt::format("tokens in docs >= {}", stats.value("long_threshold_tokens", uint64_t{4096}));
  HtmlTable table(
      {"domain", "documents", "tokens", "token share", "median length", long_header},
      {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  auto row = [&](const std::string& name, const nlohmann::json& d) {
    table.add_row({name, count_of(d, "documents"), count_of(d, "tokens"),
                   percent(number_or(d, "token_share", 0)),
                   fmt::format("{:.0f}", number_or(d, "median_document_tokens", 0)),
                   percent(number_or(d, "long_token_share", 0))});
  };
  for (const nlohmann::json& d : stats.at("domains")) row(d.value("name", "?"), d);
  row("all", total);
  page.table(table);
  uint64_t bad = stats.value(nlohmann::json::json_pointer("/bad_input/total"), uint64_t{0});
  if (bad > 0)
    page.warning(fmt::format("{} bad input records (listed in the raw stats JSON)", bad));
}

// ---- mixtures ----

// name -> the domain's entry of a profile ("before" / "after" of report.json).
const nlohmann::json* profile_domain(const nlohmann::json& profile, const std::string& name) {
  if (!profile.is_object() || !profile.contains("domains")) return nullptr;
  for (const nlohmann::json& d : profile["domains"])
    if (d.value("name", "") == name) return &d;
  return nullptr;
}

void mixture(ReportBuilder& b, const MixData& m) {
  const ReportInput& input = input_of(b, m.input);
  const nlohmann::json& report = m.report;
  const nlohmann::json& settings = report.value("settings", nlohmann::json::object());
  const std::string strategy = settings.value("strategy", "?");
  HtmlPage& page = b.page();
  page.heading(fmt::format("{} ({})", input.name, strategy));
  page.paragraph(fmt::format(
      "Strategy {}, budget {} ({}): {} of {} documents offered kept, {} rows of {} tokens ({} "
      "tokens). Tokens in documents of at least {}: {} before, {} after.",
      strategy, format_count(static_cast<uint64_t>(number_or(settings, "budget_tokens", 0))),
      settings.value("length", "?"), count_of(report, "documents_kept"),
      count_of(report, "documents_offered"), count_of(report, "rows"), report.value("seq_len", 0),
      count_of(report, "tokens_written"), settings.value("long_threshold", 0),
      percent(number_or(report, "before_long_share", 0)),
      percent(number_or(report, "after_long_share", 0))));
  for (const nlohmann::json& w : report.value("warnings", nlohmann::json::array()))
    page.warning("warning: " + w.get<std::string>());
  page.figures(
      {b.figure("mix-" + input.slug + "-domains",
                bar_chart_svg(mix_domain_chart(report, input.name + ": domain shares")),
                "Share of tokens per domain: the target (budgeted strategies), the documents "
                "offered (before) and the pieces kept (after)"),
       b.figure("mix-" + input.slug + "-lengths",
                bar_chart_svg(mix_length_chart(report, input.name + ": document lengths")),
                "Share of tokens by document length (tokens), before and after")});
  HtmlTable table({"domain", "target", "before", "after", "kept docs", "kept tokens", "long before",
                   "long after"},
                  {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
                   Align::kRight, Align::kRight, Align::kRight});
  const nlohmann::json& before = report.value("before", nlohmann::json::object());
  const nlohmann::json& after = report.value("after", nlohmann::json::object());
  for (const nlohmann::json& d : report.value("domains", nlohmann::json::array())) {
    std::string name = d.value("name", "?");
    const nlohmann::json* bd = profile_domain(before, name);
    const nlohmann::json* ad = profile_domain(after, name);
    table.add_row({name,
                   d.contains("target_share") ? percent(d["target_share"].get<double>())
                                              : HtmlCell("-", "", "muted"),
                   bd ? percent(number_or(*bd, "token_share", 0)) : "-",
                   percent(number_or(d, "after_share", 0)), count_of(d, "kept_documents"),
                   count_of(d, "kept_tokens"),
                   bd ? percent(number_or(*bd, "long_token_share", 0)) : "-",
                   ad ? percent(number_or(*ad, "long_token_share", 0)) : "-"});
  }
  page.table(table);
}

// ---- training ----

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void training_table(ReportBuilder& b) {
  HtmlTable table(
      {"run", "steps", "tokens", "seq_len", "first loss", "last loss", "median tokens/s",
       "median MFU", "peak GiB", "lr", "schedule"},
      {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
       Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kLeft});
  for (const TrainData& run : b.data().runs) {
    const nlohmann::json& c = run.config;
    std::vector<double> rates, mfu;
    double peak = 0;
    for (const TrainStep& s : run.steps) {
      rates.push_back(s.tokens_per_s);
      if (s.mfu) mfu.push_back(*s.mfu);
      peak = std::max(peak, s.memory_peak_gib);
    }
    bool any = !run.steps.empty();
    table.add_row({input_of(b, run.input).name, fmt::format("{}", run.steps.size()),
                   any ? format_count(static_cast<uint64_t>(run.steps.back().tokens)) : "-",
                   fmt::format("{}", c.value("seq_len", 0)),
                   any ? fmt::format("{:.4f}", run.steps.front().loss) : "-",
                   any ? fmt::format("{:.4f}", run.steps.back().loss) : "-",
                   fmt::format("{:.0f}", median(rates)), mfu.empty() ? "-" : percent(median(mfu)),
                   fmt::format("{:.1f}", peak), fmt::format("{:g}", number_or(c, "lr", 0)),
                   c.value("schedule", "-")});
  }
  b.page().table(table);
}

void training(ReportBuilder& b) {
  HtmlPage& page = b.page();
  std::vector<NamedSteps> runs;
  std::vector<const ReportInput*> run_inputs;
  for (const TrainData& run : b.data().runs) {
    const ReportInput& input = input_of(b, run.input);
    if (run.steps.empty()) {
      page.note(fmt::format("{}: no steps in metrics.jsonl yet", input.name));
    } else {
      runs.push_back({input.name, &run.steps});
      run_inputs.push_back(&input);
    }
    for (const std::string& line : run.skipped_lines) page.warning("skipped: " + line);
  }
  if (!runs.empty()) {
    page.figures({b.figure("train-loss", line_chart_svg(loss_chart(runs)),
                           "Mean next-token loss of each step"),
                  b.figure("train-tokens-per-s", line_chart_svg(throughput_chart(runs)),
                           "Tokens trained per second of each step"),
                  b.figure("train-lr", line_chart_svg(learning_rate_chart(runs)),
                           "Learning rate of each step")});
  }
  std::vector<HtmlFigure> by_domain;
  for (size_t i = 0; i < runs.size(); ++i) {
    LineChart chart = domain_loss_chart(runs[i]);
    if (chart.series.empty()) {
      page.note(fmt::format("{}: no per-domain loss yet (reported every --eval-every steps)",
                            runs[i].name));
      continue;
    }
    by_domain.push_back(b.figure("train-domain-loss-" + run_inputs[i]->slug, line_chart_svg(chart),
                                 "Training loss by domain, over the steps since the report "
                                 "before"));
  }
  if (!by_domain.empty()) page.figures(by_domain);
  training_table(b);
}

// ---- evaluations: needle, passkey, others ----

// Mean score x 100 of the cells at each length, failed cells counting 0 (as acc).
std::map<int64_t, double> acc_by_length(const NeedleData& e) {
  std::map<int64_t, std::pair<double, int>> sums;
  for (const NeedleResult& r : e.results) {
    auto& [sum, n] = sums[r.length];
    sum += r.error.empty() ? score_of(r.scores, e.scorer) : 0.0;
    ++n;
  }
  std::map<int64_t, double> out;
  for (const auto& [length, sn] : sums) out[length] = 100 * sn.first / sn.second;
  return out;
}

std::string eval_title(const ReportBuilder& b, const NeedleData& e) {
  std::string model = needle_model_name(e);
  return model.empty() ? input_of(b, e.input).name : model;
}

// The heatmaps of `runs` side by side, a table of the runs and one of acc by length.
void evaluation_runs(ReportBuilder& b, const std::vector<const NeedleData*>& all,
                     const std::string& stem, const std::string& caption) {
  HtmlPage& page = b.page();
  std::vector<const NeedleData*> runs;
  for (const NeedleData* e : all) {
    for (const std::string& line : e->skipped_lines) page.warning("skipped: " + line);
    if (e->results.empty()) {
      page.note(fmt::format("{}: no results yet", input_of(b, e->input).name));
    } else {
      runs.push_back(e);
    }
  }
  if (runs.empty()) return;
  std::vector<HeatmapPanel> panels;
  HtmlTable table(
      {"run", "model", "task", "backend", "scorer", "cells", "failed", "acc", "training length"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight,
       Align::kRight, Align::kRight, Align::kRight});
  for (const NeedleData* e : runs) {
    std::optional<int64_t> train_length = b.options().train_length;
    if (!train_length) train_length = needle_train_length(*e, b.data());
    double run_acc = acc(e->results, e->scorer);
    HeatmapPanel panel{.title = fmt::format("{}, acc {:.1f}", eval_title(b, *e), run_acc),
                       .cells = {},
                       .train_length = train_length};
    size_t failed = 0;
    for (const NeedleResult& r : e->results) {
      panel.cells.push_back(
          {r.length, r.depth, r.error.empty() ? score_of(r.scores, e->scorer) : 0.0});
      failed += r.error.empty() ? 0 : 1;
    }
    panels.push_back(std::move(panel));
    table.add_row(
        {input_of(b, e->input).name, eval_title(b, *e), e->task, e->settings.value("backend", "-"),
         std::string(needle_scorer_name(e->scorer)), fmt::format("{}", e->results.size()),
         failed > 0 ? HtmlCell(fmt::format("{}", failed), "", "worse") : "0",
         fmt::format("{:.1f}", run_acc), train_length ? fmt::format("{}", *train_length) : "-"});
  }
  page.figures({b.figure(stem, heatmap_svg(panels), caption)});
  page.table(table);

  // acc by length: one row per length, one column per run.
  std::set<int64_t> lengths;
  std::vector<std::map<int64_t, double>> by_length;
  std::vector<std::string> header{"length"};
  std::vector<Align> align{Align::kRight};
  for (const NeedleData* e : runs) {
    by_length.push_back(acc_by_length(*e));
    for (const auto& [length, value] : by_length.back()) lengths.insert(length);
    header.push_back(input_of(b, e->input).name);
    align.push_back(Align::kRight);
  }
  HtmlTable lengths_table(header, align);
  for (int64_t length : lengths) {
    std::vector<HtmlCell> row{fmt::format("{}", length)};
    for (const std::map<int64_t, double>& acc_at : by_length) {
      auto it = acc_at.find(length);
      row.push_back(it == acc_at.end() ? HtmlCell("-", "", "muted")
                                       : HtmlCell(fmt::format("{:.1f}", it->second)));
    }
    lengths_table.add_row(std::move(row));
  }
  // The paper's grid has 40 lengths: a table that long is folded away.
  const std::string title =
      "Accuracy (mean score x 100) at each context length (tokens), over "
      "every depth";
  if (lengths.size() > kOpenTableRows) {
    page.begin_details(fmt::format("{}: {} lengths", title, lengths.size()));
    page.table(lengths_table);
    page.end_details();
  } else {
    page.paragraph(title + ":");
    page.table(lengths_table);
  }
}

std::vector<const NeedleData*> evals_where(const ReportBuilder& b,
                                           bool (*keep)(const std::string&)) {
  std::vector<const NeedleData*> out;
  for (const NeedleData& e : b.data().evals)
    if (keep(e.task)) out.push_back(&e);
  return out;
}

// ---- settings ----

std::string value_text(const nlohmann::json& v) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_array() && v.size() > kListItems) {
    text = "[";
    for (size_t i = 0; i < kListItems; ++i) text += (i > 0 ? ", " : "") + v[i].dump();
    text += fmt::format(", ... ({} items)]", v.size());
  } else {
    text = v.dump();
  }
  if (text.size() > kValueChars) {
    size_t cut = kValueChars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    text = text.substr(0, cut) + "...";
  }
  return text;
}

void flatten_into(const nlohmann::json& j, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [key, value] : j.items())
      flatten_into(value, prefix.empty() ? key : prefix + "." + key, out);
  } else {
    out.emplace_back(prefix, value_text(j));
  }
}

void settings_table(HtmlPage& page, const std::string& caption, const nlohmann::json& j) {
  HtmlTable table({"setting", "value"}, {Align::kLeft, Align::kLeft});
  for (auto& [key, value] : flatten_settings(j)) table.add_row({key, HtmlCell(value, "", "value")});
  page.note(caption);
  page.table(table);
}

// What a stats JSON says about how it was made (its numbers are in the corpus section).
nlohmann::json stats_settings(const nlohmann::json& stats) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"format", "length", "long_threshold_tokens", "input"})
    if (stats.contains(key)) out[key] = stats[key];
  if (stats.contains("bad_input")) out["bad_input_total"] = stats["bad_input"].value("total", 0);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> flatten_settings(const nlohmann::json& j) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten_into(j, "", out);
  return out;
}

void corpus_section(ReportBuilder& b) {
  if (b.data().stats.empty()) return;
  b.page().begin_section("corpus", "Corpus profile");
  b.page().note(
      "Figure 2 of Fu et al. (2024): each domain's share of the tokens, and the share "
      "of tokens in documents of each length.");
  for (const StatsData& s : b.data().stats) corpus_profile(b, s);
}

void mixtures_section(ReportBuilder& b) {
  if (b.data().mixes.empty()) return;
  b.page().begin_section("mixtures", "Training mixtures");
  b.page().note(
      "Per-source length upsampling should keep every domain at its target share "
      "while the share of tokens in long documents rises.");
  for (const MixData& m : b.data().mixes) mixture(b, m);
}

void training_section(ReportBuilder& b) {
  if (b.data().runs.empty()) return;
  b.page().begin_section("training", "Training curves");
  training(b);
}

void needle_section(ReportBuilder& b) {
  std::vector<const NeedleData*> runs =
      evals_where(b, [](const std::string& task) { return task == "needle"; });
  if (runs.empty()) return;
  b.page().begin_section("needle", "Needle in a haystack");
  b.page().note(
      "Figure 1 of Fu et al. (2024): needle depth (0% at the top) by context length, "
      "each cell coloured by its score from red (0) to green (1); the dashed line marks "
      "the training length; acc is the mean score x 100.");
  evaluation_runs(b, runs, "needle", "Needle-in-a-haystack heatmaps");
}

void passkey_section(ReportBuilder& b) {
  std::vector<const NeedleData*> runs =
      evals_where(b, [](const std::string& task) { return task == "passkey"; });
  if (runs.empty()) return;
  b.page().begin_section("passkey", "Passkey retrieval");
  b.page().note(
      "A 5-digit pass key hidden in repeated filler text, asked back; scored as the "
      "needle test is.");
  evaluation_runs(b, runs, "passkey", "Passkey retrieval heatmaps");
}

void other_evaluations_section(ReportBuilder& b) {
  std::vector<const NeedleData*> runs =
      evals_where(b, [](const std::string& task) { return task != "needle" && task != "passkey"; });
  if (runs.empty()) return;
  b.page().begin_section("evaluations", "Other evaluations");
  evaluation_runs(b, runs, "evaluations", "Heatmaps of the other retrieval tasks");
}

void settings_section(ReportBuilder& b) {
  HtmlPage& page = b.page();
  page.begin_section("settings", "Settings of every run");
  page.note(
      "The resolved settings each command wrote next to its output; nested keys are joined "
      "with dots, long lists and values are cut (the raw files have everything).");
  const ReportData& data = b.data();
  // The settings tables of each input, (caption, JSON), by input index.
  std::vector<std::vector<std::pair<std::string, nlohmann::json>>> tables(data.inputs.size());
  for (const StatsData& s : data.stats)
    tables[s.input].emplace_back("stats JSON", stats_settings(s.stats));
  for (const MixData& m : data.mixes) {
    tables[m.input].emplace_back("manifest.json", m.manifest);
    tables[m.input].emplace_back("report.json: settings",
                                 m.report.value("settings", nlohmann::json::object()));
  }
  for (const TrainData& t : data.runs) tables[t.input].emplace_back("config.json", t.config);
  for (const NeedleData& e : data.evals) tables[e.input].emplace_back("settings.json", e.settings);
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    const ReportInput& input = data.inputs[i];
    page.begin_details(fmt::format("{} ({})", input.name, report_input_kind_name(input.kind)));
    page.links("files", b.raw_links(input));
    for (const auto& [caption, json] : tables[i]) settings_table(page, caption, json);
    page.end_details();
  }
}

void raw_data_section(ReportBuilder& b) {
  HtmlPage& page = b.page();
  page.begin_section("raw", "Raw data");
  page.note(
      "Copies of the files this page was drawn from, beside it under raw/; every figure is "
      "also under figures/ as SVG and PNG.");
  HtmlTable table({"input", "kind", "file", "copied from"},
                  {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const ReportInput& input : b.data().inputs) {
    std::vector<HtmlLink> links = b.raw_links(input);
    for (size_t i = 0; i < links.size(); ++i) {
      table.add_row({input.name, std::string(report_input_kind_name(input.kind)),
                     HtmlCell(links[i].first, links[i].second), input.files[i].string()});
    }
  }
  page.table(table);
  const std::vector<std::filesystem::path>& skipped = b.data().skipped;
  if (!skipped.empty()) {
    std::string names;
    for (size_t i = 0; i < skipped.size() && i < 10; ++i)
      names += (i > 0 ? ", " : "") + skipped[i].string();
    if (skipped.size() > 10) names += ", ...";
    page.note(fmt::format("{} nested directories held no input and were skipped: {}",
                          skipped.size(), names));
  }
}

}  // namespace longctx
