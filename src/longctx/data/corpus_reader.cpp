#include "longctx/data/corpus_reader.h"

#include <simdjson.h>

#include <fmt/format.h>
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "longctx/base/error.h"
#include "longctx/base/progress.h"
#include "longctx/data/byte_source.h"

namespace longctx {

namespace {

constexpr size_t kReadBytes = size_t{1} << 20;  // one read() from a source

// A growable byte buffer that does not zero-fill, with kParsePadding spare bytes at the end.
struct Buffer {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  size_t capacity = 0;

  void reserve(size_t wanted) {
    if (wanted <= capacity) return;
    size_t grown = std::max(wanted, capacity + capacity / 2);
    auto fresh = std::make_unique_for_overwrite<char[]>(grown + kParsePadding);
    if (size > 0) std::memcpy(fresh.get(), data.get(), size);
    std::memset(fresh.get() + grown, 0, kParsePadding);
    data = std::move(fresh);
    capacity = grown;
  }
};

// Consecutive whole lines of one file (or a whole .txt document), ready to parse.
struct Block {
  uint32_t file_index = 0;
  uint64_t first_line = 1;
  Buffer bytes;
  std::optional<IssueLocation> stream_issue;  // a fault at the end of this block
};

// One open file: its decoder and the partial line carried into the next block.
struct Stream {
  uint32_t file_index = 0;
  std::unique_ptr<ByteSource> source;
  Buffer carry;
  uint64_t next_line = 1;
  uint64_t reported_bytes = 0;  // file bytes already added to the progress bar
  bool busy = false;
  bool done = false;
};

// Reads the next block of whole lines from a JSON-lines stream (or the whole of a .txt file)
// into `storage`, a recycled buffer: fresh multi-megabyte allocations would cost page faults
// and growth copies on every block.
Block read_block(Stream& stream, const CorpusFile& file, size_t block_bytes, Buffer storage) {
  Block block;
  block.file_index = stream.file_index;
  block.first_line = stream.next_line;
  block.bytes = std::move(storage);
  Buffer& buf = block.bytes;
  buf.size = 0;
  buf.reserve(std::max(block_bytes, stream.carry.size) + kReadBytes);
  if (stream.carry.size > 0)
    std::memcpy(buf.data.get(), stream.carry.data.get(), stream.carry.size);
  buf.size = stream.carry.size;
  stream.carry.size = 0;
  bool whole_file = file.format == FileFormat::kText;
  size_t scanned = 0;              // bytes of buf already searched for a newline
  size_t cut = std::string::npos;  // one past the last newline found
  try {
    while (true) {
      buf.reserve(buf.size + kReadBytes);
      size_t n = stream.source->read(buf.data.get() + buf.size, kReadBytes);
      if (n == 0) {
        stream.done = true;
        break;
      }
      buf.size += n;
      if (whole_file || buf.size < block_bytes) continue;
      // Find the last newline in what we have not searched yet.
      for (size_t i = buf.size; i > scanned; --i) {
        if (buf.data[i - 1] == '\n') {
          cut = i;
          break;
        }
      }
      scanned = buf.size;
      if (cut != std::string::npos) break;
    }
  } catch (const StreamError& error) {
    // Keep the complete lines decoded before the fault; the partial line is lost with the rest.
    stream.done = true;
    size_t keep = 0;
    if (!whole_file) {
      for (size_t i = buf.size; i > 0; --i) {
        if (buf.data[i - 1] == '\n') {
          keep = i;
          break;
        }
      }
    }
    buf.size = keep;
    uint64_t lines = static_cast<uint64_t>(std::count(buf.data.get(), buf.data.get() + keep, '\n'));
    block.stream_issue =
        IssueLocation{stream.file_index, block.first_line + lines, error.kind(), error.what()};
  }
  if (!stream.done && cut != std::string::npos && cut < buf.size) {
    stream.carry.size = 0;
    stream.carry.reserve(buf.size - cut);
    std::memcpy(stream.carry.data.get(), buf.data.get() + cut, buf.size - cut);
    stream.carry.size = buf.size - cut;
    buf.size = cut;
  }
  if (!whole_file) {
    stream.next_line +=
        static_cast<uint64_t>(std::count(buf.data.get(), buf.data.get() + buf.size, '\n'));
  }
  std::memset(buf.data.get() + buf.size, 0, kParsePadding);  // padding is always readable
  return block;
}

// Parses one block and calls the visitor for each usable document.
void parse_block(const Block& block, const CorpusFile& file, const RecordSchema& schema,
                 bool keep_empty, RecordParser& parser, InputIssues& issues,
                 const CorpusReader::Visitor& visit, int worker) {
  const char* data = block.bytes.data.get();
  size_t size = block.bytes.size;
  if (file.format == FileFormat::kText) {
    if (block.stream_issue) {
      issues.add(block.stream_issue->kind, block.file_index, 1, block.stream_issue->detail);
      return;
    }
    std::string_view text(data, size);
    if (!simdjson::validate_utf8(text.data(), text.size())) {
      issues.add(IssueKind::kInvalidUtf8, block.file_index, 1);
      return;
    }
    if (!has_content(text)) {
      issues.add(IssueKind::kEmptyDocument, block.file_index, 1);
      return;
    }
    std::string_view domain =
        schema.alias(schema.default_domain.empty() ? file.folder_domain : schema.default_domain);
    visit(Document{text, domain, block.file_index, 1}, worker);
    return;
  }
  uint64_t line = block.first_line;
  size_t start = 0;
  while (start < size) {
    const char* newline = static_cast<const char*>(std::memchr(data + start, '\n', size - start));
    size_t end = newline ? static_cast<size_t>(newline - data) : size;
    std::string_view text(data + start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (has_content(text)) {  // blank lines separate nothing and are not records
      ParsedRecord record = parser.parse_line(text);
      if (record.issue && !(keep_empty && *record.issue == IssueKind::kEmptyDocument)) {
        issues.add(*record.issue, block.file_index, line, std::move(record.detail));
      } else {
        visit(Document{record.text, record.domain, block.file_index, line}, worker);
      }
    }
    start = end + 1;
    ++line;
  }
  if (block.stream_issue) {
    const IssueLocation& at = *block.stream_issue;
    issues.add(at.kind, at.file_index, at.line, at.detail);
  }
}

}  // namespace

void ReaderOptions::validate() const {
  if (threads < 0)
    throw Error(fmt::format("--threads must be 0 (all cores) or more, got {}", threads));
  if (block_bytes < 4096)
    throw Error(fmt::format("block size must be at least 4096, got {}", block_bytes));
}

CorpusReader::CorpusReader(std::vector<CorpusFile> files, RecordSchema schema,
                           ReaderOptions options)
    : files_(std::move(files)), schema_(std::move(schema)), options_(options) {
  options_.validate();
  schema_.validate();
  threads_ = options_.threads > 0
                 ? options_.threads
                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

InputIssues CorpusReader::read_all(const Visitor& visit, Progress* progress) {
  // Shared scheduling state, guarded by `mutex`. Workers prefer parsing queued blocks; only
  // when none is queued do they advance an idle stream, opening the next file when fewer than
  // `threads_` streams are open. Each worker reads at most one block at a time, so at most
  // `threads_` blocks are queued and memory stays near 2 x threads x block_bytes.
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Block> queue;
  std::vector<Buffer> spare;  // block buffers to reuse
  std::vector<std::unique_ptr<Stream>> streams;
  size_t next_file = 0;
  bool stop = false;
  std::exception_ptr failure;
  // Strict mode names the first bad record, so it keeps at least one location.
  size_t keep = options_.strict ? std::max<size_t>(options_.keep_issue_locations, 1)
                                : options_.keep_issue_locations;
  std::vector<InputIssues> issues(static_cast<size_t>(threads_), InputIssues(keep));

  auto worker_main = [&](int worker) {
    RecordParser parser(schema_);
    InputIssues& my_issues = issues[static_cast<size_t>(worker)];
    std::unique_lock lock(mutex);
    while (!stop) {
      if (!queue.empty()) {
        Block block = std::move(queue.front());
        queue.pop_front();
        changed.notify_all();
        lock.unlock();
        try {
          parse_block(block, files_[block.file_index], schema_, options_.keep_empty_documents,
                      parser, my_issues, visit, worker);
        } catch (...) {
          lock.lock();
          if (!failure) failure = std::current_exception();
          stop = true;
          changed.notify_all();
          break;
        }
        lock.lock();
        if (spare.size() < 2 * static_cast<size_t>(threads_))
          spare.push_back(std::move(block.bytes));
        if (options_.strict && my_issues.total() > 0) {
          stop = true;
          changed.notify_all();
        }
        continue;
      }
      Stream* stream = nullptr;
      for (auto& s : streams) {
        if (!s->busy) {
          stream = s.get();
          break;
        }
      }
      if (stream == nullptr && next_file < files_.size() &&
          streams.size() < static_cast<size_t>(threads_)) {
        auto fresh = std::make_unique<Stream>();
        fresh->file_index = static_cast<uint32_t>(next_file++);
        stream = fresh.get();
        streams.push_back(std::move(fresh));
      }
      if (stream == nullptr) {
        // The queue is empty here, so when no stream is open and no file is left, we are done.
        if (streams.empty() && next_file >= files_.size()) break;
        changed.wait(lock);  // every open stream is being read by another worker
        continue;
      }
      stream->busy = true;
      Buffer storage;
      if (!spare.empty()) {
        storage = std::move(spare.back());
        spare.pop_back();
      }
      lock.unlock();
      std::optional<Block> block;
      try {
        const CorpusFile& file = files_[stream->file_index];
        if (!stream->source) stream->source = open_byte_source(file.path);
        block = read_block(*stream, file, options_.block_bytes, std::move(storage));
        if (progress != nullptr) {
          uint64_t read = stream->source->file_bytes_read();
          progress->add(read - stream->reported_bytes);
          stream->reported_bytes = read;
        }
      } catch (...) {
        lock.lock();
        if (!failure) failure = std::current_exception();
        stop = true;
        changed.notify_all();
        break;
      }
      lock.lock();
      stream->busy = false;
      if (block->bytes.size > 0 || block->stream_issue ||
          files_[block->file_index].format == FileFormat::kText) {
        queue.push_back(std::move(*block));
      }
      if (stream->done) {
        if (progress != nullptr) {
          // Count the whole file as done even if the decoder stopped before its last byte.
          progress->add(files_[stream->file_index].size_bytes -
                        std::min(files_[stream->file_index].size_bytes, stream->reported_bytes));
        }
        std::erase_if(streams, [stream](const auto& s) { return s.get() == stream; });
      }
      changed.notify_all();
    }
    changed.notify_all();
  };

  std::vector<std::thread> workers;
  for (int w = 1; w < threads_; ++w) workers.emplace_back(worker_main, w);
  worker_main(0);
  for (std::thread& t : workers) t.join();
  if (failure) std::rethrow_exception(failure);

  InputIssues merged(keep);
  for (const InputIssues& part : issues) merged.merge(part);
  if (options_.strict && merged.total() > 0) {
    const IssueLocation& first = merged.first_locations().front();
    throw Error(fmt::format("bad input: {}", describe(first, files_)),
                "remove --strict to count bad records and go on");
  }
  return merged;
}

InputIssues CorpusReader::read_file_in_order(uint32_t file_index, const Visitor& visit,
                                             Progress* progress) {
  if (file_index >= files_.size())
    throw Error(fmt::format("file index {} out of range ({} files)", file_index, files_.size()));
  size_t keep = options_.strict ? std::max<size_t>(options_.keep_issue_locations, 1)
                                : options_.keep_issue_locations;
  InputIssues issues(keep);
  RecordParser parser(schema_);
  const CorpusFile& file = files_[file_index];
  Stream stream;
  stream.file_index = file_index;
  stream.source = open_byte_source(file.path);
  Buffer storage;
  while (!stream.done) {
    Block block = read_block(stream, file, options_.block_bytes, std::move(storage));
    if (progress != nullptr) {
      uint64_t read = stream.source->file_bytes_read();
      progress->add(read - stream.reported_bytes);
      stream.reported_bytes = read;
    }
    if (block.bytes.size > 0 || block.stream_issue || file.format == FileFormat::kText)
      parse_block(block, file, schema_, options_.keep_empty_documents, parser, issues, visit, 0);
    if (options_.strict && issues.total() > 0) {
      throw Error(fmt::format("bad input: {}", describe(issues.first_locations().front(), files_)),
                  "remove --strict to count bad records and go on");
    }
    storage = std::move(block.bytes);
  }
  return issues;
}

std::string describe(const IssueLocation& location, const std::vector<CorpusFile>& files) {
  std::string where = location.file_index < files.size()
                          ? files[location.file_index].path.string()
                          : fmt::format("file #{}", location.file_index);
  std::string text = fmt::format("{}:{}: {}", where, location.line, issue_name(location.kind));
  if (!location.detail.empty()) text += fmt::format(" ({})", location.detail);
  return text;
}

nlohmann::json issues_to_json(const InputIssues& issues, const std::vector<CorpusFile>& files) {
  nlohmann::json by_reason = nlohmann::json::object();
  for (int k = 0; k < kIssueKindCount; ++k) {
    auto kind = static_cast<IssueKind>(k);
    by_reason[std::string(issue_key(kind))] = issues.count(kind);
  }
  nlohmann::json first = nlohmann::json::array();
  for (const IssueLocation& at : issues.first_locations()) {
    std::string file = at.file_index < files.size() ? files[at.file_index].path.string() : "";
    first.push_back(
        {{"file", file}, {"line", at.line}, {"reason", issue_key(at.kind)}, {"detail", at.detail}});
  }
  return {{"total", issues.total()}, {"by_reason", by_reason}, {"first", first}};
}

}  // namespace longctx
