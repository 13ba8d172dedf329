#include "longctx/report/table.h"

#include <algorithm>

#include "longctx/base/error.h"

namespace longctx {

namespace {
// Display width: UTF-8 code points (good enough for the names we print).
size_t width_of(const std::string& s) {
  size_t w = 0;
  for (char c : s) w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return w;
}
}  // namespace

Table::Table(std::vector<std::string> header, std::vector<Align> align)
    : header_(std::move(header)), align_(std::move(align)) {
  if (header_.size() != align_.size()) throw Error("table header and alignment differ in size");
}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != header_.size()) throw Error("table row has the wrong number of cells");
  rows_.push_back(std::move(cells));
}

void Table::add_rule() {
  rows_.emplace_back();
}

std::string Table::render() const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = width_of(header_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width_of(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string pad(widths[c] - width_of(cells[c]), ' ');
      if (c > 0) out += "  ";
      out += align_[c] == Align::kRight ? pad + cells[c] : cells[c] + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  size_t total = 0;
  for (size_t w : widths) total += w;
  std::string rule(total + 2 * (widths.size() - 1), '-');
  std::string out = line(header_) + rule + "\n";
  for (const auto& row : rows_) out += row.empty() ? rule + "\n" : line(row);
  return out;
}

}  // namespace longctx
