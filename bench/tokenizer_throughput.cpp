// Tokenizer throughput on one text file: documents of ~4 KB encoded on one thread and on N
// threads, and the whole file as a single document (linearity). Prints one tab-separated line
// per run: tokenizer, run, threads, MB, seconds, MB/s, tokens.
//
//   longctx_bench_tokenizer [--repeats N] TOKENIZER TEXT_FILE [THREADS]       longctx's
//   longctx_bench_tokenizer [--repeats N] --sentencepiece MODEL TEXT_FILE [THREADS]
//
// Every run, ours and each peer's alike (bench/tokenizer_peers.js, tokenizer_peers_tiktoken.py):
// one untimed warm-up pass over the first tenth of the documents, then the best of --repeats
// (3) timed passes.
//
// The second form is the peer: a SentencePiece .model encoded by libsentencepiece's C++ API
// directly (SentencePieceProcessor::Encode, which is thread-safe), documents only; its rows
// are named "<model directory>:sentencepiece".
#include <sentencepiece_processor.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "longctx/base/files.h"
#include "longctx/tokenizer/tokenizer.h"

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

void report(const std::string& tokenizer, const char* run, int threads, size_t bytes,
            double seconds, size_t tokens) {
  std::printf("%s\t%s\t%d\t%.1f\t%.3f\t%.1f\t%zu\n", tokenizer.c_str(), run, threads, bytes / 1e6,
              seconds, bytes / 1e6 / seconds, tokens);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The protocol of every run: `warm_up` once, untimed, then the best (shortest) of `repeats`
// timed calls of `pass`, which returns the tokens it produced.
struct Best {
  double seconds = 0;
  size_t tokens = 0;
};
Best best_of(int repeats, const std::function<void()>& warm_up,
             const std::function<size_t()>& pass) {
  warm_up();
  Best best;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    size_t tokens = pass();
    double seconds = seconds_since(start);
    if (r == 0 || seconds < best.seconds) best = {seconds, tokens};
  }
  return best;
}

// Encodes the documents on one thread, then on `threads` threads taking documents from a
// shared counter. `encode` returns the number of ids of one text.
void bench_documents(const std::string& name, const std::vector<std::string_view>& docs,
                     size_t bytes, int threads, int repeats,
                     const std::function<size_t(std::string_view)>& encode) {
  auto warm_up = [&] {
    for (size_t i = 0; i < docs.size() / 10; ++i) encode(docs[i]);
  };
  Best one = best_of(repeats, warm_up, [&] {
    size_t tokens = 0;
    for (std::string_view doc : docs) tokens += encode(doc);
    return tokens;
  });
  report(name, "documents", 1, bytes, one.seconds, one.tokens);

  Best all = best_of(repeats, warm_up, [&] {
    std::atomic<size_t> next{0}, total{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        size_t mine = 0;
        for (size_t i = next++; i < docs.size(); i = next++) mine += encode(docs[i]);
        total += mine;
      });
    }
    for (auto& t : pool) t.join();
    return total.load();
  });
  report(name, "documents", threads, bytes, all.seconds, all.tokens);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  if (argc > 2 && std::string(argv[1]) == "--repeats") {
    repeats = std::max(1, std::atoi(argv[2]));
    argc -= 2, argv += 2;
  }
  bool sentencepiece = argc > 1 && std::string(argv[1]) == "--sentencepiece";
  if (sentencepiece) --argc, ++argv;
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: longctx_bench_tokenizer [--repeats N] [--sentencepiece] TOKENIZER "
                 "TEXT_FILE [THREADS]\n");
    return 2;
  }
  std::string text = longctx::read_file(argv[2]);
  int threads =
      argc > 3 ? std::stoi(argv[3]) : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::string_view> docs = cut_documents(text);

  if (sentencepiece) {
    sentencepiece::SentencePieceProcessor processor;
    if (auto status = processor.Load(argv[1]); !status.ok()) {
      std::fprintf(stderr, "%s: %s\n", argv[1], status.ToString().c_str());
      return 1;
    }
    std::string name =
        std::filesystem::path(argv[1]).parent_path().filename().string() + ":sentencepiece";
    bench_documents(name, docs, text.size(), threads, repeats, [&](std::string_view doc) {
      std::vector<int> ids;
      processor.Encode(doc, &ids).IgnoreError();
      return ids.size();
    });
    return 0;
  }

  auto tokenizer = longctx::load_tokenizer(argv[1]);
  bench_documents(argv[1], docs, text.size(), threads, repeats,
                  [&](std::string_view doc) { return tokenizer->encode(doc).size(); });
  // The whole file as one document (warmed up like the others).
  Best whole = best_of(
      repeats,
      [&] {
        for (size_t i = 0; i < docs.size() / 10; ++i) tokenizer->encode(docs[i]);
      },
      [&] { return tokenizer->encode(text).size(); });
  report(argv[1], "one-document", 1, text.size(), whole.seconds, whole.tokens);
  return 0;
}
