// longctx inspect: what a packed dataset holds, and one row decoded with its spans.
//
//   longctx inspect mix-5b                      # summary: rows, tokens, domains, files
//   longctx inspect mix-5b --row 7 --tokenizer llama2/
//
// Reads the files through the same PackedDataset reader the trainer uses.
#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/dataset/packed_dataset.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

namespace {

struct InspectFlags {
  std::string dir;
  int64_t row = -1;
  std::string tokenizer;
  size_t show_chars = 160;
  bool ids = false;
  bool json = false;
};

std::string shorten(std::string text, size_t limit) {
  for (char& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return text.substr(0, cut) + "...";
}

int run_inspect(const InspectFlags& flags) {
  PackedDataset data = PackedDataset::open(flags.dir);
  if (flags.row < 0) {
    // Summary: tokens per domain over all rows, from the spans.
    std::map<uint32_t, uint64_t> tokens;
    uint64_t starts = 0;
    for (uint64_t r = 0; r < data.rows(); ++r) {
      for (const SpanRecord& s : data.spans(r)) {
        tokens[s.domain] += s.end - s.start;
        if (s.offset == 0) ++starts;
      }
    }
    if (flags.json) {
      nlohmann::json out = data.manifest();
      nlohmann::json by_domain = nlohmann::json::object();
      for (auto& [d, n] : tokens) by_domain[data.domains().at(d)] = n;
      out["tokens_by_domain"] = by_domain;
      out["document_starts"] = starts;
      std::printf("%s\n", out.dump(1).c_str());
      return 0;
    }
    uint64_t total = data.rows() * data.seq_len();
    std::printf("%s: %s rows x %u tokens = %s tokens (%s), %s spans, %s document starts\n",
                flags.dir.c_str(), format_count(data.rows()).c_str(), data.seq_len(),
                format_count(total).c_str(),
                std::string(token_type_name(data.token_type())).c_str(),
                format_count(data.span_count()).c_str(), format_count(starts).c_str());
    std::printf("tokenizer: %s\n", data.manifest().value("tokenizer", "?").c_str());
    std::printf("strategy: %s; segment ids: %s\n", data.manifest().value("strategy", "?").c_str(),
                data.has_segments() ? "yes" : "no");
    for (auto& [d, n] : tokens) {
      std::printf("  %-24s %14s tokens  %5.1f%%\n", data.domains().at(d).c_str(),
                  format_count(n).c_str(), total ? 100.0 * static_cast<double>(n) / total : 0.0);
    }
    return 0;
  }
  auto row = static_cast<uint64_t>(flags.row);
  if (row >= data.rows())
    throw Error(fmt::format("--row {} is out of range: the dataset has {} rows", row, data.rows()));
  std::vector<int32_t> ids = data.row(row);
  std::unique_ptr<Tokenizer> tokenizer;
  if (!flags.tokenizer.empty()) tokenizer = load_tokenizer(flags.tokenizer);
  auto spans = data.spans(row);
  if (flags.json) {
    nlohmann::json out;
    out["row"] = row;
    out["input_ids"] = ids;
    nlohmann::json list = nlohmann::json::array();
    for (const SpanRecord& s : spans) {
      nlohmann::json j = {{"domain", data.domains().at(s.domain)},
                          {"document", fmt::format("{}:{}", data.files().at(s.file), s.line)},
                          {"start", s.start},
                          {"end", s.end},
                          {"offset", s.offset}};
      if (tokenizer) {
        j["text"] =
            tokenizer->decode(std::span<const int32_t>(ids).subspan(s.start, s.end - s.start));
      }
      list.push_back(j);
    }
    out["spans"] = list;
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  std::printf("row %llu of %llu: %zu spans\n", static_cast<unsigned long long>(row),
              static_cast<unsigned long long>(data.rows()), spans.size());
  for (const SpanRecord& s : spans) {
    std::printf("[%6u, %6u) %-22s %s:%llu%s\n", s.start, s.end, data.domains().at(s.domain).c_str(),
                data.files().at(s.file).c_str(), static_cast<unsigned long long>(s.line),
                s.offset == 0 ? "" : fmt::format(" (continues at token {})", s.offset).c_str());
    auto piece = std::span<const int32_t>(ids).subspan(s.start, s.end - s.start);
    if (tokenizer) {
      std::printf("    %s\n", shorten(tokenizer->decode(piece), flags.show_chars).c_str());
    }
    if (flags.ids) {
      std::string text;
      for (size_t i = 0; i < piece.size() && i < 32; ++i) text += fmt::format("{} ", piece[i]);
      std::printf("    ids: %s%s\n", text.c_str(), piece.size() > 32 ? "..." : "");
    }
  }
  if (!tokenizer) std::printf("(pass --tokenizer to see the text of each span)\n");
  return 0;
}

}  // namespace

CommandRun add_inspect_command(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* command = app.add_subcommand(
      "inspect", "Summarise a dataset written by longctx mix, or show one row with its spans");
  command->add_option("dataset", flags->dir, "The --out directory of longctx mix")->required();
  CLI::Option* row = command->add_option("--row", flags->row, "Show this row (0-based)");
  command->add_option("--tokenizer", flags->tokenizer,
                      "Decode the row's spans with this tokenizer (the one the mix used)");
  command->add_option("--chars", flags->show_chars, "Characters of text shown per span")
      ->capture_default_str();
  command->add_flag("--ids", flags->ids, "Also print the first ids of each span");
  command->add_flag("--json", flags->json, "Print JSON instead of text");
  return [flags, row] {
    // -1 (the default) means no row; a negative --row given must not print the summary.
    if (row->count() > 0 && flags->row < 0)
      throw Error(fmt::format("--row must be 0 or more, got {}", flags->row));
    return run_inspect(*flags);
  };
}

}  // namespace longctx
