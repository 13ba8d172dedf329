#include "support/svg_probe.h"

#include <cmath>
#include <sstream>

namespace longctx::testing {
namespace {

std::string attribute(const std::string& element, const std::string& name) {
  std::string key = " " + name + "=\"";
  size_t at = element.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return element.substr(at, element.find('"', at) - at);
}

}  // namespace

std::string svg_element_with_title(const std::string& svg, const std::string& title) {
  size_t end = svg.find("><title>" + title + "</title>");
  if (end == std::string::npos) return "";
  size_t start = svg.rfind('<', end);
  return svg.substr(start, end - start + 1);
}

double svg_number(const std::string& svg, const std::string& title, const std::string& name) {
  std::string value = attribute(svg_element_with_title(svg, title), name);
  return value.empty() ? NAN : std::stod(value);
}

std::vector<std::pair<double, double>> svg_points(const std::string& element) {
  std::vector<std::pair<double, double>> out;
  std::istringstream in(attribute(element, "points"));
  std::string pair;
  while (in >> pair) {
    size_t comma = pair.find(',');
    out.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return out;
}

std::vector<SvgText> svg_texts(const std::string& svg) {
  std::vector<SvgText> out;
  for (size_t at = svg.find("<text "); at != std::string::npos; at = svg.find("<text ", at + 1)) {
    size_t close = svg.find('>', at), end = svg.find("</text>", at);
    std::string tag = svg.substr(at, close - at + 1);
    out.push_back({std::stod(attribute(tag, "x")), std::stod(attribute(tag, "y")),
                   svg.substr(close + 1, end - close - 1)});
  }
  return out;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace longctx::testing
