// Reading numbers back out of the SVG our figures write, for tests that check where things
// are drawn: the element carrying a <title>, its attributes, the points of a polyline and
// the <text> elements with their positions. Plain string search over svg.h's output (one
// element per line, attributes in double quotes), nothing from longctx.
//
//   double h = svg_number(svg, "after C4: 26.61%", "height");
//   std::vector<SvgText> labels = svg_texts(svg);   // every <text>: x, y and content
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace longctx::testing {

// The opening tag of the element whose <title> is exactly `title` ("" when there is none).
std::string svg_element_with_title(const std::string& svg, const std::string& title);
// A numeric attribute of that element; NaN when the element or the attribute is missing.
double svg_number(const std::string& svg, const std::string& title, const std::string& attribute);
// The "points" of a <polyline> opening tag, as (x, y) pairs.
std::vector<std::pair<double, double>> svg_points(const std::string& element);

struct SvgText {
  double x = 0, y = 0;
  std::string text;  // as written: still XML-escaped
};
std::vector<SvgText> svg_texts(const std::string& svg);

// Occurrences of `needle` in `text`.
size_t count_of(const std::string& text, const std::string& needle);

}  // namespace longctx::testing
