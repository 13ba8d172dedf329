#include "longctx/report/svg.h"

#include <gtest/gtest.h>

#include <string>

namespace longctx {
namespace {

const std::string kOpen =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" viewBox=\"0 0 640 "
    "400\" "
    "font-family=\"Helvetica, Arial, sans-serif\">\n"
    "<rect x=\"0\" y=\"0\" width=\"640\" height=\"400\" fill=\"#ffffff\"/>\n";

TEST(XmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(xml_escape("a & b < c > d \"e\""), "a &amp; b &lt; c &gt; d &quot;e&quot;");
  EXPECT_EQ(xml_escape("&amp;"), "&amp;amp;");  // escaping is not idempotent, and must not be
  EXPECT_EQ(xml_escape("</svg><script>"), "&lt;/svg&gt;&lt;script&gt;");
  EXPECT_EQ(xml_escape("plain text, caf\xc3\xa9 'quoted'"), "plain text, caf\xc3\xa9 'quoted'");
  EXPECT_EQ(xml_escape(""), "");
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

}  // namespace
}  // namespace longctx
