#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "longctx/base/files.h"

namespace longctx::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "longctx-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string jsonl_record(std::string_view text, std::string_view domain) {
  nlohmann::json record;
  record["text"] = std::string(text);
  record["meta"]["redpajama_set_name"] = std::string(domain);
  return record.dump() + "\n";
}

std::string two_domain_corpus(int documents, uint32_t seed) {
  std::mt19937 rng(seed);
  const char* words[] = {"the", "keeper", "lit",  "a",    "lamp",    "at",    "night", "and",
                         "sea", "wind",   "rose", "over", "harbour", "boats", "came",  "home"};
  std::string corpus;
  for (int doc = 0; doc < documents; ++doc) {
    bool book = doc % 3 == 0;
    std::string text;
    for (int w = 0; w < (book ? 300 : 40); ++w)
      text += std::string(words[rng() % 16]) + (w % 12 == 11 ? ". " : " ");
    corpus += jsonl_record(text, book ? "RedPajamaBook" : "RedPajamaC4");
  }
  return corpus;
}

void write_file(const fs::path& path, std::string_view contents) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string zstd_compress(std::string_view data, size_t frame_bytes) {
  if (frame_bytes == 0) frame_bytes = data.size() + 1;
  std::string out;
  for (size_t start = 0; start < data.size() || start == 0; start += frame_bytes) {
    std::string_view piece = data.substr(start, frame_bytes);
    std::string frame(ZSTD_compressBound(piece.size()), '\0');
    size_t n = ZSTD_compress(frame.data(), frame.size(), piece.data(), piece.size(), 3);
    if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
    out.append(frame.data(), n);
    if (data.empty()) break;
  }
  return out;
}

std::string gzip_compress(std::string_view data, size_t member_bytes) {
  if (member_bytes == 0) member_bytes = data.size() + 1;
  std::string out;
  for (size_t start = 0; start < data.size() || start == 0; start += member_bytes) {
    std::string_view piece = data.substr(start, member_bytes);
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("deflateInit2 failed");
    }
    std::string member(deflateBound(&z, piece.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    z.avail_in = static_cast<uInt>(piece.size());
    z.next_out = reinterpret_cast<Bytef*>(member.data());
    z.avail_out = static_cast<uInt>(member.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
    out.append(member.data(), member.size() - z.avail_out);
    deflateEnd(&z);
    if (data.empty()) break;
  }
  return out;
}

CommandResult run_command(const std::string& command) {
  TempDir dir;
  fs::path out_path = dir.path() / "out", err_path = dir.path() / "err";
  std::string full = command + " >" + out_path.string() + " 2>" + err_path.string();
  int status = std::system(full.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace longctx::testing
