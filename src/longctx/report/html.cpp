#include "longctx/report/html.h"

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/report/svg.h"

namespace longctx {
namespace {

// Small on purpose: system sans-serif, readable tables, figures that shrink to the window. A
// caption takes its figure's width (width 0, min-width 100%) instead of widening it, so that
// figures sit side by side.
constexpr std::string_view kStyle =
    R"(body{font-family:sans-serif;color:#222;max-width:1240px;margin:24px auto;padding:0 16px;line-height:1.4}
h1{font-size:26px;margin-bottom:4px}
h2{font-size:20px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:36px}
h3{font-size:16px;margin:20px 0 6px}
nav{margin:12px 0 20px}
nav a{margin-right:14px}
a{color:#2a5db0}
.subtitle{color:#555;margin-top:0}
.note{color:#666;font-size:13px}
.warning{color:#b3261e;font-size:14px}
.figures{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
figure{margin:8px 0}
figure svg{max-width:100%;height:auto;display:block;border:1px solid #eee}
figcaption{font-size:13px;color:#555;margin-top:4px;width:0;min-width:100%}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.better{background:#d4f4e6}
td.worse{background:#fbdbe2}
td.muted{color:#888}
td.value{word-break:break-word;max-width:760px}
details{margin:6px 0}
summary{cursor:pointer}
)";

bool is_id(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

void check_new_id(std::set<std::string, std::less<>>& ids, std::string_view id,
                  std::string_view what) {
  if (!is_id(id)) {
    throw Error(fmt::format("html: {} id \"{}\" is not made of a-z, 0-9 and -", what, id));
  }
  if (!ids.emplace(id).second)
    throw Error(fmt::format("html: {} id \"{}\" is used twice", what, id));
}

std::string link_html(const HtmlLink& link) {
  return fmt::format("<a href=\"{}\">{}</a>", html_escape(relative_href(link.second)),
                     html_escape(link.first));
}

std::string links_html(const std::vector<HtmlLink>& links) {
  std::string out;
  for (const HtmlLink& link : links) {
    if (!out.empty()) out += " &middot; ";
    out += link_html(link);
  }
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  // xml_escape() never writes a ', so adding its reference afterwards is safe.
  std::string xml = xml_escape(text), out;
  out.reserve(xml.size());
  for (char c : xml) {
    if (c == '\'') {
      out += "&#39;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string relative_href(std::string_view path) {
  bool absolute = path.empty() || path.front() == '/';
  size_t colon = path.find(':'), slash = path.find('/');
  bool scheme =
      colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash);
  bool parent = false;
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") parent = true;
    start = end + 1;
  }
  if (absolute || scheme || parent) {
    throw Error(fmt::format("html: link \"{}\" is not a path below the page", path),
                "links point at files copied next to index.html");
  }
  std::string out;
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    out += safe ? std::string(1, c) : fmt::format("%{:02X}", u);
  }
  return out;
}

HtmlTable::HtmlTable(std::vector<std::string> header, std::vector<Align> align)
    : header_(std::move(header)), align_(std::move(align)) {
  if (header_.size() != align_.size()) {
    throw Error(
        fmt::format("html table: {} headers but {} alignments", header_.size(), align_.size()));
  }
}

void HtmlTable::add_row(std::vector<HtmlCell> cells) {
  if (cells.size() != header_.size()) {
    throw Error(fmt::format("html table: a row of {} cells under {} headers", cells.size(),
                            header_.size()));
  }
  for (const HtmlCell& cell : cells) {
    if (!cell.style.empty() && cell.style != "better" && cell.style != "worse" &&
        cell.style != "muted" && cell.style != "value") {
      throw Error(fmt::format("html table: unknown cell style \"{}\"", cell.style),
                  "use better, worse, muted, value or none");
    }
  }
  rows_.push_back(std::move(cells));
}

std::string HtmlTable::str() const {
  std::string out = "<table>\n<tr>";
  for (size_t c = 0; c < header_.size(); ++c) {
    out += fmt::format("<th{}>{}</th>", align_[c] == Align::kRight ? " class=\"num\"" : "",
                       html_escape(header_[c]));
  }
  out += "</tr>\n";
  for (const std::vector<HtmlCell>& row : rows_) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      const HtmlCell& cell = row[c];
      std::string classes = align_[c] == Align::kRight ? "num" : "";
      if (!cell.style.empty()) classes += (classes.empty() ? "" : " ") + cell.style;
      std::string text =
          cell.href.empty() ? html_escape(cell.text) : link_html({cell.text, cell.href});
      out += classes.empty() ? fmt::format("<td>{}</td>", text)
                             : fmt::format("<td class=\"{}\">{}</td>", classes, text);
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::subtitle(std::string_view text) {
  subtitle_ = text;
}

std::string& HtmlPage::body() {
  if (sections_.empty()) throw Error("html: content added before the first section");
  return sections_.back().body;
}

void HtmlPage::begin_section(std::string_view id, std::string_view heading) {
  if (open_details_ > 0) throw Error("html: a section begins inside an open details block");
  check_new_id(ids_, id, "section");
  sections_.push_back({std::string(id), std::string(heading), ""});
}

void HtmlPage::heading(std::string_view text) {
  body() += fmt::format("<h3>{}</h3>\n", html_escape(text));
}

void HtmlPage::paragraph(std::string_view text) {
  body() += fmt::format("<p>{}</p>\n", html_escape(text));
}

void HtmlPage::note(std::string_view text) {
  body() += fmt::format("<p class=\"note\">{}</p>\n", html_escape(text));
}

void HtmlPage::warning(std::string_view text) {
  body() += fmt::format("<p class=\"warning\">{}</p>\n", html_escape(text));
}

void HtmlPage::links(std::string_view label, const std::vector<HtmlLink>& links) {
  body() += fmt::format("<p class=\"note\">{}: {}</p>\n", html_escape(label), links_html(links));
}

void HtmlPage::figures(const std::vector<HtmlFigure>& figures) {
  std::string& out = body();
  std::string row = "<div class=\"figures\">\n";
  for (const HtmlFigure& f : figures) {
    if (f.svg.rfind("<svg ", 0) != 0) {
      throw Error(fmt::format("html: figure \"{}\" is not an <svg> document", f.id));
    }
    check_new_id(ids_, f.id, "figure");
    std::string caption = html_escape(f.caption);
    if (!f.links.empty()) caption += (caption.empty() ? "" : " &middot; ") + links_html(f.links);
    row += fmt::format("<figure id=\"{}\">\n{}<figcaption>{}</figcaption>\n</figure>\n", f.id,
                       f.svg, caption);
  }
  out += row + "</div>\n";
}

void HtmlPage::table(const HtmlTable& table) {
  body() += table.str();
}

void HtmlPage::begin_details(std::string_view summary) {
  body() += fmt::format("<details>\n<summary>{}</summary>\n", html_escape(summary));
  ++open_details_;
}

void HtmlPage::end_details() {
  if (open_details_ == 0) throw Error("html: end_details() without begin_details()");
  body() += "</details>\n";
  --open_details_;
}

std::vector<std::string> HtmlPage::section_ids() const {
  std::vector<std::string> out;
  for (const Section& s : sections_) out.push_back(s.id);
  return out;
}

std::string HtmlPage::str() const {
  if (open_details_ > 0) throw Error("html: a details block is still open");
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
      html_escape(title_), kStyle, html_escape(title_));
  if (!subtitle_.empty())
    out += fmt::format("<p class=\"subtitle\">{}</p>\n", html_escape(subtitle_));
  out += "<nav>";
  for (const Section& s : sections_) {
    out += fmt::format("<a href=\"#{}\">{}</a>", s.id, html_escape(s.heading));
  }
  out += "</nav>\n";
  for (const Section& s : sections_) {
    out += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", s.id,
                       html_escape(s.heading), s.body);
  }
  return out + "</body>\n</html>\n";
}

}  // namespace longctx
