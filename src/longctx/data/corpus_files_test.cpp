#include "longctx/data/corpus_files.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<std::string> paths_of(const CorpusFileList& list, const fs::path& root) {
  std::vector<std::string> out;
  for (const CorpusFile& f : list.files) out.push_back(f.path.lexically_relative(root).string());
  return out;
}

std::vector<std::string> skipped_of(const CorpusFileList& list, const fs::path& root) {
  std::vector<std::string> out;
  for (const fs::path& p : list.skipped) out.push_back(p.lexically_relative(root).string());
  return out;
}

// Runs find_corpus_files and returns the Error's message ("" when it did not throw).
std::string error_of(const std::vector<std::string>& inputs) {
  try {
    find_corpus_files(inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(FormatOf, RecognisedNames) {
  for (const char* name :
       {"a.jsonl", "a.jsonl.zst", "a.jsonl.zstd", "a.jsonl.gz", "c4-train.00000-of-01024.json.gz",
        "a.json.zst", "a.json.zstd", "dir.txt/example_train_0.jsonl.zst"}) {
    ASSERT_TRUE(format_of(name).has_value()) << name;
    EXPECT_EQ(*format_of(name), FileFormat::kJsonLines) << name;
  }
  for (const char* name : {"book.txt", "book.txt.gz", "book.txt.zst", "book.txt.zstd"}) {
    ASSERT_TRUE(format_of(name).has_value()) << name;
    EXPECT_EQ(*format_of(name), FileFormat::kText) << name;
  }
}

TEST(FormatOf, UnrecognisedNames) {
  for (const char* name : {"a.json", "README.md", "a.jsonl.bz2", "a.tar.gz", "a.gz", "a.zst",
                           "jsonl", "a.jsonl.txt.md", "a.jsonl/README", "a.csv.zst"}) {
    EXPECT_FALSE(format_of(name).has_value()) << name;
  }
}

// root/
//   b.jsonl (10 bytes)         a.jsonl.zst (1)        README.md         z.jsonl.bz2
//   RedPajamaBook/c.txt (100)  RedPajamaBook/notes.json
//   RedPajamaBook/deeper/d.json.gz (1000)
class CorpusTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "root";
    testing::write_file(root_ / "b.jsonl", std::string(10, 'b'));
    testing::write_file(root_ / "a.jsonl.zst", "a");
    testing::write_file(root_ / "README.md", "readme");
    testing::write_file(root_ / "z.jsonl.bz2", "z");
    testing::write_file(root_ / "RedPajamaBook" / "c.txt", std::string(100, 'c'));
    testing::write_file(root_ / "RedPajamaBook" / "notes.json", "{}");
    testing::write_file(root_ / "RedPajamaBook" / "deeper" / "d.json.gz", std::string(1000, 'd'));
  }
  std::string at(const std::string& relative) const { return (root_ / relative).string(); }

  TempDir dir_;
  fs::path root_;
};

TEST_F(CorpusTree, DirectoryWalkIsRecursiveSortedAndListsSkippedFiles) {
  CorpusFileList list = find_corpus_files({root_.string()});
  EXPECT_EQ(paths_of(list, root_),
            (std::vector<std::string>{"RedPajamaBook/c.txt", "RedPajamaBook/deeper/d.json.gz",
                                      "a.jsonl.zst", "b.jsonl"}));
  EXPECT_EQ(skipped_of(list, root_),
            (std::vector<std::string>{"README.md", "RedPajamaBook/notes.json", "z.jsonl.bz2"}));
  ASSERT_EQ(list.files.size(), 4u);
  EXPECT_EQ(list.files[0].format, FileFormat::kText);
  EXPECT_EQ(list.files[1].format, FileFormat::kJsonLines);
  EXPECT_EQ(list.files[2].format, FileFormat::kJsonLines);
  EXPECT_EQ(list.files[3].format, FileFormat::kJsonLines);
}

TEST_F(CorpusTree, SizesAndTotalBytes) {
  CorpusFileList list = find_corpus_files({root_.string()});
  ASSERT_EQ(list.files.size(), 4u);
  EXPECT_EQ(list.files[0].size_bytes, 100u);
  EXPECT_EQ(list.files[1].size_bytes, 1000u);
  EXPECT_EQ(list.files[2].size_bytes, 1u);
  EXPECT_EQ(list.files[3].size_bytes, 10u);
  EXPECT_EQ(list.total_bytes, 1111u);
}

TEST_F(CorpusTree, FolderDomainIsTheParentFolderName) {
  CorpusFileList list = find_corpus_files({root_.string()});
  ASSERT_EQ(list.files.size(), 4u);
  EXPECT_EQ(list.files[0].folder_domain, "RedPajamaBook");
  EXPECT_EQ(list.files[1].folder_domain, "deeper");
  EXPECT_EQ(list.files[2].folder_domain, "root");
  EXPECT_EQ(list.files[3].folder_domain, "root");
}

TEST_F(CorpusTree, DirectoryGivenWithTrailingSlashOrDotsIsTheSame) {
  CorpusFileList plain = find_corpus_files({root_.string()});
  for (const std::string& spelling :
       {root_.string() + "/", root_.string() + "/.", at("RedPajamaBook/..")}) {
    CorpusFileList list = find_corpus_files({spelling});
    EXPECT_EQ(paths_of(list, root_), paths_of(plain, root_)) << spelling;
    EXPECT_EQ(list.total_bytes, 1111u) << spelling;
  }
}

TEST_F(CorpusTree, InputsNamingTheSameFileTwiceAreDeduplicated) {
  CorpusFileList list =
      find_corpus_files({root_.string(), at("b.jsonl"), at("./b.jsonl"),
                         at("RedPajamaBook/../b.jsonl"), at("RedPajamaBook"), at("*.jsonl")});
  EXPECT_EQ(paths_of(list, root_),
            (std::vector<std::string>{"RedPajamaBook/c.txt", "RedPajamaBook/deeper/d.json.gz",
                                      "a.jsonl.zst", "b.jsonl"}));
  EXPECT_EQ(list.total_bytes, 1111u);
}

TEST_F(CorpusTree, RelativeAndAbsoluteSpellingsOfOneFileAreDeduplicated) {
  fs::path relative = fs::relative(root_ / "b.jsonl", fs::current_path());
  ASSERT_TRUE(relative.is_relative()) << relative;
  CorpusFileList list = find_corpus_files({at("b.jsonl"), relative.string()});
  ASSERT_EQ(list.files.size(), 1u);
  EXPECT_EQ(list.total_bytes, 10u);
}

TEST_F(CorpusTree, NamedFilesAreTakenWhateverTheirFolder) {
  CorpusFileList list = find_corpus_files({at("b.jsonl"), at("RedPajamaBook/c.txt")});
  EXPECT_EQ(paths_of(list, root_), (std::vector<std::string>{"RedPajamaBook/c.txt", "b.jsonl"}));
  EXPECT_TRUE(list.skipped.empty());
  EXPECT_EQ(list.total_bytes, 110u);
}

TEST_F(CorpusTree, PlainJsonNamedExplicitlyIsRejected) {
  std::string message = error_of({at("RedPajamaBook/notes.json")});
  EXPECT_TRUE(contains(message, at("RedPajamaBook/notes.json") + ": unrecognised file type"))
      << message;
  try {
    find_corpus_files({at("README.md")});
    FAIL() << "accepted README.md";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.hint(), ".jsonl")) << e.hint();
  }
}

TEST_F(CorpusTree, GlobPatterns) {
  CorpusFileList jsonl = find_corpus_files({at("[ab].jsonl*")});
  EXPECT_EQ(paths_of(jsonl, root_), (std::vector<std::string>{"a.jsonl.zst", "b.jsonl"}));

  CorpusFileList nested = find_corpus_files({at("*/deeper/*.gz")});
  EXPECT_EQ(paths_of(nested, root_), (std::vector<std::string>{"RedPajamaBook/deeper/d.json.gz"}));

  CorpusFileList braces = find_corpus_files({at("{b.jsonl,RedPajamaBook/c.txt}")});
  EXPECT_EQ(paths_of(braces, root_), (std::vector<std::string>{"RedPajamaBook/c.txt", "b.jsonl"}));

  CorpusFileList one_char = find_corpus_files({at("?.jsonl")});
  EXPECT_EQ(paths_of(one_char, root_), (std::vector<std::string>{"b.jsonl"}));

  // A glob that matches a directory walks it.
  CorpusFileList folder = find_corpus_files({at("RedPajama*")});
  EXPECT_EQ(paths_of(folder, root_),
            (std::vector<std::string>{"RedPajamaBook/c.txt", "RedPajamaBook/deeper/d.json.gz"}));
  EXPECT_EQ(skipped_of(folder, root_), (std::vector<std::string>{"RedPajamaBook/notes.json"}));
}

TEST_F(CorpusTree, GlobSkipsUnrecognisedMatchesLikeADirectoryWalk) {
  CorpusFileList list = find_corpus_files({at("RedPajamaBook/*")});
  EXPECT_EQ(paths_of(list, root_),
            (std::vector<std::string>{"RedPajamaBook/c.txt", "RedPajamaBook/deeper/d.json.gz"}));
  EXPECT_EQ(skipped_of(list, root_), (std::vector<std::string>{"RedPajamaBook/notes.json"}));
  // Only unrecognised matches: nothing to read is still an error.
  EXPECT_TRUE(contains(error_of({at("RedPajamaBook/*.json")}), "no corpus files found"));
}

TEST_F(CorpusTree, GlobThatMatchesNothingThrowsNamingThePattern) {
  std::string pattern = at("*.parquet");
  std::string message = error_of({at("b.jsonl"), pattern});
  EXPECT_TRUE(contains(message, "no file matches the pattern '" + pattern + "'")) << message;
}

TEST_F(CorpusTree, ExistingNameWithGlobCharactersIsTakenLiterally) {
  testing::write_file(root_ / "odd" / "part[1].jsonl", "x");
  testing::write_file(root_ / "odd" / "part1.jsonl", "yy");
  CorpusFileList list = find_corpus_files({at("odd/part[1].jsonl")});
  EXPECT_EQ(paths_of(list, root_), (std::vector<std::string>{"odd/part[1].jsonl"}));
  EXPECT_EQ(list.total_bytes, 1u);
}

TEST_F(CorpusTree, MissingPathThrowsNamingIt) {
  std::string missing = at("no-such-dir");
  std::string message = error_of({root_.string(), missing});
  EXPECT_TRUE(contains(message, missing + ": no such file or directory")) << message;
}

TEST_F(CorpusTree, DirectoryWithoutCorpusFilesThrows) {
  testing::write_file(root_ / "docs" / "notes.md", "x");
  std::string message = error_of({at("docs")});
  EXPECT_TRUE(contains(message, "no corpus files found in " + at("docs"))) << message;
}

TEST(FindCorpusFiles, NoInputThrows) {
  EXPECT_TRUE(contains(error_of({}), "no input given"));
}

TEST(FindCorpusFiles, EmptyDirectoryThrows) {
  TempDir dir;
  std::string message = error_of({dir.path().string()});
  EXPECT_TRUE(contains(message, "no corpus files found in " + dir.path().string())) << message;
}

}  // namespace
}  // namespace longctx
