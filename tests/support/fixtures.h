// Test fixtures: temporary directories that clean up after themselves, JSON-lines records,
// compression with the reference libraries (libzstd, zlib) so that readers are tested on
// streams they did not write themselves, and a tiny SentencePiece BPE model trained with the
// reference trainer.
//
//   TempDir dir;
//   write_file(dir.path() / "a.jsonl.zst", zstd_compress(jsonl_record("hi", "RedPajamaC4")));
//   std::filesystem::path model = train_sentencepiece_bpe(dir.path());
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

// Lines of words of 1-4 syllables drawn with a fixed seed; '<', '/', '>' and a few non-ASCII
// characters appear so that they are in the vocabulary.
std::string sentencepiece_training_text();

// Trains a BPE model of 200 pieces on sentencepiece_training_text() into `dir` (files
// train.txt, tiny.model, tiny.vocab); returns the .model path. Normalization is identity (as
// Llama-2's; the default nmt_nfkc rules are not supported by our reader), other flags are the
// trainer's defaults (remove_extra_whitespaces, add_dummy_prefix on, no byte fallback).
// `extra_flags` (e.g. "--bos_id=-1") come first and so override these: the trainer keeps the
// first value of a flag given twice. Throws std::runtime_error, with the trainer's log,
// when training fails.
std::filesystem::path train_sentencepiece_bpe(const std::filesystem::path& dir,
                                              const std::string& extra_flags = "");

}  // namespace longctx::testing
