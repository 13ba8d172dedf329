// Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned.
//
//   Table t({"domain", "documents"}, {Align::kLeft, Align::kRight});
//   t.add_row({"RedPajamaBook", "120"});
//   std::cout << t.render();
#pragma once

#include <string>
#include <vector>

namespace longctx {

enum class Align { kLeft, kRight };

class Table {
 public:
  Table(std::vector<std::string> header, std::vector<Align> align);
  void add_row(std::vector<std::string> cells);
  void add_rule();  // a horizontal line before the next row
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a rule
};

}  // namespace longctx
