// Corpus files: turns the user's inputs (files, directories, globs) into the sorted list of
// files a run reads. The order is fixed (sorted paths), so every result that depends on
// document order is reproducible whatever the thread count.
//
//   CorpusFileList list = find_corpus_files({"data/", "extra/*.jsonl.gz"});
//   for (const CorpusFile& f : list.files) ...   // sorted, deduplicated
//
// Recognised names: *.jsonl (one JSON record per line), optionally compressed (.zst/.zstd or
// .gz); *.json.gz and *.json.zst (records per line, as C4 ships them); and *.txt (+ .zst/.gz),
// which hold one document each. A plain *.json is not read: it is usually not records.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace longctx {

enum class FileFormat { kJsonLines, kText };

struct CorpusFile {
  std::filesystem::path path;
  FileFormat format = FileFormat::kJsonLines;
  uint64_t size_bytes = 0;    // on disk (compressed size for compressed files)
  std::string folder_domain;  // the parent folder's name: the domain of a .txt document
};

struct CorpusFileList {
  std::vector<CorpusFile> files;
  uint64_t total_bytes = 0;
  // Files found while walking directories whose names are not recognised (not an error).
  std::vector<std::filesystem::path> skipped;
};

// The format of a file name, or nullopt when the name is not a recognised corpus file.
std::optional<FileFormat> format_of(const std::filesystem::path& path);

// Expands inputs. Throws Error naming the input when one does not exist, a glob matches no
// file, a named file has an unrecognised extension, or the result is empty.
CorpusFileList find_corpus_files(const std::vector<std::string>& inputs);

}  // namespace longctx
