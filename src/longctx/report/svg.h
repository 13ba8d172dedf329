// A minimal SVG writer: just the elements our figures use, with text escaped.
//
//   Svg svg(640, 400);
//   svg.rect(10, 10, 100, 20, "#0CD79F");
//   svg.text(10, 50, "Domain share", {.size = 14, .anchor = "start"});
//   write_file_atomic("figure.svg", svg.str());
#pragma once

#include <string>
#include <string_view>

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
  // Closes the document and returns it.
  std::string str() const;

 private:
  std::string body_;
  double width_, height_;
};

// Escapes &, <, >, " for XML text and attributes.
std::string xml_escape(std::string_view text);

}  // namespace longctx
