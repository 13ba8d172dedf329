// Packer: documents -> rows of exactly seq_len tokens, as the recipe packs them (RECIPE.md,
// Packing). Each document is written as BOS (optional), its tokens, EOS (optional); documents
// follow each other with no padding and straddle rows; every row records the spans of the
// document pieces it holds. A document longer than `max_piece_tokens` is first cut into pieces
// of at most that many tokens, each written as a document of its own (the "cut" strategies).
//
//   Packer packer({.seq_len = 81920, .bos_id = 1}, sink);
//   packer.add_document(info, tokens);   // sink.write_row(...) for every row completed
//   packer.pending_tokens();             // the partial last row, dropped at the end
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "longctx/dataset/format.h"
#include "longctx/dataset/writer.h"
#include "longctx/mix/selector.h"

namespace longctx {

struct PackerSettings {
  uint32_t seq_len = 81920;
  int32_t bos_id = -1;            // -1: no BOS
  int32_t eos_id = -1;            // -1: no EOS
  uint64_t max_piece_tokens = 0;  // 0: documents are never cut
};

class Packer {
 public:
  // The partial row: what a checkpoint saves and a resume restores.
  struct State {
    std::vector<int32_t> tokens;
    std::vector<SpanRecord> spans;
    uint64_t rows = 0;  // rows written so far
  };

  Packer(PackerSettings settings, RowSink& sink);

  // Appends a document (its tokens without BOS/EOS). `on_piece(content_tokens)` is called for
  // each piece it is written as (one, unless it was cut).
  void add_document(const DocumentInfo& document, std::span<const int32_t> tokens,
                    const std::function<void(uint64_t content_tokens)>& on_piece = {});

  const State& state() const { return state_; }
  void restore(State state);
  uint64_t rows() const { return state_.rows; }
  size_t pending_tokens() const { return state_.tokens.size(); }

 private:
  void append(const DocumentInfo& document, std::span<const int32_t> tokens, uint64_t& offset);

  PackerSettings settings_;
  RowSink& sink_;
  State state_;
  std::vector<int32_t> piece_;  // scratch: one piece as written
};

}  // namespace longctx
