#include "longctx/mix/mix_job.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/dataset/packed_dataset.h"
#include "longctx/dataset/writer.h"
#include "longctx/mix/mix_phases.h"
#include "longctx/mix/packer.h"
#include "longctx/tokenizer/fingerprint.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStateDir = ".mix-state";
constexpr std::string_view kProgressJson = "progress.json";

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

}  // namespace

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
  if (has_saved_selection(state)) {
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

  // Report: what the finished dataset holds, read back from its files.
  PackedTotals totals;
  totals.pieces = DatasetWriter::read_pieces(state);
  totals.dropped_tokens = dropped_tokens;
  totals.written_tokens.assign(domains.size(), 0);
  {
    MappedFile spans(out / kSpansBin);
    SpansFooter footer;
    std::memcpy(&footer, spans.data() + spans.size() - sizeof(footer), sizeof(footer));
    totals.rows = footer.rows;
    totals.spans = footer.spans;
    const auto* records = reinterpret_cast<const SpanRecord*>(spans.data());
    for (uint64_t i = 0; i < footer.spans; ++i)
      totals.written_tokens.at(records[i].domain) += records[i].end - records[i].start;
  }
  outcome.report = write_report(job, identity, selection, totals, outcome.summary);
  uint64_t rows = totals.rows, span_total = totals.spans;

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
  return outcome;
}

}  // namespace longctx
