#include "longctx/report/raster.h"

#include <fmt/format.h>

#include "longctx/base/error.h"

#if LONGCTX_HAVE_RSVG
#include <cairo.h>
#include <librsvg/rsvg.h>

#include <cmath>
#include <memory>

namespace longctx {
namespace {

constexpr int kMaxSide = 16384;

struct HandleFree {
  void operator()(RsvgHandle* handle) const { g_object_unref(handle); }
};
struct SurfaceFree {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct CairoFree {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};

// Takes the message of a GError and frees it.
std::string take_message(GError* error) {
  std::string message = error != nullptr ? error->message : "no reason given";
  g_clear_error(&error);
  return message;
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

std::string svg_to_png(std::string_view svg, double scale) {
  if (!(scale > 0 && scale <= 8)) {
    throw Error(fmt::format("svg_to_png: scale is {}; expected a number in (0, 8]", scale));
  }
  GError* error = nullptr;
  std::unique_ptr<RsvgHandle, HandleFree> handle(
      rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
  if (!handle) throw Error("librsvg could not parse the SVG: " + take_message(error));
  double width = 0, height = 0;
  if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &width, &height)) {
    throw Error("the SVG has no width and height in pixels",
                "give the <svg> element width and height attributes in px");
  }
  const double pixels_w = std::ceil(width * scale), pixels_h = std::ceil(height * scale);
  if (!(pixels_w >= 1 && pixels_h >= 1 && pixels_w <= kMaxSide && pixels_h <= kMaxSide)) {
    throw Error(fmt::format("the SVG is {} x {} pixels at scale {}; expected 1 to {} a side",
                            pixels_w, pixels_h, scale, kMaxSide));
  }
  const int w = static_cast<int>(pixels_w), h = static_cast<int>(pixels_h);

  // RGB24 has no alpha: the PNG is opaque, painted white first.
  std::unique_ptr<cairo_surface_t, SurfaceFree> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    throw Error(fmt::format("cairo could not make a {} x {} image: {}", w, h,
                            cairo_status_to_string(cairo_surface_status(surface.get()))));
  }
  {
    std::unique_ptr<cairo_t, CairoFree> cr(cairo_create(surface.get()));
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    RsvgRectangle viewport{0, 0, width * scale, height * scale};
    if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error)) {
      throw Error("librsvg could not draw the SVG: " + take_message(error));
    }
  }
  cairo_surface_flush(surface.get());
  std::string png;
  cairo_status_t status = cairo_surface_write_to_png_stream(surface.get(), append_bytes, &png);
  if (status != CAIRO_STATUS_SUCCESS) {
    throw Error(fmt::format("cairo could not write the PNG: {}", cairo_status_to_string(status)));
  }
  return png;
}

bool png_rasterisation_available() { return true; }

}  // namespace longctx
#else
namespace longctx {

std::string svg_to_png(std::string_view, double) {
  throw Error("this longctx was built without librsvg, so it cannot write PNG copies of figures",
              "install librsvg2-dev and rebuild, or use the SVG files");
}

bool png_rasterisation_available() { return false; }

}  // namespace longctx
#endif
