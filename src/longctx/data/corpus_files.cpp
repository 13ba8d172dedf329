#include "longctx/data/corpus_files.h"

#include <glob.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <map>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSupportedHint =
    "corpus files are .jsonl, .json.gz or .json.zst (one JSON record per line) or .txt (one "
    "document), .jsonl and .txt optionally compressed as .zst or .gz, e.g. "
    "example_train_0.jsonl.zst";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// GLOB_BRACE is on below, so "{a,b}" is a pattern too.
bool has_glob_chars(const std::string& s) {
  return s.find_first_of("*?[{") != std::string::npos;
}

std::vector<std::string> expand_glob(const std::string& pattern) {
  glob_t result{};
  int rc = ::glob(pattern.c_str(), GLOB_BRACE | GLOB_TILDE, nullptr, &result);
  std::vector<std::string> paths;
  if (rc == 0) {
    for (size_t i = 0; i < result.gl_pathc; ++i) paths.emplace_back(result.gl_pathv[i]);
  }
  ::globfree(&result);
  if (rc == GLOB_NOMATCH || paths.empty()) {
    throw Error(fmt::format("no file matches the pattern '{}'", pattern),
                "check the pattern; quote it so the shell does not expand it first");
  }
  if (rc != 0) throw Error(fmt::format("cannot expand the pattern '{}'", pattern));
  return paths;
}

}  // namespace

std::optional<FileFormat> format_of(const fs::path& path) {
  std::string name = path.filename().string();
  bool compressed = false;
  for (const char* suffix : {".zst", ".zstd", ".gz"}) {
    if (ends_with(name, suffix)) {
      name.resize(name.size() - std::string(suffix).size());
      compressed = true;
      break;
    }
  }
  // A plain .json file is usually one JSON document, not records; compressed .json files
  // (C4's c4-train.*.json.gz) hold one record per line.
  if (ends_with(name, ".jsonl") || (compressed && ends_with(name, ".json"))) {
    return FileFormat::kJsonLines;
  }
  if (ends_with(name, ".txt")) return FileFormat::kText;
  return std::nullopt;
}

CorpusFileList find_corpus_files(const std::vector<std::string>& inputs) {
  if (inputs.empty()) {
    throw Error("no input given", "name corpus files, directories or globs, e.g. data/train/");
  }
  // Keyed by the absolute path, so that one file named twice (relative and absolute) is read
  // once; the value is the path as the user spelled it, normalised.
  std::map<fs::path, fs::path> chosen;
  std::vector<fs::path> skipped;
  auto add_file = [&](const fs::path& path, bool named_explicitly) {
    if (format_of(path)) {
      chosen.emplace(fs::absolute(path).lexically_normal(), path.lexically_normal());
    } else if (named_explicitly) {
      throw Error(fmt::format("{}: unrecognised file type", path.string()), kSupportedHint);
    } else {
      skipped.push_back(path);
    }
  };
  for (const std::string& input : inputs) {
    // A glob's matches are like a directory's files: unrecognised names are skipped, not errors
    // (`data/*` may match a README beside the corpus).
    bool is_glob = has_glob_chars(input) && !fs::exists(input);
    std::vector<std::string> paths = is_glob ? expand_glob(input) : std::vector{input};
    for (const std::string& p : paths) {
      std::error_code ec;
      fs::file_status status = fs::status(p, ec);
      if (ec || !fs::exists(status)) {
        throw Error(fmt::format("{}: no such file or directory", p),
                    "check the path; inputs are files, directories or quoted globs");
      }
      if (fs::is_directory(status)) {
        auto options = fs::directory_options::follow_directory_symlink;
        for (auto it = fs::recursive_directory_iterator(p, options, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
          if (it->is_regular_file()) add_file(it->path(), /*named_explicitly=*/false);
        }
        if (ec) throw Error(fmt::format("cannot list directory {}: {}", p, ec.message()));
      } else {
        add_file(p, /*named_explicitly=*/!is_glob);
      }
    }
  }
  if (chosen.empty()) {
    throw Error(fmt::format("no corpus files found in {}", fmt::join(inputs, ", ")),
                kSupportedHint);
  }
  std::vector<fs::path> paths;
  for (const auto& entry : chosen) paths.push_back(entry.second);
  std::sort(paths.begin(), paths.end());
  CorpusFileList list;
  for (const fs::path& path : paths) {
    CorpusFile file;
    file.path = path;
    file.format = *format_of(path);
    std::error_code ec;
    file.size_bytes = fs::file_size(path, ec);
    if (ec) throw Error(fmt::format("cannot stat {}: {}", path.string(), ec.message()));
    file.folder_domain = fs::absolute(path).parent_path().filename().string();
    list.total_bytes += file.size_bytes;
    list.files.push_back(std::move(file));
  }
  std::sort(skipped.begin(), skipped.end());
  list.skipped = std::move(skipped);
  return list;
}

}  // namespace longctx
