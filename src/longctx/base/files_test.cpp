#include "longctx/base/files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Names of the entries of a directory, sorted.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(AtomicFile, FinalNameAppearsOnlyOnCommit) {
  TempDir dir;
  fs::path target = dir.path() / "stats.json";
  {
    AtomicFile out(target);
    EXPECT_EQ(out.temp_path().parent_path(), dir.path());
    EXPECT_TRUE(out.temp_path().filename().string().starts_with("stats.json.tmp-"))
        << out.temp_path();
    out.stream() << "0123456789";
    out.stream().flush();
    EXPECT_FALSE(fs::exists(target));
    EXPECT_TRUE(fs::exists(out.temp_path()));
    out.commit();
    EXPECT_TRUE(fs::exists(target));
    EXPECT_FALSE(fs::exists(out.temp_path()));
  }
  EXPECT_EQ(read_file(target), "0123456789");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"stats.json"});
}

TEST(AtomicFile, NoTemporaryLeftWithoutCommit) {
  TempDir dir;
  fs::path target = dir.path() / "out.txt";
  fs::path temp;
  {
    AtomicFile out(target);
    temp = out.temp_path();
    out.stream() << "half written";
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(AtomicFile, UncommittedWriteLeavesTheOldFileIntact) {
  TempDir dir;
  fs::path target = dir.path() / "out.txt";
  testing::write_file(target, "old");
  {
    AtomicFile out(target);
    out.stream() << "new contents";
  }
  EXPECT_EQ(read_file(target), "old");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.txt"});
}

TEST(AtomicFile, MissingDirectoryThrowsNamingThePath) {
  TempDir dir;
  fs::path target = dir.path() / "no-such-dir" / "out.txt";
  try {
    AtomicFile out(target);
    FAIL() << "created a file in a missing directory";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), (dir.path() / "no-such-dir" / "out.txt").string())) << e.what();
  }
}

TEST(AtomicFile, FailedRenameThrowsAndRemovesTheTemporary) {
  TempDir dir;
  // The final name is a non-empty directory, so the rename cannot replace it.
  fs::path target = dir.path() / "taken";
  testing::write_file(target / "inside.txt", "x");
  {
    AtomicFile out(target);
    out.stream() << "data";
    try {
      out.commit();
      FAIL() << "renamed over a non-empty directory";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), target.string())) << e.what();
    }
  }
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"taken"});
  EXPECT_EQ(entries(target), std::vector<std::string>{"inside.txt"});
}

TEST(WriteFileAtomic, CreatesAndReplacesContent) {
  TempDir dir;
  fs::path target = dir.path() / "f.bin";
  std::string long_text(1000, 'a');
  write_file_atomic(target, long_text);
  EXPECT_EQ(read_file(target), long_text);
  write_file_atomic(target, "short");  // shorter: no tail of the old content survives
  EXPECT_EQ(read_file(target), "short");
  write_file_atomic(target, "");
  EXPECT_EQ(read_file(target), "");
  EXPECT_EQ(fs::file_size(target), 0u);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"f.bin"});
}

TEST(WriteFileAtomic, KeepsEveryByteValue) {
  TempDir dir;
  fs::path target = dir.path() / "bytes.bin";
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));  // byte[i] = i
  write_file_atomic(target, bytes);
  EXPECT_EQ(read_file(target), bytes);
}

TEST(ReadFile, MissingFileThrowsNamingThePath) {
  TempDir dir;
  fs::path missing = dir.path() / "missing.jsonl";
  try {
    read_file(missing);
    FAIL() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), missing.string())) << e.what();
    EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
  }
}

TEST(ReadFile, DirectoryThrowsErrorNamingThePath) {
  TempDir dir;
  try {
    read_file(dir.path());
    FAIL() << "read a directory as a file";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), dir.path().string())) << e.what();
  }
}

}  // namespace
}  // namespace longctx
