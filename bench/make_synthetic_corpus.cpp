// Writes a synthetic SlimPajama-style corpus for throughput benchmarks: FILES files of
// JSON-lines records, zstd-compressed, with the seven SlimPajama domains in their original
// token shares and per-domain document lengths drawn around the recipe's medians (C4 315,
// CC 1066, StackExchange 507, Wikipedia 409, Github 520, ArXiv 14565, Book 121602 tokens).
// Text is Zipf-distributed pseudo-words, which compresses about like English prose.
//
//   longctx_make_synthetic_corpus OUT_DIR TOTAL_COMPRESSED_BYTES [FILES] [THREADS]
#include <zstd.h>

#include <fmt/format.h>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "longctx/base/files.h"

namespace {

struct DomainSpec {
  const char* name;
  double share;
  double median_tokens;
};
constexpr DomainSpec kDomains[] = {
    {"RedPajamaCommonCrawl", 0.534, 1066}, {"RedPajamaC4", 0.266, 315},
    {"RedPajamaGithub", 0.050, 520},       {"RedPajamaBook", 0.041, 121602},
    {"RedPajamaArXiv", 0.043, 14565},      {"RedPajamaWikipedia", 0.034, 409},
    {"RedPajamaStackExchange", 0.032, 507}};

std::vector<std::string> make_vocabulary(std::mt19937_64& rng) {
  std::vector<std::string> words;
  std::uniform_int_distribution<int> length(2, 10), letter(0, 25);
  for (int i = 0; i < 30000; ++i) {
    std::string w;
    int n = length(rng);
    for (int j = 0; j < n; ++j) w += static_cast<char>('a' + letter(rng));
    words.push_back(w);
  }
  return words;
}

// Writes one file of records until its compressed size reaches `target_bytes`.
void write_file(const std::filesystem::path& path, uint64_t target_bytes, uint64_t seed,
                const std::vector<std::string>& words) {
  std::mt19937_64 rng(seed);
  // Domain chosen by token share divided by median length (documents, not tokens).
  std::vector<double> doc_weights;
  for (const DomainSpec& d : kDomains) doc_weights.push_back(d.share / d.median_tokens);
  std::discrete_distribution<int> domain(doc_weights.begin(), doc_weights.end());
  std::lognormal_distribution<double> spread(0.0, 1.0);
  // Zipf over the vocabulary: inverse-CDF table.
  std::vector<double> cdf(words.size());
  double sum = 0;
  for (size_t i = 0; i < words.size(); ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
  std::uniform_real_distribution<double> unit(0.0, sum);

  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  longctx::AtomicFile out(path);
  std::vector<char> buffer(ZSTD_CStreamOutSize());
  uint64_t written = 0;
  auto emit = [&](std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    bool done = false;
    while (!done) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      size_t remaining = ZSTD_compressStream2(cctx, &o, &in, mode);
      out.stream().write(buffer.data(), static_cast<std::streamsize>(o.pos));
      written += o.pos;
      done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
    }
  };
  std::string text;
  while (written < target_bytes) {
    const DomainSpec& d = kDomains[domain(rng)];
    auto chars = static_cast<size_t>(d.median_tokens * spread(rng) * 3.68);
    text.clear();
    while (text.size() < chars) {
      size_t w =
          static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) - cdf.begin());
      text += words[std::min(w, words.size() - 1)];
      text += (rng() % 12 == 0) ? ". " : " ";
    }
    nlohmann::json record{{"text", text}, {"meta", {{"redpajama_set_name", d.name}}}};
    emit(record.dump() + "\n", ZSTD_e_continue);
  }
  emit({}, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  out.commit();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR TOTAL_COMPRESSED_BYTES [FILES] [THREADS]\n", argv[0]);
    return 2;
  }
  std::filesystem::path out_dir = argv[1];
  uint64_t total = std::stoull(argv[2]);
  int files = argc > 3 ? std::stoi(argv[3]) : 32;
  int threads =
      argc > 4 ? std::stoi(argv[4]) : static_cast<int>(std::thread::hardware_concurrency());
  std::filesystem::create_directories(out_dir / "chunk1");
  std::mt19937_64 rng(20240215);
  std::vector<std::string> words = make_vocabulary(rng);
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < files; i = next++) {
        write_file(out_dir / "chunk1" / fmt::format("example_train_{}.jsonl.zst", i),
                   total / static_cast<uint64_t>(files), 1000 + static_cast<uint64_t>(i), words);
      }
    });
  }
  for (auto& t : pool) t.join();
  return 0;
}
