#include "longctx/report/svg.h"

#include <fmt/format.h>

namespace longctx {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

Svg::Svg(double width, double height) : width_(width), height_(height) {
  body_ += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n",
                       width, height);
}

void Svg::rect(double x, double y, double w, double h, std::string_view fill,
               std::string_view title) {
  if (title.empty()) {
    body_ += fmt::format(
        "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
        "fill=\"{}\"/>\n",
        x, y, w, h, fill);
  } else {
    body_ += fmt::format(
        "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
        "fill=\"{}\"><title>{}</title></rect>\n",
        x, y, w, h, fill, xml_escape(title));
  }
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view stroke,
               double stroke_width, std::string_view dash) {
  body_ += fmt::format(
      "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
      "stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
      x1, y1, x2, y2, stroke, stroke_width,
      dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", dash));
}

void Svg::text(double x, double y, std::string_view content, const TextStyle& style) {
  std::string transform;
  if (style.rotate != 0) {
    transform = fmt::format(" transform=\"rotate({} {:.2f} {:.2f})\"", style.rotate, x, y);
  }
  body_ += fmt::format(
      "<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"{}\" text-anchor=\"{}\" "
      "font-weight=\"{}\" fill=\"{}\"{}>{}</text>\n",
      x, y, style.size, style.anchor, style.weight, style.color, transform, xml_escape(content));
}

void Svg::polyline(std::span<const std::pair<double, double>> points, std::string_view stroke,
                   double stroke_width, std::string_view title) {
  std::string coords;
  for (const auto& [x, y] : points) {
    if (!coords.empty()) coords += ' ';
    coords += fmt::format("{:.2f},{:.2f}", x, y);
  }
  body_ += fmt::format(
      "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" "
      "stroke-linejoin=\"round\" stroke-linecap=\"round\"",
      coords, stroke, stroke_width);
  body_ +=
      title.empty() ? "/>\n" : fmt::format("><title>{}</title></polyline>\n", xml_escape(title));
}

void Svg::circle(double cx, double cy, double r, std::string_view fill, std::string_view title) {
  body_ += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\" fill=\"{}\"", cx, cy, r, fill);
  body_ += title.empty() ? "/>\n" : fmt::format("><title>{}</title></circle>\n", xml_escape(title));
}

std::string Svg::str() const {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\"{}>\n{}"
      "</svg>\n",
      width_, height_, width_, height_, crisp_edges_ ? " shape-rendering=\"crispEdges\"" : "",
      body_);
}

}  // namespace longctx
