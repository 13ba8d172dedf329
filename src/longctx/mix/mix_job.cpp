#include "longctx/mix/mix_job.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/data/corpus_profile.h"
#include "longctx/data/domains.h"
#include "longctx/mix/budgets.h"
#include "longctx/mix/dataset_writer.h"
#include "longctx/mix/packed_dataset.h"
#include "longctx/mix/packer.h"
#include "longctx/report/figure2.h"
#include "longctx/report/table.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStateDir = ".mix-state";
constexpr std::string_view kSelectionBin = "selection.bin";
constexpr std::string_view kSelectionJson = "selection.json";
constexpr std::string_view kProgressJson = "progress.json";
constexpr uint64_t kScanGroupBytes = uint64_t{256} << 20;  // on-disk bytes per scan group

static_assert(sizeof(DocumentInfo) == 24);

// Test hook: LONGCTX_TEST_CRASH=rows:N | before-finish | after-finish ends the process at that
// point, as a kill would, so the tests can check that --resume gives the same bytes.
void maybe_crash(std::string_view point, uint64_t rows = 0) {
  static const char* spec = std::getenv("LONGCTX_TEST_CRASH");
  if (spec == nullptr) return;
  std::string_view s(spec);
  bool hit = s == point;
  if (point == "rows" && s.starts_with("rows:")) {
    hit = rows >= std::strtoull(spec + 5, nullptr, 10);
  }
  if (hit) std::_Exit(77);
}

void note(const MixJob& job, const std::string& text) {
  if (job.log != nullptr) std::fprintf(job.log, "mix: %s\n", text.c_str());
}

std::string length_unit(LengthMode mode) {
  return mode == LengthMode::kTokens ? "tokens" : "estimate";
}

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

nlohmann::json files_identity(const std::vector<CorpusFile>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const CorpusFile& f : files) {
    struct stat st {};
    int64_t mtime = ::stat(f.path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
    out.push_back({{"path", f.path.string()}, {"bytes", f.size_bytes}, {"mtime", mtime}});
  }
  return out;
}

// Everything that decides the output bytes (not threads, progress or paths of the output).
nlohmann::json settings_json(const MixJob& job) {
  const SelectionSettings& s = job.selection;
  nlohmann::json aliases = nlohmann::json::object();
  for (const auto& [from, to] : job.schema.domain_aliases) aliases[from] = to;
  return {
      {"strategy", strategy_name(s.strategy)},
      {"budget_tokens", s.budget_tokens},
      {"length", length_unit(job.length)},
      {"long_threshold", s.long_threshold},
      {"short_keep_prob", s.short_keep_prob},
      {"seed", s.seed},
      {"shares", job.shares},
      {"domain_weights", job.domain_weights},
      {"seq_len", job.seq_len},
      {"bos", job.bos},
      {"eos", job.eos},
      {"max_doc_tokens", job.max_doc_tokens},
      {"doc_boundaries", job.doc_boundaries},
      {"format_jsonl", job.jsonl},
      {"parse_special", job.special == SpecialTokens::kParse},
      {"tokenizer", job.tokenizer->description()},
      {"tokenizer_fingerprint", tokenizer_fingerprint(*job.tokenizer)},
      {"text_key", job.schema.text_key},
      {"domain_key", job.schema.domain_key},
      {"default_domain", job.schema.default_domain},
      {"domain_aliases", aliases},
      {"inputs", files_identity(job.files)},
  };
}

// The outcome of phase 1, saved in the state directory.
struct Selection {
  std::vector<DocumentInfo> kept;
  nlohmann::json info;  // domains, budgets, per-domain counts, the "before" profile
};

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

// Tokenizes a batch of documents on `threads` threads; results in batch order.
std::vector<std::vector<int32_t>> tokenize_batch(const MixJob& job,
                                                 const std::vector<std::string>& texts,
                                                 int threads) {
  std::vector<std::vector<int32_t>> ids(texts.size());
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    try {
      for (size_t i = next++; i < texts.size(); i = next++)
        ids[i] = job.tokenizer->encode(texts[i], job.special);
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  int extra = std::min<int>(threads, static_cast<int>(texts.size())) - 1;
  for (int t = 0; t < extra; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return ids;
}

nlohmann::json packer_state_json(const Packer::State& s) {
  nlohmann::json spans = nlohmann::json::array();
  for (const SpanRecord& r : s.spans)
    spans.push_back({r.file, r.domain, r.line, r.start, r.end, r.offset});
  return {{"tokens", s.tokens}, {"spans", spans}, {"rows", s.rows}};
}

Packer::State packer_state_from_json(const nlohmann::json& j) {
  Packer::State s;
  s.tokens = j.at("tokens").get<std::vector<int32_t>>();
  s.rows = j.at("rows").get<uint64_t>();
  for (const auto& r : j.at("spans")) {
    s.spans.push_back(SpanRecord{r.at(0).get<uint32_t>(), r.at(1).get<uint32_t>(),
                                 r.at(2).get<uint64_t>(), r.at(3).get<uint32_t>(),
                                 r.at(4).get<uint32_t>(), r.at(5).get<uint64_t>()});
  }
  return s;
}

struct StopFile {};  // thrown by the reread visitor once a file has nothing more to give

TokenType token_type_for(const Tokenizer& tokenizer) {
  return tokenizer.vocab_size() <= 65536 ? TokenType::kUint16 : TokenType::kInt32;
}

std::string format_share(double x) {
  return fmt::format("{:.1f}%", 100 * x);
}

}  // namespace

std::string tokenizer_fingerprint(const Tokenizer& tokenizer) {
  static constexpr std::string_view kProbe =
      "The quick brown fox jumps over the lazy dog. 1234567890 \t\n  Ünïcödé 中文 العربية "
      "🙂 "
      "def f(x):\n    return x ** 2  # comment\n</s> <s> <|endoftext|>";
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the ids and the vocabulary size
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (int32_t id : tokenizer.encode(kProbe)) mix(static_cast<uint32_t>(id));
  mix(tokenizer.vocab_size());
  mix(static_cast<uint32_t>(tokenizer.bos_id()));
  mix(static_cast<uint32_t>(tokenizer.eos_id()));
  return fmt::format("{:016x}", h);
}

MixOutcome run_mix(const MixJob& job) {
  const SelectionSettings& settings = job.selection;
  if (job.files.empty()) throw Error("mix: no input files");
  if (!job.tokenizer) throw Error("mix needs --tokenizer");
  if (!(settings.budget_tokens > 0)) throw Error("--budget must be more than 0");
  if (job.seq_len == 0) throw Error("--seq-len must be at least 1");
  if (settings.short_keep_prob < 0 || settings.short_keep_prob > 1)
    throw Error(
        fmt::format("--short-keep-prob must be in [0, 1], got {}", settings.short_keep_prob));
  if (job.bos && job.tokenizer->bos_id() < 0)
    throw Error(fmt::format("the tokenizer ({}) has no BOS token", job.tokenizer->description()),
                "pass --no-bos");
  if (job.eos && job.tokenizer->eos_id() < 0)
    throw Error(fmt::format("the tokenizer ({}) has no EOS token", job.tokenizer->description()),
                "drop --eos");

  fs::path out = job.out;
  fs::path state = out / kStateDir;
  nlohmann::json identity = settings_json(job);
  MixOutcome outcome;

  // The output directory: new, empty, finished (nothing to do on --resume), or our own state.
  std::error_code ec;
  if (fs::exists(out / kManifestJson)) {
    if (job.resume) {
      fs::remove_all(state, ec);  // left by a kill between manifest.json and the cleanup
      outcome.already_complete = true;
      outcome.report = nlohmann::json::parse(read_file(out / kReportJson));
      return outcome;
    }
    if (!job.overwrite)
      throw Error(fmt::format("{} already holds a dataset", out.string()),
                  "pass --overwrite to replace it, or choose another --out");
  }
  bool have_state = fs::exists(state / "settings.json");
  if (job.resume && have_state) {
    nlohmann::json saved = nlohmann::json::parse(read_file(state / "settings.json"));
    if (saved != identity) {
      std::vector<std::string> differ;
      for (auto& [key, value] : identity.items()) {
        if (!saved.contains(key) || saved[key] != value) differ.push_back(key);
      }
      throw Error(fmt::format("--resume: the settings differ from the interrupted run's ({})",
                              fmt::join(differ, ", ")),
                  "rerun with the same settings and inputs, or start again with --overwrite");
    }
  } else {
    if (job.resume) note(job, "nothing to resume: starting from the beginning");
    if (fs::exists(out) && !fs::is_directory(out))
      throw Error(fmt::format("--out {} is not a directory", out.string()));
    if (fs::exists(out) && !fs::is_empty(out)) {
      if (!job.overwrite && !have_state)
        throw Error(fmt::format("--out {} is not empty", out.string()),
                    "choose a new directory, or pass --overwrite to replace its dataset");
      if (!job.overwrite && have_state)
        throw Error(fmt::format("{} holds an interrupted mix", out.string()),
                    "pass --resume to finish it, or --overwrite to start again");
      // --overwrite: remove only what a mix writes.
      for (std::string_view name : {kDataBin, kDataIdx, kSpansBin, kSegmentsBin, kSegmentsIdx,
                                    kRowsJsonl, kManifestJson, kReportJson, kReportSvg}) {
        fs::remove(out / name, ec);
        fs::remove(out / fmt::format("{}.partial", name), ec);
      }
      fs::remove(out / "spans-rows.bin.partial", ec);
      fs::remove_all(state, ec);
    }
    fs::create_directories(state, ec);
    if (ec) throw Error(fmt::format("cannot create {}: {}", state.string(), ec.message()));
    write_file_atomic(state / "settings.json", identity.dump(1));
  }

  // Phase 1: select (or reload the saved selection).
  Selection selection;
  if (fs::exists(state / kSelectionJson) && fs::exists(state / kSelectionBin)) {
    selection = load_selection(state);
    note(job, fmt::format("resuming: {} documents were selected", selection.kept.size()));
  } else {
    InputIssues issues(job.reader.keep_issue_locations);
    selection = select_documents(job, issues);
    selection.info["input_issues"] = issues_to_json(issues, job.files);
    save_selection(state, selection);
  }
  std::vector<std::string> domains = selection.info.at("domains").get<std::vector<std::string>>();
  const std::vector<DocumentInfo>& kept = selection.kept;

  // Phase 2: pack.
  DatasetLayout layout;
  layout.dir = out;
  layout.state_dir = state;
  layout.seq_len = job.seq_len;
  layout.token_type = token_type_for(*job.tokenizer);
  layout.segments = job.doc_boundaries;
  layout.jsonl = job.jsonl;
  layout.domains = domains;
  for (const CorpusFile& f : job.files) layout.files.push_back(f.path.string());

  nlohmann::json progress_state = nlohmann::json::object();
  if (fs::exists(state / kProgressJson))
    progress_state = nlohmann::json::parse(read_file(state / kProgressJson));
  std::string phase = progress_state.value("phase", "packing");
  uint64_t dropped_tokens = progress_state.value("dropped_tokens", uint64_t{0});

  if (phase == "packing" || !fs::exists(out / kDataBin)) {
    std::optional<WriterCheckpoint> checkpoint;
    if (progress_state.contains("checkpoint"))
      checkpoint = WriterCheckpoint::from_json(progress_state["checkpoint"]);
    DatasetWriter writer(layout, checkpoint ? &*checkpoint : nullptr);
    PackerSettings packer_settings;
    packer_settings.seq_len = job.seq_len;
    packer_settings.bos_id = job.bos ? job.tokenizer->bos_id() : -1;
    packer_settings.eos_id = job.eos ? job.tokenizer->eos_id() : -1;
    packer_settings.max_piece_tokens = job.max_doc_tokens;
    Packer packer(packer_settings, writer);
    if (progress_state.contains("packer"))
      packer.restore(packer_state_from_json(progress_state["packer"]));
    size_t next = progress_state.value("next_document", size_t{0});

    if (phase == "packing" && next < kept.size()) {
      if (next > 0) note(job, fmt::format("resuming at document {} of {}", next, kept.size()));
      CorpusReader reader(job.files, job.schema, job.reader);
      uint64_t reread_bytes = 0;
      for (uint32_t f = kept[next].file; f <= kept.back().file; ++f)
        reread_bytes += job.files[f].size_bytes;
      Progress progress("mix: pack", reread_bytes, job.display);
      int threads = reader.thread_count();

      std::vector<std::string> texts;
      std::vector<size_t> which;
      size_t batch_bytes = 0;
      size_t k = next;
      auto flush = [&] {
        std::vector<std::vector<int32_t>> ids = tokenize_batch(job, texts, threads);
        for (size_t i = 0; i < ids.size(); ++i) {
          const DocumentInfo& doc = kept[which[i]];
          packer.add_document(doc, ids[i], [&](uint64_t n) { writer.add_piece(doc.domain, n); });
          maybe_crash("rows", writer.rows());
        }
        texts.clear();
        which.clear();
        batch_bytes = 0;
        WriterCheckpoint at = writer.sync();
        nlohmann::json saved = {{"phase", "packing"},
                                {"next_document", k},
                                {"checkpoint", at.to_json()},
                                {"packer", packer_state_json(packer.state())}};
        write_file_atomic(state / kProgressJson, saved.dump());
      };
      while (k < kept.size()) {
        uint32_t file = kept[k].file;
        try {
          reader.read_file_in_order(
              file,
              [&](const Document& doc, int) {
                if (k >= kept.size() || kept[k].file != file) throw StopFile{};
                if (doc.line != kept[k].line) return;
                texts.emplace_back(doc.text);
                which.push_back(k);
                batch_bytes += doc.text.size();
                ++k;
                if (batch_bytes >= job.checkpoint_bytes) flush();
                if (k >= kept.size() || kept[k].file != file) throw StopFile{};
              },
              &progress);
        } catch (const StopFile&) {
        }
        if (k < kept.size() && kept[k].file == file) {
          throw Error(fmt::format("{}:{}: the selected document is gone; the input changed "
                                  "during the mix",
                                  job.files[file].path.string(), kept[k].line),
                      "start again with --overwrite");
        }
      }
      flush();
      progress.finish();
    }

    // Phase 3: finish. The partial row is dropped, as in the recipe.
    dropped_tokens = packer.pending_tokens();
    WriterCheckpoint at = writer.sync();
    nlohmann::json finishing = {{"phase", "finishing"},
                                {"next_document", kept.size()},
                                {"checkpoint", at.to_json()},
                                {"packer", packer_state_json(packer.state())},
                                {"dropped_tokens", dropped_tokens}};
    write_file_atomic(state / kProgressJson, finishing.dump());
    maybe_crash("before-finish");
    writer.finish();
  } else {
    DatasetWriter::rename_partials(out);  // a finish interrupted between its renames
  }
  maybe_crash("after-finish");

  // Report: the mixture before (documents offered) and after (pieces kept), and what was written.
  std::vector<PieceRecord> pieces = DatasetWriter::read_pieces(state);
  CorpusProfile after(static_cast<uint64_t>(settings.long_threshold));
  std::vector<uint64_t> piece_count(domains.size()), piece_tokens(domains.size());
  for (const PieceRecord& p : pieces) {
    after.add(domains.at(p.domain), p.tokens);
    ++piece_count[p.domain];
    piece_tokens[p.domain] += p.tokens;
  }
  uint64_t rows = 0, span_total = 0;
  std::vector<uint64_t> written(domains.size());
  {
    MappedFile spans(out / kSpansBin);
    SpansFooter footer;
    std::memcpy(&footer, spans.data() + spans.size() - sizeof(footer), sizeof(footer));
    rows = footer.rows;
    span_total = footer.spans;
    const auto* records = reinterpret_cast<const SpanRecord*>(spans.data());
    for (uint64_t i = 0; i < footer.spans; ++i)
      written.at(records[i].domain) += records[i].end - records[i].start;
  }
  uint64_t total_pieces_tokens = 0;
  for (uint64_t t : piece_tokens) total_pieces_tokens += t;

  nlohmann::json report;
  report["settings"] = identity;
  report["settings"].erase("inputs");
  report["inputs"] = layout.files;
  report["budget_met"] = selection.info["budget_met"];
  report["documents_offered"] = selection.info["documents_offered"];
  report["documents_kept"] = kept.size();
  report["pieces"] = pieces.size();
  report["rows"] = rows;
  report["seq_len"] = job.seq_len;
  report["tokens_written"] = rows * job.seq_len;
  report["tokens_dropped"] = dropped_tokens;
  report["spans"] = span_total;
  report["before_long_share"] = selection.info["before_long_share"];
  report["after_long_share"] = after.total().long_token_share();
  nlohmann::json per_domain = selection.info["per_domain"];
  nlohmann::json warnings = nlohmann::json::array();
  bool budgeted = has_domain_budgets(settings.strategy);
  for (size_t d = 0; d < domains.size(); ++d) {
    nlohmann::json& e = per_domain[d];
    e["pieces"] = piece_count[d];
    e["kept_tokens"] = piece_tokens[d];
    e["after_share"] = total_pieces_tokens == 0 ? 0.0
                                                : static_cast<double>(piece_tokens[d]) /
                                                      static_cast<double>(total_pieces_tokens);
    e["written_tokens"] = written[d];
    if (budgeted && e["seen_documents"].get<uint64_t>() == 0 && e["budget"].get<double>() > 0) {
      warnings.push_back(fmt::format("{} has a budget of {:.0f} but no documents in the input",
                                     domains[d], e["budget"].get<double>()));
    } else if (budgeted && e["shortfall"].get<double>() > 0) {
      warnings.push_back(fmt::format("{} ran out of documents {:.0f} short of its budget of {:.0f}",
                                     domains[d], e["shortfall"].get<double>(),
                                     e["budget"].get<double>()));
    }
  }
  if (!budgeted && !selection.info["budget_met"].get<bool>()) {
    warnings.push_back(
        fmt::format("the input ran out {:.0f} short of the budget of {:.0f}",
                    settings.budget_tokens - selection.info["kept_length"].get<double>(),
                    settings.budget_tokens));
  }
  if (rows == 0) {
    warnings.push_back(
        fmt::format("no row written: the selection holds fewer than --seq-len {} "
                    "tokens",
                    job.seq_len));
  }
  report["domains"] = per_domain;
  report["before"] = selection.info["before_profile"];
  report["after"] = after.to_json();
  report["input_issues"] = selection.info["input_issues"];
  report["warnings"] = warnings;

  MixtureSeries before_series = series_from_json(selection.info["before_series"]);
  MixtureSeries after_series = series_from_profile("after", after);
  std::string svg =
      draw_figure2({before_series, after_series},
                   fmt::format("longctx mix: {} ({} tokens)", strategy_name(settings.strategy),
                               format_count(rows * job.seq_len)));
  write_file_atomic(out / kReportJson, report.dump(1) + "\n");
  write_file_atomic(out / kReportSvg, svg);

  nlohmann::json manifest = {
      {"format", "longctx-mix"},
      {"version", 1},
      {"seq_len", job.seq_len},
      {"rows", rows},
      {"tokens", rows * job.seq_len},
      {"token_type", token_type_name(layout.token_type)},
      {"vocab_size", job.tokenizer->vocab_size()},
      {"bos_id", job.bos ? job.tokenizer->bos_id() : -1},
      {"eos_id", job.eos ? job.tokenizer->eos_id() : -1},
      {"tokenizer", job.tokenizer->description()},
      {"tokenizer_fingerprint", identity["tokenizer_fingerprint"]},
      {"doc_boundaries", job.doc_boundaries},
      {"jsonl", job.jsonl},
      {"spans", span_total},
      {"domains", domains},
      {"files", layout.files},
      {"strategy", strategy_name(settings.strategy)},
  };
  write_file_atomic(out / kManifestJson, manifest.dump(1) + "\n");
  fs::remove_all(state, ec);

  // The terminal summary.
  Table table({"domain", "target", "before", "after", "kept docs", "filtered", "long before",
               "long after", "shortfall"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  const nlohmann::json& before_domains = report["before"]["domains"];
  const nlohmann::json& after_domains = report["after"]["domains"];
  for (size_t d = 0; d < domains.size(); ++d) {
    const nlohmann::json& e = per_domain[d];
    auto share_in = [&](const nlohmann::json& profile_domains, const char* key) -> std::string {
      for (const auto& p : profile_domains) {
        if (p.at("name") == domains[d]) return format_share(p.value(key, 0.0));
      }
      return "-";
    };
    table.add_row(
        {domains[d], budgeted ? format_share(e["target_share"].get<double>()) : "-",
         share_in(before_domains, "token_share"), format_share(e["after_share"].get<double>()),
         format_count(e["kept_documents"].get<uint64_t>()),
         format_count(e["filtered_documents"].get<uint64_t>()),
         share_in(before_domains, "long_token_share"), share_in(after_domains, "long_token_share"),
         budgeted ? format_count(static_cast<uint64_t>(e["shortfall"].get<double>())) : "-"});
  }
  table.add_rule();
  table.add_row({"all", "", "", "", format_count(kept.size()), "",
                 format_share(report["before_long_share"].get<double>()),
                 format_share(report["after_long_share"].get<double>()), ""});
  outcome.summary = table.render();
  outcome.summary += fmt::format(
      "{} rows of {} tokens ({} tokens) in {}; {} tokens of the last partial row dropped\n",
      format_count(rows), job.seq_len, format_count(rows * job.seq_len), out.string(),
      format_count(dropped_tokens));
  for (const auto& w : warnings)
    outcome.summary += fmt::format("warning: {}\n", w.get<std::string>());
  outcome.report = std::move(report);
  return outcome;
}

}  // namespace longctx
