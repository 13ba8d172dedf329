#include "longctx/report/html.h"

#include <gtest/gtest.h>

#include <string>

#include "longctx/base/error.h"
#include "longctx/report/svg.h"
#include "support/svg_probe.h"

namespace longctx {
namespace {

using testing::count_of;

TEST(HtmlEscape, EscapesMarkupQuotesAndControlCharacters) {
  EXPECT_EQ(html_escape("<script>alert(\"x\")</script>"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  EXPECT_EQ(html_escape("a & b 'c'"), "a &amp; b &#39;c&#39;");
  EXPECT_EQ(html_escape("tab\there\nnew\x01"), "tab\there\nnew\xEF\xBF\xBD");
  EXPECT_EQ(html_escape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

TEST(RelativeHref, EncodesAndRefusesLinksOutOfThePage) {
  EXPECT_EQ(relative_href("raw/mix-a/report.json"), "raw/mix-a/report.json");
  EXPECT_EQ(relative_href("raw/a b/x\"y.json"), "raw/a%20b/x%22y.json");
  EXPECT_EQ(relative_href("figures/caf\xc3\xa9.svg"), "figures/caf%C3%A9.svg");
  EXPECT_THROW(relative_href("/etc/passwd"), Error);
  EXPECT_THROW(relative_href("javascript:alert(1)"), Error);
  EXPECT_THROW(relative_href("http://example.com/x"), Error);
  EXPECT_THROW(relative_href("raw/../../x"), Error);
  EXPECT_THROW(relative_href(""), Error);
  EXPECT_EQ(relative_href("raw/a:b"), "raw/a%3Ab");  // a colon after a slash is a file name
}

TEST(HtmlTable, AlignsNumbersAndEscapesCellsAndLinks) {
  HtmlTable table({"domain", "share"}, {Align::kLeft, Align::kRight});
  table.add_row({"<C4>", "26.6%"});
  table.add_row({HtmlCell("report.json", "raw/m/report.json"), HtmlCell("-", "", "muted")});
  table.add_row({"x", HtmlCell("+0.010", "", "worse")});
  std::string html = table.str();
  EXPECT_NE(html.find("<th>domain</th><th class=\"num\">share</th>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>&lt;C4&gt;</td><td class=\"num\">26.6%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td><a href=\"raw/m/report.json\">report.json</a></td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num muted\">-</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num worse\">+0.010</td>"), std::string::npos);
  EXPECT_EQ(table.rows(), 3u);
  EXPECT_THROW(table.add_row({"only one"}), Error);
  EXPECT_THROW(table.add_row({"a", HtmlCell("b", "", "rainbow")}), Error);
  EXPECT_THROW(HtmlTable({"a"}, {}), Error);
}

TEST(HtmlPage, SectionsInOrderWithATableOfContents) {
  HtmlPage page("Report <1>");
  page.subtitle("from 3 inputs");
  page.begin_section("corpus", "Corpus & profile");
  page.paragraph("p1 <b>");
  page.begin_section("training", "Training");
  page.note("n1");
  page.warning("w1");
  page.heading("run-a");
  page.links("files", {{"config.json", "raw/run-a/config.json"}, {"m", "raw/run-a/m.jsonl"}});
  std::string html = page.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<title>Report &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>Report &lt;1&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("<p class=\"subtitle\">from 3 inputs</p>"), std::string::npos);
  EXPECT_NE(html.find("<nav><a href=\"#corpus\">Corpus &amp; profile</a><a href=\"#training\">"
                      "Training</a></nav>"),
            std::string::npos)
      << html;
  size_t corpus = html.find("<section id=\"corpus\">"),
         training = html.find("<section id=\"training\">");
  ASSERT_NE(corpus, std::string::npos);
  ASSERT_NE(training, std::string::npos);
  EXPECT_LT(corpus, training);
  size_t p1 = html.find("<p>p1 &lt;b&gt;</p>");
  EXPECT_GT(p1, corpus);
  EXPECT_LT(p1, training);  // content goes into the section begun last
  EXPECT_GT(html.find("<p class=\"warning\">w1</p>"), training);
  EXPECT_NE(html.find("<a href=\"raw/run-a/config.json\">config.json</a> &middot; "
                      "<a href=\"raw/run-a/m.jsonl\">m</a>"),
            std::string::npos);
  EXPECT_EQ(page.section_ids(), (std::vector<std::string>{"corpus", "training"}));
  // Self-contained: no script, no stylesheet or image fetched.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(count_of(html, "</section>"), 2u);
}

TEST(HtmlPage, FiguresAreInlineSvgWithCaptionsAndLinks) {
  HtmlPage page("r");
  page.begin_section("needle", "Needle");
  Svg svg(100, 50);
  svg.text(1, 2, "Llama <7B>");
  page.figures({{.id = "fig-needle",
                 .svg = svg.str(),
                 .caption = "Heatmaps & more",
                 .links = {{"SVG", "figures/needle.svg"}, {"PNG", "figures/needle.png"}}},
                {.id = "fig-b", .svg = Svg(10, 10).str(), .caption = "", .links = {}}});
  std::string html = page.str();
  EXPECT_NE(html.find("<div class=\"figures\">\n<figure id=\"fig-needle\">\n<svg "),
            std::string::npos)
      << html;
  EXPECT_NE(html.find(">Llama &lt;7B&gt;</text>"), std::string::npos);  // escaped by svg.h
  EXPECT_NE(html.find("<figcaption>Heatmaps &amp; more &middot; <a href=\"figures/needle.svg\">SVG"
                      "</a> &middot; <a href=\"figures/needle.png\">PNG</a></figcaption>"),
            std::string::npos);
  EXPECT_EQ(count_of(html, "<svg "), 2u);
  EXPECT_THROW(
      page.figures({{.id = "fig-x", .svg = "<script>x</script>", .caption = "", .links = {}}}),
      Error);
  EXPECT_THROW(
      page.figures({{.id = "fig-needle", .svg = Svg(1, 1).str(), .caption = "", .links = {}}}),
      Error);  // the id is taken
}

TEST(HtmlPage, DetailsNestAndMustBeClosed) {
  HtmlPage page("r");
  page.begin_section("settings", "Settings");
  page.begin_details("run <a>");
  page.paragraph("inside");
  EXPECT_THROW(page.str(), Error);
  EXPECT_THROW(page.begin_section("raw", "Raw"), Error);
  page.end_details();
  EXPECT_THROW(page.end_details(), Error);
  std::string html = page.str();
  EXPECT_NE(html.find("<details>\n<summary>run &lt;a&gt;</summary>\n<p>inside</p>\n</details>"),
            std::string::npos)
      << html;
}

TEST(HtmlPage, RejectsBadOrRepeatedIdsAndContentOutsideSections) {
  HtmlPage page("r");
  EXPECT_THROW(page.paragraph("before any section"), Error);
  EXPECT_THROW(page.begin_section("Has Space", "x"), Error);
  EXPECT_THROW(page.begin_section("", "x"), Error);
  EXPECT_THROW(page.begin_section("a\"b", "x"), Error);
  page.begin_section("corpus", "Corpus");
  EXPECT_THROW(page.begin_section("corpus", "Again"), Error);
}

}  // namespace
}  // namespace longctx
