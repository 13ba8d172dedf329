#include "longctx/dataset/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/dataset/packed_dataset.h"
#include "support/fixtures.h"
#include "support/megatron_reader.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;

DatasetLayout layout_in(const fs::path& dir, TokenType type, bool segments) {
  DatasetLayout layout;
  layout.dir = dir;
  layout.state_dir = dir / ".state";
  fs::create_directories(layout.state_dir);
  layout.seq_len = 6;
  layout.token_type = type;
  layout.segments = segments;
  layout.domains = {"a", "b"};
  layout.files = {"x.jsonl"};
  return layout;
}

void write_manifest(const fs::path& dir, uint64_t rows, TokenType type, bool segments) {
  nlohmann::json m = {{"format", "longctx-mix"},
                      {"rows", rows},
                      {"seq_len", 6},
                      {"token_type", token_type_name(type)},
                      {"domains", {"a", "b"}},
                      {"files", {"x.jsonl"}},
                      {"doc_boundaries", segments}};
  write_file_atomic(dir / kManifestJson, m.dump());
}

std::vector<int32_t> row_of(int32_t base) {
  std::vector<int32_t> r(6);
  std::iota(r.begin(), r.end(), base);
  return r;
}

TEST(DatasetWriter, WritesAMegatronDatasetThatAnIndependentReaderAccepts) {
  for (TokenType type : {TokenType::kUint16, TokenType::kInt32}) {
    testing::TempDir tmp;
    DatasetWriter writer(layout_in(tmp.path(), type, true), nullptr);
    int32_t big = type == TokenType::kInt32 ? 100000 : 60000;
    std::vector<SpanRecord> spans = {{0, 0, 3, 0, 2, 7}, {0, 1, 4, 2, 6, 0}};
    writer.write_row(row_of(big), spans);
    writer.write_row(row_of(5), std::vector<SpanRecord>{{0, 1, 4, 0, 6, 4}});
    writer.add_piece(1, 9);
    writer.finish();
    write_manifest(tmp.path(), 2, type, true);
    EXPECT_FALSE(fs::exists(tmp.path() / "data.bin.partial"));

    testing::MegatronDataset meg = testing::read_megatron(tmp.path() / "data");
    EXPECT_EQ(meg.dtype_name, type == TokenType::kUint16 ? "uint16" : "int32");
    ASSERT_EQ(meg.sequence_count(), 2u);
    EXPECT_EQ(meg.document_count(), 2u);
    std::vector<int64_t> first = meg.sequence(0);
    EXPECT_EQ(first, (std::vector<int64_t>{big, big + 1, big + 2, big + 3, big + 4, big + 5}));

    testing::MegatronDataset seg = testing::read_megatron(tmp.path() / "segments");
    EXPECT_EQ(seg.sequence(0), (std::vector<int64_t>{0, 0, 1, 1, 1, 1}));
    EXPECT_EQ(seg.sequence(1), (std::vector<int64_t>{0, 0, 0, 0, 0, 0}));

    PackedDataset data = PackedDataset::open(tmp.path());
    EXPECT_EQ(data.row(0), row_of(big));
    ASSERT_EQ(data.spans(0).size(), 2u);
    EXPECT_EQ(data.spans(0)[1].line, 4u);
    EXPECT_EQ(data.spans(1)[0].offset, 4u);
    EXPECT_EQ(data.span_count(), 3u);
    std::vector<int32_t> ids(6);
    data.read_segments(0, ids);
    EXPECT_EQ(ids, (std::vector<int32_t>{0, 0, 1, 1, 1, 1}));
    EXPECT_THROW(data.row(2), Error);
    EXPECT_EQ(DatasetWriter::read_pieces(tmp.path() / ".state").size(), 1u);
  }
}

TEST(DatasetWriter, ReopeningAtACheckpointDropsWhatCameAfterIt) {
  testing::TempDir straight_dir, resumed_dir;
  {
    DatasetWriter w(layout_in(straight_dir.path(), TokenType::kUint16, false), nullptr);
    for (int r = 0; r < 4; ++r)
      w.write_row(row_of(r * 10), std::vector<SpanRecord>{{0, 0, 1, 0, 6, 0}});
    w.finish();
  }
  WriterCheckpoint at;
  {
    DatasetWriter w(layout_in(resumed_dir.path(), TokenType::kUint16, false), nullptr);
    for (int r = 0; r < 2; ++r)
      w.write_row(row_of(r * 10), std::vector<SpanRecord>{{0, 0, 1, 0, 6, 0}});
    at = w.sync();
    w.write_row(row_of(999), std::vector<SpanRecord>{{0, 0, 1, 0, 6, 0}});  // lost in a "crash"
    w.sync();
  }
  DatasetWriter w(layout_in(resumed_dir.path(), TokenType::kUint16, false), &at);
  for (int r = 2; r < 4; ++r)
    w.write_row(row_of(r * 10), std::vector<SpanRecord>{{0, 0, 1, 0, 6, 0}});
  w.finish();
  for (const char* name : {"data.bin", "data.idx", "spans.bin"}) {
    EXPECT_EQ(read_file(straight_dir.path() / name), read_file(resumed_dir.path() / name)) << name;
  }
}

TEST(DatasetWriter, CheckpointRoundTripsThroughJson) {
  WriterCheckpoint c{3, 10, 20, 30, 40, 50, 60};
  WriterCheckpoint d = WriterCheckpoint::from_json(c.to_json());
  EXPECT_EQ(d.rows, 3u);
  EXPECT_EQ(d.pieces_bytes, 60u);
}

TEST(PackedDataset, ATruncatedDataFileFailsAtOpen) {
  testing::TempDir tmp;
  DatasetWriter w(layout_in(tmp.path(), TokenType::kUint16, false), nullptr);
  w.write_row(row_of(1), std::vector<SpanRecord>{{0, 0, 1, 0, 6, 0}});
  w.finish();
  write_manifest(tmp.path(), 1, TokenType::kUint16, false);
  fs::resize_file(tmp.path() / "data.bin", 10);
  EXPECT_THROW(PackedDataset::open(tmp.path()), Error);
  testing::TempDir empty;
  EXPECT_THROW(PackedDataset::open(empty.path()), Error);
}

}  // namespace
}  // namespace longctx
