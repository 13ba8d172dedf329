#include "longctx/mix/packer.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "longctx/base/error.h"

namespace longctx {
namespace {

struct Rows : RowSink {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<SpanRecord>> spans;
  void write_row(std::span<const int32_t> t, std::span<const SpanRecord> s) override {
    tokens.emplace_back(t.begin(), t.end());
    spans.emplace_back(s.begin(), s.end());
  }
};

std::vector<int32_t> iota(int32_t from, size_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(Packer, PacksDocumentsWithBosIntoFullRowsAndKeepsThePartialRow) {
  Rows rows;
  Packer packer({.seq_len = 8, .bos_id = 1}, rows);
  packer.add_document({0, 0, 10, 0}, iota(100, 5));  // 6 written tokens
  packer.add_document({0, 1, 11, 0}, iota(200, 7));  // 8 written tokens: straddles rows
  ASSERT_EQ(rows.tokens.size(), 1u);
  EXPECT_EQ(rows.tokens[0], (std::vector<int32_t>{1, 100, 101, 102, 103, 104, 1, 200}));
  ASSERT_EQ(rows.spans[0].size(), 2u);
  EXPECT_EQ(rows.spans[0][0].line, 10u);
  EXPECT_EQ(rows.spans[0][0].start, 0u);
  EXPECT_EQ(rows.spans[0][0].end, 6u);
  EXPECT_EQ(rows.spans[0][0].offset, 0u);
  EXPECT_EQ(rows.spans[0][1].domain, 1u);
  EXPECT_EQ(rows.spans[0][1].start, 6u);
  EXPECT_EQ(rows.spans[0][1].end, 8u);
  // The rest of document 2 waits in the partial row, continuing at its 3rd written token.
  EXPECT_EQ(packer.pending_tokens(), 6u);
  ASSERT_EQ(packer.state().spans.size(), 1u);
  EXPECT_EQ(packer.state().spans[0].offset, 2u);
  EXPECT_EQ(packer.state().spans[0].start, 0u);
}

TEST(Packer, SpansTileEveryRowAndCutPiecesNeverExceedTheLimit) {
  Rows rows;
  Packer packer({.seq_len = 16, .bos_id = 1, .eos_id = 2, .max_piece_tokens = 5}, rows);
  std::vector<uint64_t> pieces;
  for (uint32_t d = 0; d < 20; ++d) {
    packer.add_document({0, d % 3, d + 1, 0}, iota(10, 1 + (d * 7) % 13),
                        [&](uint64_t n) { pieces.push_back(n); });
  }
  for (uint64_t n : pieces) EXPECT_LE(n, 5u);
  for (size_t r = 0; r < rows.tokens.size(); ++r) {
    ASSERT_EQ(rows.tokens[r].size(), 16u);
    uint32_t at = 0;
    for (const SpanRecord& s : rows.spans[r]) {
      EXPECT_EQ(s.start, at);
      EXPECT_LT(s.start, s.end);
      // A piece written from its start begins with BOS; between BOS and EOS at most 5 tokens.
      if (s.offset == 0) {
        EXPECT_EQ(rows.tokens[r][s.start], 1);
      }
      at = s.end;
    }
    EXPECT_EQ(at, 16u);
    int run = 0;
    for (int32_t t : rows.tokens[r]) {
      run = (t == 1 || t == 2) ? 0 : run + 1;
      EXPECT_LE(run, 5);
    }
  }
}

TEST(Packer, RestoredStateContinuesExactlyLikeAnUninterruptedPacker) {
  auto feed = [](Packer& p, uint32_t from, uint32_t to) {
    for (uint32_t d = from; d < to; ++d)
      p.add_document({1, 0, d, 0}, iota(static_cast<int32_t>(d), 3 + d % 11));
  };
  Rows straight;
  Packer a({.seq_len = 12, .bos_id = 1}, straight);
  feed(a, 0, 40);

  Rows resumed;
  Packer b({.seq_len = 12, .bos_id = 1}, resumed);
  feed(b, 0, 17);
  Packer::State saved = b.state();
  Packer c({.seq_len = 12, .bos_id = 1}, resumed);
  c.restore(saved);
  feed(c, 17, 40);
  EXPECT_EQ(straight.tokens, resumed.tokens);
  EXPECT_EQ(straight.spans.size(), resumed.spans.size());
  EXPECT_EQ(a.pending_tokens(), c.pending_tokens());
  EXPECT_EQ(a.rows(), c.rows());
}

TEST(Packer, RejectsAZeroRowLength) {
  Rows rows;
  EXPECT_THROW(Packer({.seq_len = 0}, rows), Error);
}

}  // namespace
}  // namespace longctx
