// Tokenizer throughput of longctx's tokenizers on one text file: documents of ~4 KB encoded on
// one thread and on N threads, and the whole file as a single document (linearity). Prints one
// tab-separated line per run: tokenizer, run, threads, MB, seconds, MB/s, tokens.
//
//   longctx_bench_tokenizer TOKENIZER TEXT_FILE [THREADS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "longctx/base/files.h"
#include "longctx/data/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

// ~4 KB documents cut at a space (or wherever, if none).
std::vector<std::string_view> cut_documents(std::string_view text) {
  std::vector<std::string_view> docs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + 4096);
    size_t space = end < text.size() ? text.rfind(' ', end) : std::string_view::npos;
    if (space != std::string_view::npos && space > start) end = space;
    docs.push_back(text.substr(start, end - start));
    start = end;
  }
  return docs;
}

void report(const char* tokenizer, const char* run, int threads, size_t bytes, double seconds,
            size_t tokens) {
  std::printf("%s\t%s\t%d\t%.1f\t%.3f\t%.1f\t%zu\n", tokenizer, run, threads, bytes / 1e6, seconds,
              bytes / 1e6 / seconds, tokens);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER TEXT_FILE [THREADS]\n", argv[0]);
    return 2;
  }
  auto tokenizer = longctx::load_tokenizer(argv[1]);
  std::string text = longctx::read_file(argv[2]);
  int threads =
      argc > 3 ? std::stoi(argv[3]) : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::string_view> docs = cut_documents(text);
  const char* name = argv[1];

  // One thread, documents (after one warm-up pass over the first tenth).
  for (size_t i = 0; i < docs.size() / 10; ++i) tokenizer->encode(docs[i]);
  auto start = Clock::now();
  size_t tokens = 0;
  for (std::string_view doc : docs) tokens += tokenizer->encode(doc).size();
  report(name, "documents", 1, text.size(),
         std::chrono::duration<double>(Clock::now() - start).count(), tokens);

  // N threads, documents taken from a shared counter.
  std::atomic<size_t> next{0}, total{0};
  start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      size_t mine = 0;
      for (size_t i = next++; i < docs.size(); i = next++)
        mine += tokenizer->encode(docs[i]).size();
      total += mine;
    });
  }
  for (auto& t : pool) t.join();
  report(name, "documents", threads, text.size(),
         std::chrono::duration<double>(Clock::now() - start).count(), total);

  // The whole file as one document.
  start = Clock::now();
  tokens = tokenizer->encode(text).size();
  report(name, "one-document", 1, text.size(),
         std::chrono::duration<double>(Clock::now() - start).count(), tokens);
  return 0;
}
