// Test fixtures: temporary directories that clean up after themselves, JSON-lines records,
// compression with the reference libraries (libzstd, zlib) so that readers are tested on
// streams they did not write themselves. The tiny SentencePiece model trained with the reference
// trainer is in sentencepiece_fixture.h (its library links libsentencepiece, which no binary
// that links libtorch may).
//
//   TempDir dir;
//   write_file(dir.path() / "a.jsonl.zst", zstd_compress(jsonl_record("hi", "RedPajamaC4")));
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace longctx::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One SlimPajama record followed by '\n': {"text": ..., "meta": {"redpajama_set_name": ...}}.
std::string jsonl_record(std::string_view text, std::string_view domain);

void write_file(const std::filesystem::path& path, std::string_view contents);

// A small two-domain SlimPajama corpus for the end-to-end tests, as JSON lines: `documents`
// records, every third a RedPajamaBook of 300 words, the others RedPajamaC4 of 40, the words
// drawn by std::mt19937(seed) from 16 lighthouse words, a period after every twelfth.
std::string two_domain_corpus(int documents, uint32_t seed = 7);

// Every line of a JSON-lines file, parsed (throws on a malformed line).
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

// zstd with libzstd; frame_bytes > 0 cuts the input into several frames of that size.
std::string zstd_compress(std::string_view data, size_t frame_bytes = 0);
// gzip with zlib; member_bytes > 0 cuts the input into several gzip members.
std::string gzip_compress(std::string_view data, size_t member_bytes = 0);

// Runs a shell command; returns its exit status and fills stdout/stderr text.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command);
#ifdef LONGCTX_BINARY
// The CLI tests (LONGCTX_BINARY names the built binary): runs `longctx ARGS`.
inline CommandResult run_longctx(const std::string& args) {
  return run_command(std::string(LONGCTX_BINARY) + " " + args);
}
#endif

}  // namespace longctx::testing
