#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/progress.h"
#include "longctx/mix/budgets.h"
#include "longctx/mix/mix_phases.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSelectionBin = "selection.bin";
constexpr std::string_view kSelectionJson = "selection.json";
constexpr uint64_t kScanGroupBytes = uint64_t{256} << 20;  // on-disk bytes per scan group

static_assert(sizeof(DocumentInfo) == 24);

double selection_length(LengthMode mode, const Tokenizer& tokenizer, SpecialTokens special,
                        std::string_view text, uint64_t& profile_length) {
  if (mode == LengthMode::kTokens) {
    uint64_t n = special == SpecialTokens::kAsText ? tokenizer.count(text)
                                                   : tokenizer.encode(text, special).size();
    profile_length = n;
    return static_cast<double>(n);
  }
  uint64_t cp = count_code_points(text);
  profile_length = estimate_tokens(cp);
  return static_cast<double>(cp) / 3.68;  // the reference's len(text) / 3.68, in doubles
}

// Domain names met by concurrent scan workers, with provisional ids in order of arrival.
class DomainInterner {
 public:
  uint32_t id(std::string_view name) {
    std::lock_guard lock(mutex_);
    auto it = ids_.find(std::string(name));
    if (it != ids_.end()) return it->second;
    auto id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(std::string(name), id);
    return id;
  }
  std::string name(uint32_t id) {
    std::lock_guard lock(mutex_);
    return names_.at(id);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
};

struct ScanEntry {
  uint32_t file;
  uint32_t domain;  // provisional id
  uint64_t line;
  double length;
  uint64_t profile_length;
};

}  // namespace

void note(const MixJob& job, const std::string& text) {
  if (job.log != nullptr) std::fprintf(job.log, "mix: %s\n", text.c_str());
}

std::string length_unit(LengthMode mode) {
  return mode == LengthMode::kTokens ? "tokens" : "estimate";
}

nlohmann::json series_to_json(const MixtureSeries& s) {
  nlohmann::json domains = nlohmann::json::array();
  for (const auto& [name, share] : s.domain_shares) domains.push_back({name, share});
  return {{"label", s.label}, {"domain_shares", domains}, {"bucket_shares", s.bucket_shares}};
}

MixtureSeries series_from_json(const nlohmann::json& j) {
  MixtureSeries s;
  s.label = j.at("label").get<std::string>();
  for (const auto& d : j.at("domain_shares"))
    s.domain_shares.emplace_back(d.at(0).get<std::string>(), d.at(1).get<double>());
  auto buckets = j.at("bucket_shares").get<std::vector<double>>();
  for (size_t b = 0; b < s.bucket_shares.size() && b < buckets.size(); ++b)
    s.bucket_shares[b] = buckets[b];
  return s;
}

bool has_saved_selection(const fs::path& state) {
  return fs::exists(state / kSelectionJson) && fs::exists(state / kSelectionBin);
}

void save_selection(const fs::path& state, const Selection& selection) {
  write_file_atomic(state / kSelectionBin,
                    std::string_view(reinterpret_cast<const char*>(selection.kept.data()),
                                     selection.kept.size() * sizeof(DocumentInfo)));
  write_file_atomic(state / kSelectionJson, selection.info.dump(1));
}

Selection load_selection(const fs::path& state) {
  Selection selection;
  std::string raw = read_file(state / kSelectionBin);
  if (raw.size() % sizeof(DocumentInfo) != 0)
    throw Error(fmt::format("{} is damaged", (state / kSelectionBin).string()),
                "remove the output directory and start again");
  selection.kept.resize(raw.size() / sizeof(DocumentInfo));
  if (!raw.empty()) std::memcpy(selection.kept.data(), raw.data(), raw.size());
  selection.info = nlohmann::json::parse(read_file(state / kSelectionJson));
  return selection;
}

// Phase 1: scan and select.
Selection select_documents(const MixJob& job, InputIssues& issues) {
  const SelectionSettings& settings = job.selection;
  bool budgeted = has_domain_budgets(settings.strategy);
  std::optional<DomainWeights> given_shares = parse_shares(job.shares);
  bool measured = !given_shares.has_value();
  if (!budgeted && job.shares != "slimpajama") {
    note(job,
         fmt::format("--shares is not used by --strategy {}", strategy_name(settings.strategy)));
  }

  // Final domain table. Budgeted strategies with given shares: the share table, fixed now.
  std::vector<std::string> domains;
  std::vector<double> budgets;
  DomainWeights target;
  auto set_budgets = [&](const DomainWeights& shares, bool is_default) {
    target = budget_shares(settings.strategy, shares, job.domain_weights, is_default);
    domains.clear();
    budgets.clear();
    for (const auto& [name, share] : target) {
      domains.push_back(name);
      budgets.push_back(settings.budget_tokens * share);
    }
  };
  if (budgeted && !measured) set_budgets(*given_shares, job.shares == "slimpajama");
  if (!budgeted && !job.domain_weights.empty())
    throw Error("--domain-weights needs --strategy upsample");

  DomainInterner interner;
  std::vector<int64_t> final_id;  // provisional id -> final id, -1 until seen in order
  auto resolve = [&](const ScanEntry& e) -> uint32_t {
    if (e.domain >= final_id.size()) final_id.resize(e.domain + 1, -1);
    if (final_id[e.domain] >= 0) return static_cast<uint32_t>(final_id[e.domain]);
    std::string name = interner.name(e.domain);
    if (budgeted && !measured) {
      std::string canonical = canonical_domain(name);
      auto it = std::find(domains.begin(), domains.end(), canonical);
      if (it == domains.end()) {
        throw Error(fmt::format("domain '{}' ({}:{}) is in the data but has no share", name,
                                job.files[e.file].path.string(), e.line),
                    "give it one with --shares NAME=SHARE,..., use --shares measured, or "
                    "rename it with --domain-alias");
      }
      final_id[e.domain] = it - domains.begin();
    } else {
      final_id[e.domain] = static_cast<int64_t>(domains.size());
      domains.push_back(name);
    }
    return static_cast<uint32_t>(final_id[e.domain]);
  };

  std::optional<Selector> selector;
  if (!measured || !budgeted) selector.emplace(settings, budgets);
  CorpusProfile before(static_cast<uint64_t>(settings.long_threshold));
  Selection selection;
  std::vector<ScanEntry> everything;  // measured shares: the whole corpus, selected at the end

  auto offer = [&](const ScanEntry& e) {
    uint32_t domain = resolve(e);
    DocumentInfo doc{e.file, domain, e.line, e.length};
    before.add(domains[domain], e.profile_length);
    if (selector->offer(doc) == Decision::kKeep) selection.kept.push_back(doc);
  };

  uint64_t total_bytes = 0;
  for (const CorpusFile& f : job.files) total_bytes += f.size_bytes;
  Progress progress("mix: scan", total_bytes, job.display);
  size_t next_file = 0;
  bool done = false;
  while (!done && next_file < job.files.size()) {
    // One group of whole files; all of them when the shares are measured.
    size_t first = next_file;
    uint64_t group_bytes = 0;
    while (next_file < job.files.size() && (measured || group_bytes < kScanGroupBytes)) {
      group_bytes += job.files[next_file].size_bytes;
      ++next_file;
    }
    std::vector<CorpusFile> group(job.files.begin() + static_cast<ptrdiff_t>(first),
                                  job.files.begin() + static_cast<ptrdiff_t>(next_file));
    CorpusReader reader(group, job.schema, job.reader);
    std::vector<std::vector<ScanEntry>> found(static_cast<size_t>(reader.thread_count()));
    InputIssues group_issues = reader.read_all(
        [&](const Document& doc, int worker) {
          uint64_t profile_length = 0;
          double length =
              selection_length(job.length, *job.tokenizer, job.special, doc.text, profile_length);
          found[static_cast<size_t>(worker)].push_back(
              ScanEntry{static_cast<uint32_t>(first + doc.file_index), interner.id(doc.domain),
                        doc.line, length, profile_length});
        },
        &progress);
    group_issues.offset_files(static_cast<uint32_t>(first));  // group -> whole list
    issues.merge(group_issues);

    std::vector<ScanEntry> entries;
    for (auto& part : found) {
      entries.insert(entries.end(), part.begin(), part.end());
      std::vector<ScanEntry>().swap(part);
    }
    std::sort(entries.begin(), entries.end(), [](const ScanEntry& a, const ScanEntry& b) {
      return a.file != b.file ? a.file < b.file : a.line < b.line;
    });
    if (measured && budgeted) {
      everything = std::move(entries);
      continue;
    }
    for (const ScanEntry& e : entries) {
      offer(e);
      if (selector->done()) {
        done = true;
        break;
      }
    }
  }
  progress.finish();

  if (measured && budgeted) {
    // Shares from the whole input, domains in order of first appearance.
    for (const ScanEntry& e : everything) resolve(e);
    DomainWeights lengths;
    for (const std::string& name : domains) lengths.emplace_back(name, 0.0);
    for (const ScanEntry& e : everything)
      lengths[static_cast<size_t>(final_id[e.domain])].second += e.length;
    std::vector<std::string> order = domains;
    set_budgets(measured_shares(lengths), false);
    // set_budgets keeps the order of `lengths`, so ids stay valid.
    if (domains != order) throw Error("internal: measured domains reordered");
    selector.emplace(settings, budgets);
    for (const ScanEntry& e : everything) {
      offer(e);
      if (selector->done()) break;
    }
  }

  // Per-domain account of the selection.
  nlohmann::json per_domain = nlohmann::json::array();
  const auto& counts = selector->domains();
  for (size_t d = 0; d < domains.size(); ++d) {
    DomainSelection c = d < counts.size() ? counts[d] : DomainSelection{};
    nlohmann::json entry = {{"name", domains[d]},
                            {"seen_documents", c.seen_documents},
                            {"seen_length", c.seen_length},
                            {"kept_documents", c.kept_documents},
                            {"kept_length", c.kept_length},
                            {"filtered_documents", c.filtered_documents},
                            {"over_budget_documents", c.over_budget_documents}};
    if (budgeted) {
      entry["target_share"] = target[d].second;
      entry["budget"] = budgets[d];
      entry["shortfall"] = std::max(0.0, budgets[d] - c.kept_length);
    }
    per_domain.push_back(entry);
  }
  selection.info = {
      {"domains", domains},
      {"budget_met", selector->done()},
      {"documents_offered", selector->offered()},
      {"kept_length", selector->kept_length()},
      {"per_domain", per_domain},
      {"before_profile", before.to_json()},
      {"before_series", series_to_json(series_from_profile("before", before))},
      {"before_long_share", before.total().long_token_share()},
  };
  return selection;
}

}  // namespace longctx
