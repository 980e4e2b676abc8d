// Pictures for the command line: RGB images read and written as PNG (libpng), and a small scene of
// rectangles, lines, text and embedded images that renders to PNG (with the embedded DejaVu Sans Mono
// bitmap font) or to SVG, so both formats show the same picture.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace tconv::cli {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};

struct Image {
    int w = 0, h = 0;
    std::vector<uint8_t> px;  // RGB, row-major
    Image() = default;
    Image(int w_, int h_, Rgb fill = {255, 255, 255});
    Rgb at(int x, int y) const { const uint8_t* p = &px[(size_t(y) * w + x) * 3]; return {p[0], p[1], p[2]}; }
    void set(int x, int y, Rgb c) { uint8_t* p = &px[(size_t(y) * w + x) * 3]; p[0] = c.r; p[1] = c.g; p[2] = c.b; }
};

// PNG of any bit depth and colour type, returned as 8-bit RGB (alpha composited on white).
Image read_png(const std::string& path);
void write_png(const std::string& path, const Image& img);
std::vector<uint8_t> encode_png(const Image& img);

struct Scene {
    struct Rect { double x, y, w, h; Rgb fill; bool filled = true; Rgb stroke; double stroke_w = 0; };
    struct Line { double x0, y0, x1, y1; Rgb color; double width = 1; };
    struct Text { double x, y; std::string s; Rgb color; bool centred = false; };  // (x, y) top-left or top-centre
    struct Picture { int x, y, scale; Image img; };
    int w = 0, h = 0;
    Rgb background{255, 255, 255};
    std::vector<std::variant<Rect, Line, Text, Picture>> items;

    static int text_width(const std::string& s);  // pixels
    static int text_height();

    void rect(double x, double y, double w, double h, Rgb fill) { items.push_back(Rect{x, y, w, h, fill, true, {}, 0}); }
    void frame(double x, double y, double w, double h, Rgb stroke, double width) { items.push_back(Rect{x, y, w, h, {}, false, stroke, width}); }
    void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1) { items.push_back(Line{x0, y0, x1, y1, c, width}); }
    void text(double x, double y, const std::string& s, Rgb c = {0, 0, 0}, bool centred = false) { items.push_back(Text{x, y, s, c, centred}); }
    void picture(int x, int y, int scale, Image img) { items.push_back(Picture{x, y, scale, std::move(img)}); }

    Image raster() const;
    std::string svg() const;
    // Writes PNG or SVG by the file's extension (.png / .svg); anything else is an error.
    void save(const std::string& path) const;
};

// Colour maps for values in [lo, hi]: sequential (white to a hue) and diverging (blue, white, red).
Rgb sequential(double v, double lo, double hi, Rgb to);
Rgb diverging(double v, double lo, double hi);
// Black or white, whichever reads better on the background.
Rgb ink_on(Rgb background);

}  // namespace tconv::cli
