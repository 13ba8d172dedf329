// A minimal SVG writer: just the elements our figures use, with text escaped. Only basic SVG
// (no CSS, no fonts but the generic sans-serif), so that browsers and librsvg (raster.h) draw
// a figure the same way.
//
//   Svg svg(640, 400);
//   svg.rect(10, 10, 100, 20, "#0CD79F");
//   svg.text(10, 50, "Domain share", {.size = 14, .anchor = "start"});
//   write_file_atomic("figure.svg", svg.str());
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace longctx {

struct TextStyle {
  double size = 12;
  std::string_view anchor = "start";  // start | middle | end
  std::string_view weight = "normal";
  std::string_view color = "#222222";
  double rotate = 0;  // degrees, about the anchor point
};

class Svg {
 public:
  Svg(double width, double height);
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view title = "");
  void line(double x1, double y1, double x2, double y2, std::string_view stroke,
            double stroke_width = 1, std::string_view dash = "");
  void text(double x, double y, std::string_view content, const TextStyle& style = {});
  // An open line through `points` (x, y), round joins; `title` as in rect().
  void polyline(std::span<const std::pair<double, double>> points, std::string_view stroke,
                double stroke_width = 1.5, std::string_view title = "");
  void circle(double cx, double cy, double r, std::string_view fill, std::string_view title = "");
  // Shapes (not text) drawn without anti-aliased edges: shape-rendering="crispEdges" on the
  // document, so that adjacent cells show no seams when a browser scales the figure.
  void set_crisp_edges() { crisp_edges_ = true; }
  // Closes the document and returns it.
  std::string str() const;

 private:
  std::string body_;
  double width_, height_;
  bool crisp_edges_ = false;
};

// Escapes &, <, >, " for XML text and attributes. Control characters other than tab, newline
// and carriage return, which XML 1.0 forbids even escaped, become U+FFFD.
std::string xml_escape(std::string_view text);

}  // namespace longctx
