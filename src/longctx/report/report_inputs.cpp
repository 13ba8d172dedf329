#include "longctx/report/report_inputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStatsFormat = "longctx.stats.v1";
constexpr int kSearchDepth = 2;  // levels below a directory that is not an input itself

nlohmann::json read_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  }
}

bool has_file(const fs::path& dir, std::string_view name) {
  std::error_code ec;
  return fs::is_regular_file(dir / name, ec);
}

// What a directory is, by the files it holds; a run directory wins over a stats.json in it.
std::optional<ReportInputKind> classify(const fs::path& dir) {
  if (has_file(dir, "manifest.json") && has_file(dir, "report.json")) return ReportInputKind::kMix;
  if (has_file(dir, "config.json") && has_file(dir, "metrics.jsonl"))
    return ReportInputKind::kTrain;
  if (has_file(dir, "results.jsonl") && has_file(dir, "settings.json"))
    return ReportInputKind::kNeedle;
  if (has_file(dir, "stats.json")) return ReportInputKind::kStats;
  return std::nullopt;
}

// An earlier report (ours): never searched, or its raw/ copies would be read as inputs.
bool is_report_directory(const fs::path& dir) {
  std::error_code ec;
  return has_file(dir, "index.html") && fs::is_directory(dir / "figures", ec);
}

ReportInput make_input(ReportInputKind kind, const fs::path& dir) {
  ReportInput input{.kind = kind, .path = dir, .name = "", .slug = "", .files = {}};
  switch (kind) {
    case ReportInputKind::kStats:
      input.path = dir / "stats.json";
      input.files = {input.path};
      break;
    case ReportInputKind::kMix:
      input.files = {dir / "manifest.json", dir / "report.json"};
      break;
    case ReportInputKind::kTrain:
      input.files = {dir / "config.json", dir / "metrics.jsonl"};
      break;
    case ReportInputKind::kNeedle:
      input.files = {dir / "settings.json", dir / "results.jsonl"};
      break;
  }
  return input;
}

struct Search {
  fs::path exclude;  // weakly canonical; empty: none
  std::vector<ReportInput> found;
  std::vector<fs::path> skipped;
};

bool excluded(const Search& search, const fs::path& dir) {
  if (search.exclude.empty()) return false;
  std::error_code ec;
  return fs::weakly_canonical(dir, ec) == search.exclude;
}

std::vector<fs::path> subdirectories(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (!entry.is_directory(type_ec)) continue;
    std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;  // .mix-state, .tmp-model, ...
    out.push_back(entry.path());
  }
  if (ec) throw Error(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

// Adds the inputs under `dir`, `levels` levels deep at most, in sorted order. A subdirectory
// that holds nothing is skipped as a whole (its own empty subdirectories are not counted).
void search_below(const fs::path& dir, int levels, Search& search) {
  for (const fs::path& sub : subdirectories(dir)) {
    if (excluded(search, sub) || is_report_directory(sub)) continue;
    std::optional<ReportInputKind> kind = classify(sub);
    if (kind) search.found.push_back(make_input(*kind, sub));
    if (kind && *kind != ReportInputKind::kStats) continue;  // a run: nothing inside to report
    if (levels <= 1) {
      if (!kind) search.skipped.push_back(sub);
      continue;
    }
    size_t found_before = search.found.size(), skipped_before = search.skipped.size();
    search_below(sub, levels - 1, search);
    if (!kind && search.found.size() == found_before) {
      search.skipped.resize(skipped_before);
      search.skipped.push_back(sub);
    }
  }
}

void add_argument(const fs::path& given, Search& search) {
  fs::path path = given.lexically_normal();
  if (path.has_relative_path() && path.filename().empty()) path = path.parent_path();  // "a/b/"
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error(fmt::format("{} does not exist", path.string()),
                "pass the output of stats --json, mix, train or needle, or a directory of them");
  }
  if (!fs::is_directory(path, ec)) {
    nlohmann::json j = read_json(path);
    if (!j.is_object() || j.value("format", "") != kStatsFormat) {
      throw Error(fmt::format("{} is a file but not the JSON of `longctx stats --json` (format "
                              "\"{}\")",
                              path.string(), kStatsFormat),
                  "pass stats JSON files, or the directories of mix, train and needle runs");
    }
    ReportInput input = make_input(ReportInputKind::kStats, path.parent_path());
    input.path = path;
    input.files = {path};
    search.found.push_back(std::move(input));
    return;
  }
  std::optional<ReportInputKind> kind = classify(path);
  if (kind) search.found.push_back(make_input(*kind, path));
  if (kind && *kind != ReportInputKind::kStats) return;
  size_t found_before = search.found.size();
  search_below(path, kSearchDepth, search);
  if (!kind && search.found.size() == found_before) {
    throw Error(fmt::format("{} holds no input for the report, in it or two levels below it",
                            path.string()),
                "expected a stats.json, a mix (manifest.json + report.json), a train run "
                "(config.json + metrics.jsonl) or a needle run (results.jsonl + settings.json)");
  }
}

// The path components a name is built from, last first: "runs/a/train" -> [train, a, runs].
std::vector<std::string> name_parts(const ReportInput& input) {
  fs::path p = input.path;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(p, ec);
  if (!ec) p = canonical;
  std::vector<std::string> parts;
  if (input.kind == ReportInputKind::kStats) {
    std::string stem = p.stem().string();
    if (stem != "stats") parts.push_back(stem);
    p = p.parent_path();
  }
  for (; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    parts.push_back(p.filename().string());
  }
  if (parts.empty()) parts.push_back(std::string(report_input_kind_name(input.kind)));
  return parts;
}

std::string slug_of(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    out += keep ? c : '-';
  }
  return out;
}

// Names from the last path component, lengthened by parent names where two inputs clash;
// slugs made unique by a numeric suffix when two names differ only in punctuation.
void assign_names(std::vector<ReportInput>& inputs) {
  std::vector<std::vector<std::string>> parts;
  std::vector<size_t> used(inputs.size(), 1);
  for (const ReportInput& input : inputs) parts.push_back(name_parts(input));
  auto name_of = [&](size_t i) {
    std::string name;
    for (size_t k = used[i]; k-- > 0;) name += (name.empty() ? "" : "/") + parts[i][k];
    return name;
  };
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::string, std::vector<size_t>> by_name;
    for (size_t i = 0; i < inputs.size(); ++i) by_name[name_of(i)].push_back(i);
    for (const auto& [name, group] : by_name) {
      if (group.size() < 2) continue;
      for (size_t i : group) {
        if (used[i] < parts[i].size()) {
          ++used[i];
          changed = true;
        }
      }
    }
  }
  std::set<std::string> names, slugs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string name = name_of(i), unique = name;
    for (int n = 2; !names.insert(unique).second; ++n) unique = fmt::format("{}-{}", name, n);
    inputs[i].name = unique;
    std::string slug = slug_of(unique), unique_slug = slug;
    for (int n = 2; !slugs.insert(unique_slug).second; ++n)
      unique_slug = fmt::format("{}-{}", slug, n);
    inputs[i].slug = unique_slug;
  }
}

// The train run a native needle run's model came from: RUN/model or RUN/checkpoints/step-N
// (settings' "model", as given on the command line).
struct ModelInRun {
  fs::path run;            // lexically normal, no trailing slash
  std::string checkpoint;  // "step-000100", or empty for RUN/model
};
std::optional<ModelInRun> model_in_run(const nlohmann::json& settings) {
  if (settings.value("backend", "") != "native") return std::nullopt;
  fs::path model = fs::path(settings.value("model", "")).lexically_normal();
  if (model.filename().empty()) model = model.parent_path();  // "runs/a/model/"
  fs::path parent = model.parent_path();
  if (model.filename() == "model" && !parent.filename().empty()) return ModelInRun{parent, ""};
  if (parent.filename() == "checkpoints" && !parent.parent_path().filename().empty())
    return ModelInRun{parent.parent_path(), model.filename().string()};
  return std::nullopt;
}

TrainStep parse_step(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("step") || !j.contains("tokens") || !j.contains("loss")) {
    throw Error("expected an object with step, tokens and loss");
  }
  TrainStep step;
  step.step = j.at("step").get<int64_t>();
  step.tokens = j.at("tokens").get<double>();
  step.loss = j.at("loss").get<double>();
  // Optional numbers: absent or null (train writes "mfu": null where it knows no peak).
  auto number = [&j](const char* key) -> std::optional<double> {
    if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
    return j.at(key).get<double>();
  };
  step.lr = number("lr").value_or(0.0);
  step.tokens_per_s = number("tokens_per_s").value_or(0.0);
  step.mfu = number("mfu");
  step.memory_peak_gib = number("memory_peak_gib").value_or(0.0);
  if (j.contains("domain_loss")) {
    for (const auto& [domain, entry] : j.at("domain_loss").items()) {
      step.domain_loss[domain] = entry.at("loss").get<double>();
    }
  }
  return step;
}

TrainData load_train(const ReportInput& input, size_t index) {
  TrainData run;
  run.input = index;
  run.config = read_json(input.path / "config.json");
  fs::path metrics = input.path / "metrics.jsonl";
  std::ifstream in(metrics, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}: {}", metrics.string(), errno_text(errno)));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (trim_ascii_space(line).empty()) continue;
    try {
      run.steps.push_back(parse_step(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      run.skipped_lines.push_back(fmt::format("{}:{}: {}", metrics.string(), number, e.what()));
    }
  }
  return run;
}

}  // namespace

std::string_view report_input_kind_name(ReportInputKind kind) {
  switch (kind) {
    case ReportInputKind::kStats:
      return "stats";
    case ReportInputKind::kMix:
      return "mix";
    case ReportInputKind::kTrain:
      return "train";
    case ReportInputKind::kNeedle:
      return "needle";
  }
  return "";
}

ReportSelection find_report_inputs(const std::vector<fs::path>& paths, const fs::path& exclude) {
  Search search;
  std::error_code ec;
  if (!exclude.empty()) search.exclude = fs::weakly_canonical(exclude, ec);
  for (const fs::path& path : paths) add_argument(path, search);
  ReportSelection selection;
  std::set<fs::path> seen;
  for (ReportInput& input : search.found) {
    fs::path key = fs::weakly_canonical(input.path, ec);
    if (seen.insert(ec ? input.path : key).second) selection.inputs.push_back(std::move(input));
  }
  if (selection.inputs.empty()) {
    throw Error("nothing to report", "pass the outputs of stats --json, mix, train or needle");
  }
  selection.skipped = std::move(search.skipped);
  assign_names(selection.inputs);
  return selection;
}

ReportData load_report_data(ReportSelection selection) {
  ReportData data;
  data.inputs = std::move(selection.inputs);
  data.skipped = std::move(selection.skipped);
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    const ReportInput& input = data.inputs[i];
    switch (input.kind) {
      case ReportInputKind::kStats: {
        nlohmann::json stats = read_json(input.path);
        if (!stats.is_object() || stats.value("format", "") != kStatsFormat) {
          throw Error(fmt::format("{}: format is not \"{}\"", input.path.string(), kStatsFormat));
        }
        data.stats.push_back({i, std::move(stats)});
        break;
      }
      case ReportInputKind::kMix: {
        MixData mix{i, read_json(input.path / "manifest.json"),
                    read_json(input.path / "report.json")};
        if (mix.manifest.value("format", "") != "longctx-mix") {
          throw Error(fmt::format("{}: format is not \"longctx-mix\"",
                                  (input.path / "manifest.json").string()));
        }
        data.mixes.push_back(std::move(mix));
        break;
      }
      case ReportInputKind::kTrain:
        data.runs.push_back(load_train(input, i));
        break;
      case ReportInputKind::kNeedle: {
        NeedleData needle;
        needle.input = i;
        needle.settings = read_json(input.path / "settings.json");
        needle.task = needle.settings.value("task", "needle");
        needle.scorer = parse_needle_scorer(needle.settings.value("scorer", "paper"));
        needle.results = latest_per_cell(
            read_results(input.path / "results.jsonl", BadLines::kSkip, &needle.skipped_lines));
        data.evals.push_back(std::move(needle));
        break;
      }
    }
  }
  return data;
}

std::optional<int64_t> needle_train_length(const NeedleData& needle, const ReportData& data) {
  std::optional<ModelInRun> where = model_in_run(needle.settings);
  if (!where) return std::nullopt;
  std::error_code ec;
  for (const TrainData& train : data.runs) {
    const fs::path& dir = data.inputs[train.input].path;
    std::string out = train.config.value("out", "");
    bool same = fs::equivalent(dir, where->run, ec) ||
                (!out.empty() && fs::path(out).lexically_normal() == where->run);
    if (same && train.config.contains("seq_len") && train.config["seq_len"].is_number_integer())
      return train.config["seq_len"].get<int64_t>();
  }
  if (has_file(where->run, "config.json") && has_file(where->run, "metrics.jsonl")) {
    nlohmann::json config = read_json(where->run / "config.json");
    if (config.contains("seq_len") && config["seq_len"].is_number_integer())
      return config["seq_len"].get<int64_t>();
  }
  return std::nullopt;
}

std::string needle_model_name(const NeedleData& needle) {
  std::optional<ModelInRun> where = model_in_run(needle.settings);
  if (where) {
    std::string run = where->run.filename().string();
    return where->checkpoint.empty() ? run : run + "/" + where->checkpoint;
  }
  std::string model = needle.settings.value("model", "");
  if (needle.settings.value("backend", "") != "native") return model;
  fs::path p = fs::path(model).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace longctx
