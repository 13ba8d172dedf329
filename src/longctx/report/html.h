// One self-contained HTML page: a small inline style sheet, inline SVG figures, tables and
// links; no script, no font and nothing fetched. Text, attributes and links are escaped as they
// are added, so a domain or model name can never become markup. Content goes into sections
// (each with an id, listed in the page's table of contents) in the order they are begun.
//
//   HtmlPage page("longctx report");
//   page.begin_section("training", "Training");
//   page.paragraph("Two runs of 3 steps.");
//   page.figures({{.id = "train-loss", .svg = svg, .caption = "Loss",
//                  .links = {{"SVG", "figures/train-loss.svg"}}}});
//   HtmlTable table({"run", "loss"}, {Align::kLeft, Align::kRight});
//   table.add_row({"per-source", "2.31"});
//   page.table(table);
//   write_file_atomic("report/index.html", page.str());
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longctx/report/table.h"

namespace longctx {

// Escapes &, <, >, " and ' for HTML text and attribute values; control characters become
// U+FFFD, as in xml_escape().
std::string html_escape(std::string_view text);

// A relative link made safe to put in href="...": every byte outside A-Z a-z 0-9 - . _ ~ /
// is percent-encoded ("raw/a b/x.json" -> "raw/a%20b/x.json"). Throws Error for an absolute
// path, a "scheme:" prefix or a ".." component: the page only links to files beside it.
std::string relative_href(std::string_view path);

// A label and where it links to (a path relative to the page).
using HtmlLink = std::pair<std::string, std::string>;

// One table cell: text (escaped), an optional link, an optional style: "better" (green),
// "worse" (red), "muted" (grey), "value" (long text that wraps) or "" (none).
struct HtmlCell {
  HtmlCell(std::string text_) : text(std::move(text_)) {}  // NOLINT: cells read as strings
  HtmlCell(const char* text_) : text(text_) {}             // NOLINT
  HtmlCell(std::string text_, std::string href_, std::string style_ = "")
      : text(std::move(text_)), href(std::move(href_)), style(std::move(style_)) {}
  std::string text;
  std::string href;
  std::string style;
};

class HtmlTable {
 public:
  // Throws Error when header and align differ in size.
  HtmlTable(std::vector<std::string> header, std::vector<Align> align);
  // Throws Error for a row of the wrong width or an unknown style.
  void add_row(std::vector<HtmlCell> cells);
  size_t rows() const { return rows_.size(); }
  std::string str() const;

 private:
  std::vector<std::string> header_;
  std::vector<Align> align_;
  std::vector<std::vector<HtmlCell>> rows_;
};

// One figure: the SVG inline (it must be an <svg> document from svg.h: markup we made, not
// escaped), a caption and links (e.g. to its SVG and PNG files).
struct HtmlFigure {
  std::string id;  // the <figure>'s id: [a-z0-9-], unique in the page
  std::string svg;
  std::string caption;
  std::vector<HtmlLink> links;
};

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);

  // A line under the title.
  void subtitle(std::string_view text);
  // Starts a section: <section id="ID"><h2>HEADING</h2>. Ids are [a-z0-9-], non-empty and
  // unique (Error otherwise). Everything below goes into the newest section.
  void begin_section(std::string_view id, std::string_view heading);
  void heading(std::string_view text);  // <h3>
  void paragraph(std::string_view text);
  void note(std::string_view text);     // small grey text
  void warning(std::string_view text);  // red text
  // "LABEL: a · b · c" with each item a link.
  void links(std::string_view label, const std::vector<HtmlLink>& links);
  // Figures side by side, wrapping on narrow screens.
  void figures(const std::vector<HtmlFigure>& figures);
  void table(const HtmlTable& table);
  // A collapsed block whose summary line is always shown; nests. Every begin needs an end.
  void begin_details(std::string_view summary);
  void end_details();

  // The sections' ids, in page order.
  std::vector<std::string> section_ids() const;
  // The whole document. Throws Error when a details block is still open.
  std::string str() const;

 private:
  std::string& body();  // the current section's body; Error before the first section

  struct Section {
    std::string id, heading, body;
  };
  std::string title_, subtitle_;
  std::vector<Section> sections_;
  std::set<std::string, std::less<>> ids_;  // sections' and figures' ids
  int open_details_ = 0;
};

}  // namespace longctx
