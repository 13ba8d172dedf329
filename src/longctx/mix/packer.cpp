#include "longctx/mix/packer.h"

#include <algorithm>
#include <utility>

#include "longctx/base/error.h"

namespace longctx {

Packer::Packer(PackerSettings settings, RowSink& sink) : settings_(settings), sink_(sink) {
  if (settings_.seq_len == 0) throw Error("--seq-len must be at least 1");
  state_.tokens.reserve(settings_.seq_len);
}

void Packer::restore(State state) {
  if (state.tokens.size() >= settings_.seq_len)
    throw Error("checkpoint holds a partial row longer than --seq-len");
  state_ = std::move(state);
  state_.tokens.reserve(settings_.seq_len);
}

void Packer::append(const DocumentInfo& document, std::span<const int32_t> tokens,
                    uint64_t& offset) {
  // Each pass writes the part of the piece that fits in the current row as one span.
  while (!tokens.empty()) {
    size_t n = std::min<size_t>(settings_.seq_len - state_.tokens.size(), tokens.size());
    auto start = static_cast<uint32_t>(state_.tokens.size());
    state_.spans.push_back(SpanRecord{document.file, document.domain, document.line, start,
                                      static_cast<uint32_t>(start + n), offset});
    state_.tokens.insert(state_.tokens.end(), tokens.begin(), tokens.begin() + n);
    tokens = tokens.subspan(n);
    offset += n;
    if (state_.tokens.size() == settings_.seq_len) {
      sink_.write_row(state_.tokens, state_.spans);
      state_.tokens.clear();
      state_.spans.clear();
      ++state_.rows;
    }
  }
}

void Packer::add_document(const DocumentInfo& document, std::span<const int32_t> tokens,
                          const std::function<void(uint64_t)>& on_piece) {
  size_t limit = settings_.max_piece_tokens > 0 ? settings_.max_piece_tokens : tokens.size();
  uint64_t offset = 0;  // among the document's written tokens, BOS/EOS included
  size_t at = 0;
  do {
    size_t n = std::min(limit, tokens.size() - at);
    piece_.clear();
    if (settings_.bos_id >= 0) piece_.push_back(settings_.bos_id);
    piece_.insert(piece_.end(), tokens.begin() + at, tokens.begin() + at + n);
    if (settings_.eos_id >= 0) piece_.push_back(settings_.eos_id);
    append(document, piece_, offset);
    if (on_piece) on_piece(n);
    at += n;
  } while (at < tokens.size());
}

}  // namespace longctx
