#include "longctx/eval/haystack_corpus.h"

#include <fmt/format.h>

#include <cstdlib>

#include "longctx/base/error.h"
#include "longctx/data/corpus_files.h"
#include "longctx/data/corpus_reader.h"
#include "longctx/data/record_parser.h"

namespace longctx {

namespace fs = std::filesystem;

fs::path default_corpus() {
  if (const char* env = std::getenv("LONGCTX_CORPUS")) return env;
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  fs::path base = cache ? fs::path(cache) : fs::path(home ? home : ".") / ".cache";
  return base / "longctx" / "default-corpus";
}

Haystack haystack_from_corpus(const fs::path& corpus, const std::string& domain,
                              size_t limit_bytes) {
  if (!fs::exists(corpus))
    throw Error(fmt::format("the haystack corpus {} does not exist", corpus.string()),
                "run `make corpus` (the default corpus), or pass --haystack FILES_OR_DIRS");
  CorpusFileList list = find_corpus_files({corpus.string()});
  CorpusReader reader(list.files, RecordSchema{}, {.threads = 1});
  std::string text;
  for (uint32_t i = 0; i < list.files.size() && text.size() < limit_bytes; ++i) {
    reader.read_file_in_order(i, [&](const Document& doc, int) {
      if (doc.domain != domain || text.size() >= limit_bytes) return;
      if (!text.empty()) text += "\n\n";
      text += doc.text;
    });
  }
  if (text.empty())
    throw Error(fmt::format("{} has no documents of domain {}", corpus.string(), domain),
                "choose --haystack-domain, or pass --haystack FILES_OR_DIRS");
  return Haystack::from_text(std::move(text));
}

}  // namespace longctx
