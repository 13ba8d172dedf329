#include "longctx/report/svg.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace longctx {
namespace {

const std::string kOpen =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" viewBox=\"0 0 640 "
    "400\" "
    "font-family=\"sans-serif\">\n"
    "<rect x=\"0\" y=\"0\" width=\"640\" height=\"400\" fill=\"#ffffff\"/>\n";

TEST(XmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(xml_escape("a & b < c > d \"e\""), "a &amp; b &lt; c &gt; d &quot;e&quot;");
  EXPECT_EQ(xml_escape("&amp;"), "&amp;amp;");  // escaping is not idempotent, and must not be
  EXPECT_EQ(xml_escape("</svg><script>"), "&lt;/svg&gt;&lt;script&gt;");
  EXPECT_EQ(xml_escape("plain text, caf\xc3\xa9 'quoted'"), "plain text, caf\xc3\xa9 'quoted'");
  EXPECT_EQ(xml_escape(""), "");
  // XML forbids most control characters even as references: they become U+FFFD.
  EXPECT_EQ(xml_escape("a\x01"
                       "b\tc\nd"),
            "a\xEF\xBF\xBD"
            "b\tc\nd");
}

TEST(Svg, EmptyDocument) {
  EXPECT_EQ(Svg(640, 400).str(), kOpen + "</svg>\n");
}

TEST(Svg, RectWithAndWithoutTitle) {
  Svg svg(640, 400);
  svg.rect(10, 20.5, 100.25, 3, "#0CD79F");
  svg.rect(1, 2, 3, 4, "#000000", "A & B: 50.00%");
  EXPECT_EQ(svg.str(), kOpen +
                           "<rect x=\"10.00\" y=\"20.50\" width=\"100.25\" height=\"3.00\" "
                           "fill=\"#0CD79F\"/>\n"
                           "<rect x=\"1.00\" y=\"2.00\" width=\"3.00\" height=\"4.00\" "
                           "fill=\"#000000\"><title>A &amp; B: 50.00%</title></rect>\n"
                           "</svg>\n");
}

TEST(Svg, LineWithAndWithoutDash) {
  Svg svg(640, 400);
  svg.line(0, 1, 2, 3, "#dddddd");
  svg.line(4, 5, 6, 7, "#ffffff", 1.5, "4 2");
  EXPECT_EQ(svg.str(),
            kOpen +
                "<line x1=\"0.00\" y1=\"1.00\" x2=\"2.00\" y2=\"3.00\" stroke=\"#dddddd\" "
                "stroke-width=\"1\"/>\n"
                "<line x1=\"4.00\" y1=\"5.00\" x2=\"6.00\" y2=\"7.00\" stroke=\"#ffffff\" "
                "stroke-width=\"1.5\" stroke-dasharray=\"4 2\"/>\n"
                "</svg>\n");
}

TEST(Svg, TextIsEscapedAndStyled) {
  Svg svg(640, 400);
  svg.text(5, 6, "x < y & \"z\"");
  svg.text(7, 8, "Title",
           {.size = 16, .anchor = "middle", .weight = "bold", .color = "#555555", .rotate = -90});
  EXPECT_EQ(svg.str(), kOpen +
                           "<text x=\"5.00\" y=\"6.00\" font-size=\"12\" text-anchor=\"start\" "
                           "font-weight=\"normal\" fill=\"#222222\">x &lt; y &amp; &quot;z&quot;"
                           "</text>\n"
                           "<text x=\"7.00\" y=\"8.00\" font-size=\"16\" text-anchor=\"middle\" "
                           "font-weight=\"bold\" fill=\"#555555\" transform=\"rotate(-90 7.00 "
                           "8.00)\">Title</text>\n"
                           "</svg>\n");
}

TEST(Svg, CrispEdgesOnTheRoot) {
  Svg svg(640, 400);
  svg.set_crisp_edges();
  EXPECT_EQ(
      svg.str().rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" "
                      "viewBox=\"0 0 640 400\" font-family=\"sans-serif\" "
                      "shape-rendering=\"crispEdges\">\n",
                      0),
      0u);
}

TEST(Svg, PolylineAndCircle) {
  Svg svg(640, 400);
  std::vector<std::pair<double, double>> points = {{1, 2}, {3.5, 4.25}};
  svg.polyline(points, "#3B6FB6");
  svg.polyline(points, "#000000", 2, "loss < 1");
  svg.circle(5, 6, 2.5, "#F0496E", "a & b");
  EXPECT_EQ(svg.str(), kOpen +
                           "<polyline points=\"1.00,2.00 3.50,4.25\" fill=\"none\" "
                           "stroke=\"#3B6FB6\" stroke-width=\"1.5\" stroke-linejoin=\"round\" "
                           "stroke-linecap=\"round\"/>\n"
                           "<polyline points=\"1.00,2.00 3.50,4.25\" fill=\"none\" "
                           "stroke=\"#000000\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                           "stroke-linecap=\"round\"><title>loss &lt; 1</title></polyline>\n"
                           "<circle cx=\"5.00\" cy=\"6.00\" r=\"2.5\" fill=\"#F0496E\">"
                           "<title>a &amp; b</title></circle>\n"
                           "</svg>\n");
}

}  // namespace
}  // namespace longctx
