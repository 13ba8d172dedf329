// The corpus reader on stream faults and errors: a truncated or corrupt zstd or gzip stream
// keeps the lines before the fault and counts it at its file and line; an exception from the
// visitor, a bad record in strict mode, and a missing or unreadable file end read_all with an
// error that names where, without hanging. The fixtures (tests/support/reader_fixtures.h) tag
// every document with where it lives. Whole corpora and the reader's options:
// corpus_reader_test.cpp.
#include "longctx/data/corpus_reader.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "longctx/base/error.h"
#include "support/fixtures.h"
#include "support/reader_fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Files that decode to at most a few lines: a stream fault, and the lines before it.
class ReaderFaults : public ::testing::Test {
 protected:
  // n lines of `bytes` each (before JSON encoding) of fixture file `id`, domain "D<id>".
  static testing::JsonlFile lines(int id, int n, size_t bytes) {
    testing::JsonlFile file;
    file.id = id;
    for (int l = 1; l <= n; ++l) {
      file.add_record(testing::document_text(id, static_cast<uint64_t>(l), bytes),
                      fmt::format("D{}", id));
    }
    return file;
  }

  // Reads `files` (names "fNN...") and returns the visits by (id, line) and the issues.
  struct Result {
    std::map<testing::Key, std::string> texts;
    InputIssues issues{100};
    std::map<int, uint32_t> index;
  };
  Result read(int threads, size_t block_bytes) {
    CorpusFileList list = find_corpus_files({dir_.path().string()});
    Result result;
    result.index = testing::index_by_id(list);
    CorpusReader reader(
        list.files, RecordSchema{},
        {.threads = threads, .block_bytes = block_bytes, .keep_issue_locations = 100});
    testing::Recorder recorder(reader.thread_count());
    result.issues = testing::with_deadline([&] { return reader.read_all(recorder.visitor()); });
    for (const testing::Visit& v : recorder.sorted()) {
      int id = std::stoi(list.files[v.file_index].path.filename().string().substr(1, 2));
      EXPECT_TRUE(result.texts.emplace(testing::Key{id, v.line}, v.text).second) << "visited twice";
    }
    return result;
  }

  // Expects lines [1, good_lines] of `file` visited with their texts and none after.
  static void expect_lines(const Result& r, const testing::JsonlFile& file, uint64_t good_lines) {
    for (const auto& [line, doc] : file.documents) {
      auto it = r.texts.find({file.id, line});
      if (line <= good_lines) {
        EXPECT_TRUE(it != r.texts.end() && it->second == doc.text) << file.id << ":" << line;
      } else {
        EXPECT_TRUE(it == r.texts.end()) << file.id << ":" << line << " visited after the fault";
      }
    }
  }

  // Lines of `data` that end (with their newline) within its first `prefix` bytes.
  static uint64_t complete_lines(const std::string& data, size_t prefix) {
    return static_cast<uint64_t>(
        std::count(data.begin(), data.begin() + static_cast<long>(prefix), '\n'));
  }

  TempDir dir_;
};

TEST_F(ReaderFaults, TruncatedZstdKeepsTheLinesBeforeTheFault) {
  // One frame per line; the file ends in the middle of line 41's frame.
  testing::JsonlFile file = lines(0, 60, 1500);
  std::string stream;
  for (const auto& [line, doc] : file.documents) {
    std::string frame = testing::zstd_compress(testing::jsonl_record(doc.text, doc.domain));
    if (line == 41) {
      stream += frame.substr(0, frame.size() / 2);
      break;
    }
    stream += frame;
  }
  testing::write_file(dir_.path() / "f00.jsonl.zst", stream);
  testing::JsonlFile other = lines(1, 30, 3000);
  testing::write_file(dir_.path() / "f01.jsonl", other.data);
  for (int threads : {1, 3}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, 40);
      expect_lines(r, other, 30);
      EXPECT_EQ(r.issues.total(), 1u);
      EXPECT_EQ(testing::issue_rows(r.issues),
                (std::vector<testing::IssueRow>{{r.index.at(0), 41, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedZstdFramesAcrossLines) {
  // Frames of 4096 bytes cut lines anywhere; the file stops inside frame 7. The lines that end
  // within frames 0..6 are read; the line holding byte 7 * 4096 is where the fault is.
  testing::JsonlFile file = lines(0, 80, 700);
  std::vector<std::string> frames;
  for (size_t at = 0; at < file.data.size(); at += 4096) {
    frames.push_back(testing::zstd_compress(std::string_view(file.data).substr(at, 4096)));
  }
  ASSERT_GT(frames.size(), 8u);
  std::string stream;
  for (size_t k = 0; k < 7; ++k) stream += frames[k];
  stream += frames[7].substr(0, frames[7].size() - 1);
  testing::write_file(dir_.path() / "f00.jsonl.zst", stream);
  uint64_t good = complete_lines(file.data, 7 * 4096);
  for (int threads : {1, 2}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, good);
      EXPECT_EQ(
          testing::issue_rows(r.issues),
          (std::vector<testing::IssueRow>{{r.index.at(0), good + 1, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, CorruptGzipMemberKeepsTheLinesBeforeIt) {
  // One member per line; line 20's member header is corrupt.
  testing::JsonlFile file = lines(0, 30, 2500);
  std::string stream;
  for (const auto& [line, doc] : file.documents) {
    std::string member = testing::gzip_compress(testing::jsonl_record(doc.text, doc.domain));
    if (line == 20) member[0] = 'X';
    stream += member;
  }
  testing::write_file(dir_.path() / "f00.jsonl.gz", stream);
  for (int threads : {1, 3}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, 19);
      EXPECT_EQ(testing::issue_rows(r.issues),
                (std::vector<testing::IssueRow>{{r.index.at(0), 20, IssueKind::kCorruptStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedGzipInAMemberTrailer) {
  // Members of 3000 bytes; the file ends inside member 5's trailer, after all its data.
  testing::JsonlFile file = lines(0, 40, 600);
  std::string stream;
  for (size_t k = 0; k <= 5; ++k) {
    std::string member = testing::gzip_compress(std::string_view(file.data).substr(k * 3000, 3000));
    stream += k < 5 ? member : member.substr(0, member.size() - 4);
  }
  testing::write_file(dir_.path() / "f00.json.gz", stream);
  uint64_t good = complete_lines(file.data, 6 * 3000);
  for (int threads : {1, 2}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      Result r = read(threads, block);
      expect_lines(r, file, good);
      EXPECT_EQ(
          testing::issue_rows(r.issues),
          (std::vector<testing::IssueRow>{{r.index.at(0), good + 1, IssueKind::kTruncatedStream}}));
    }
  }
}

TEST_F(ReaderFaults, TruncatedTxtDocumentIsDroppedAtLineOne) {
  std::string text = testing::document_text(0, 1, 50'000);
  std::string stream = testing::zstd_compress(text, 10'000);
  testing::write_file(dir_.path() / "Books" / "f00.txt.zst", stream.substr(0, stream.size() - 3));
  std::string fine = testing::document_text(1, 1, 100);
  testing::write_file(dir_.path() / "Books" / "f01.txt", fine);
  Result r = read(2, testing::kSmallBlock);
  EXPECT_EQ(r.texts.size(), 1u);
  EXPECT_EQ(r.texts[testing::Key(1, 1)], fine);
  EXPECT_EQ(testing::issue_rows(r.issues),
            (std::vector<testing::IssueRow>{{r.index.at(0), 1, IssueKind::kTruncatedStream}}));
}

// Many files, so that several workers are busy when the visitor throws.
class ReaderErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int id = 0; id < 24; ++id) {
      std::string data;
      for (int l = 1; l <= 200; ++l) {
        data +=
            testing::jsonl_record(testing::document_text(id, static_cast<uint64_t>(l), 300), "D");
      }
      std::string name = fmt::format("f{:02}.jsonl{}", id,
                                     id % 3 == 0   ? ""
                                     : id % 3 == 1 ? ".zst"
                                                   : ".gz");
      std::string stored = id % 3 == 0   ? data
                           : id % 3 == 1 ? testing::zstd_compress(data, 8192)
                                         : testing::gzip_compress(data, 8192);
      testing::write_file(dir_.path() / name, stored);
    }
    list_ = find_corpus_files({dir_.path().string()});
  }

  TempDir dir_;
  CorpusFileList list_;
};

TEST_F(ReaderErrors, VisitorExceptionPropagatesAndDoesNotHang) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t block : {testing::kSmallBlock, size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " block " << block);
      CorpusReader reader(list_.files, RecordSchema{}, {.threads = threads, .block_bytes = block});
      auto visit = [](const Document& doc, int) {
        if (doc.text.starts_with("<13:77>")) throw std::runtime_error("visitor failed at 13:77");
      };
      std::string caught = testing::with_deadline([&]() -> std::string {
        try {
          reader.read_all(visit);
        } catch (const std::runtime_error& e) {
          return e.what();
        }
        return "";
      });
      EXPECT_EQ(caught, "visitor failed at 13:77");
    }
  }
}

TEST_F(ReaderErrors, VisitorThatAlwaysThrowsStopsEveryWorker) {
  for (int threads : {1, 8}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = testing::kSmallBlock});
    auto visit = [](const Document&, int) { throw Error("stop now"); };
    std::string caught = testing::with_deadline([&]() -> std::string {
      try {
        reader.read_all(visit);
      } catch (const Error& e) {
        return e.what();
      }
      return "";
    });
    EXPECT_EQ(caught, "stop now");
  }
}

TEST_F(ReaderErrors, StrictModeThrowsNamingFileAndLine) {
  // f04.jsonl.zst gets one bad record on line 7.
  fs::path bad = dir_.path() / "f04.jsonl.zst";
  std::string data;
  for (int l = 1; l <= 200; ++l) {
    data += l == 7 ? std::string("{bad json\n")
                   : testing::jsonl_record(testing::document_text(4, static_cast<uint64_t>(l), 300),
                                           "D");
  }
  testing::write_file(bad, testing::zstd_compress(data, 8192));
  for (int threads : {1, 4}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = testing::kSmallBlock, .strict = true});
    try {
      testing::with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "strict mode accepted a bad record";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_TRUE(message.starts_with("bad input: " + bad.string() + ":7: invalid JSON"))
          << message;
      EXPECT_FALSE(e.hint().empty());
    }
  }
  // Without --strict the same corpus is read and the record counted.
  CorpusReader lenient(list_.files, RecordSchema{},
                       {.threads = 2, .block_bytes = testing::kSmallBlock});
  std::atomic<int> visits{0};
  InputIssues issues = lenient.read_all([&](const Document&, int) { ++visits; });
  EXPECT_EQ(visits.load(), 24 * 200 - 1);
  EXPECT_EQ(issues.count(IssueKind::kInvalidJson), 1u);
  EXPECT_EQ(issues.total(), 1u);
}

TEST_F(ReaderErrors, StrictModeNamesTheRecordEvenWhenNoLocationsAreKept) {
  fs::path bad = dir_.path() / "f03.jsonl";
  testing::write_file(bad, testing::jsonl_record("<3:1> fine", "D") + "[1, 2]\n");
  for (int threads : {1, 3}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .keep_issue_locations = 0, .strict = true});
    try {
      testing::with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "strict mode accepted a bad record";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_TRUE(message.starts_with("bad input: " + bad.string() + ":2: invalid JSON"))
          << message;
    }
  }
}

TEST_F(ReaderErrors, StrictModeNamesAStreamFault) {
  fs::path bad = dir_.path() / "f02.jsonl.gz";
  std::string data;
  for (int l = 1; l <= 50; ++l)
    data += testing::gzip_compress(testing::jsonl_record("<2> ok", "D"));
  testing::write_file(bad, data.substr(0, data.size() - 9));  // line 50's member is cut
  CorpusReader reader(list_.files, RecordSchema{}, {.threads = 3, .strict = true});
  try {
    testing::with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
    ADD_FAILURE() << "strict mode accepted a truncated stream";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_TRUE(
        message.starts_with("bad input: " + bad.string() + ":50: truncated compressed stream"))
        << message;
  }
}

TEST_F(ReaderErrors, MissingFileThrowsNamingIt) {
  fs::path gone = list_.files[10].path;
  fs::remove(gone);
  for (int threads : {1, 3}) {
    CorpusReader reader(list_.files, RecordSchema{},
                        {.threads = threads, .block_bytes = testing::kSmallBlock});
    try {
      testing::with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "read a missing file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(gone.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(ReaderErrors, UnreadableFileThrowsNamingIt) {
  // A directory under a corpus file's name opens but cannot be read.
  std::vector<CorpusFile> files = list_.files;
  fs::path unreadable = dir_.path() / "sub" / "f99.jsonl";
  fs::create_directories(unreadable);
  files.insert(files.begin() + 5, CorpusFile{.path = unreadable});
  for (int threads : {1, 3}) {
    CorpusReader reader(files, RecordSchema{},
                        {.threads = threads, .block_bytes = testing::kSmallBlock});
    try {
      testing::with_deadline([&] { return reader.read_all([](const Document&, int) {}); });
      ADD_FAILURE() << "read a directory as a file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(unreadable.string()), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace longctx
