// PNG input/output through libpng; the scene's rasteriser and SVG writer.
#include "draw.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "font_data.hpp"
#include "tconv/error.hpp"

namespace tconv::cli {

Image::Image(int w_, int h_, Rgb fill) : w(w_), h(h_), px(size_t(w_) * h_ * 3) {
    for (size_t i = 0; i < px.size(); i += 3) { px[i] = fill.r; px[i + 1] = fill.g; px[i + 2] = fill.b; }
}

namespace {

struct File {
    FILE* f;
    explicit File(FILE* f_) : f(f_) {}
    ~File() { if (f) std::fclose(f); }
};

// libpng reports errors by longjmp: the functions that call it keep no C++ objects with destructors in
// the frames the jump crosses, and turn the message into a tconv::Error afterwards.
struct PngError {
    char msg[256] = {0};
};
void png_fail(png_structp png, png_const_charp msg) {
    auto* e = static_cast<PngError*>(png_get_error_ptr(png));
    std::snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}
void png_warn(png_structp, png_const_charp) {}

// Reads the whole image as 8-bit RGBA into *rgba (resized here); false on a libpng error.
bool read_rgba(FILE* f, png_structp png, png_infop info, std::vector<uint8_t>* rgba, std::vector<png_bytep>* rows,
               png_uint_32* w, png_uint_32* h) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    if (*w == 0 || *h == 0 || *w > 16384 || *h > 16384) return true;  // the caller reports the size
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_read_update_info(png, info);
    rgba->resize(size_t(*w) * *h * 4);
    rows->resize(*h);
    for (png_uint_32 y = 0; y < *h; ++y) (*rows)[y] = &(*rgba)[size_t(y) * *w * 4];
    png_read_image(png, rows->data());
    return true;
}

void append(png_structp p, png_bytep data, png_size_t n) {
    auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
    v->insert(v->end(), data, data + n);
}

bool write_rgb(png_structp png, png_infop info, const Image* img, std::vector<uint8_t>* out) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_write_fn(png, out, append, nullptr);
    png_set_IHDR(png, info, img->w, img->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; ++y) png_write_row(png, const_cast<png_bytep>(&img->px[size_t(y) * img->w * 3]));
    png_write_end(png, nullptr);
    return true;
}

}  // namespace

Image read_png(const std::string& path) {
    File file(std::fopen(path.c_str(), "rb"));
    if (!file.f) throw Error("cannot open '" + path + "' for reading");
    unsigned char sig[8];
    if (std::fread(sig, 1, 8, file.f) != 8 || png_sig_cmp(sig, 0, 8) != 0) throw Error("'" + path + "' is not a PNG file");
    PngError err;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn);
    if (!png) throw Error("PNG: out of memory");
    png_infop info = png_create_info_struct(png);
    std::vector<uint8_t> rgba;
    std::vector<png_bytep> rows;
    png_uint_32 w = 0, h = 0;
    const bool ok = info && read_rgba(file.f, png, info, &rgba, &rows, &w, &h);
    png_destroy_read_struct(&png, &info, nullptr);
    if (!ok) throw Error("'" + path + "' is not a readable PNG: " + err.msg);
    if (rgba.empty()) throw Error("'" + path + "': image size " + std::to_string(w) + "x" + std::to_string(h) + " is outside 1..16384");
    Image img(static_cast<int>(w), static_cast<int>(h), Rgb{255, 255, 255});
    for (size_t i = 0; i < size_t(w) * h; ++i) {
        const unsigned a = rgba[i * 4 + 3];
        for (int c = 0; c < 3; ++c) img.px[i * 3 + c] = uint8_t((rgba[i * 4 + c] * a + 255 * (255 - a) + 127) / 255);
    }
    return img;
}

void write_png(const std::string& path, const Image& img) {
    const auto bytes = encode_png(img);
    std::ofstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open '" + path + "' for writing");
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) throw Error("writing '" + path + "' failed");
}

std::vector<uint8_t> encode_png(const Image& img) {
    if (img.w <= 0 || img.h <= 0) throw Error("cannot write an empty image");
    PngError err;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn);
    if (!png) throw Error("PNG: out of memory");
    png_infop info = png_create_info_struct(png);
    std::vector<uint8_t> out;
    const bool ok = info && write_rgb(png, info, &img, &out);
    png_destroy_write_struct(&png, &info);
    if (!ok) throw Error(std::string("PNG encoding failed: ") + err.msg);
    return out;
}

int Scene::text_width(const std::string& s) { return int(s.size()) * font::kWidth; }
int Scene::text_height() { return font::kHeight; }

namespace {

void fill(Image& im, int x0, int y0, int x1, int y1, Rgb c) {
    x0 = std::max(x0, 0); y0 = std::max(y0, 0); x1 = std::min(x1, im.w); y1 = std::min(y1, im.h);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) im.set(x, y, c);
}

void blend(Image& im, int x, int y, Rgb c, unsigned a) {
    if (x < 0 || y < 0 || x >= im.w || y >= im.h || a == 0) return;
    const Rgb b = im.at(x, y);
    auto mix = [&](uint8_t f, uint8_t g) { return uint8_t((f * a + g * (255 - a) + 127) / 255); };
    im.set(x, y, {mix(c.r, b.r), mix(c.g, b.g), mix(c.b, b.b)});
}

int iround(double v) { return int(std::lround(v)); }

std::string xml(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '<') o += "&lt;";
        else if (ch == '>') o += "&gt;";
        else if (ch == '&') o += "&amp;";
        else if (ch == '"') o += "&quot;";
        else o += ch;
    }
    return o;
}

std::string hex(Rgb c) {
    char b[8];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
    return b;
}

std::string base64(const std::vector<uint8_t>& d) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string o;
    for (size_t i = 0; i < d.size(); i += 3) {
        const uint32_t v = (uint32_t(d[i]) << 16) | (i + 1 < d.size() ? uint32_t(d[i + 1]) << 8 : 0) | (i + 2 < d.size() ? d[i + 2] : 0);
        o += t[(v >> 18) & 63];
        o += t[(v >> 12) & 63];
        o += i + 1 < d.size() ? t[(v >> 6) & 63] : '=';
        o += i + 2 < d.size() ? t[v & 63] : '=';
    }
    return o;
}

}  // namespace

Image Scene::raster() const {
    Image im(w, h, background);
    for (const auto& item : items) {
        if (const auto* r = std::get_if<Rect>(&item)) {
            const int x0 = iround(r->x), y0 = iround(r->y), x1 = iround(r->x + r->w), y1 = iround(r->y + r->h);
            if (r->filled) fill(im, x0, y0, x1, y1, r->fill);
            if (r->stroke_w > 0) {
                const int t = std::max(1, iround(r->stroke_w));
                fill(im, x0, y0, x1, y0 + t, r->stroke);
                fill(im, x0, y1 - t, x1, y1, r->stroke);
                fill(im, x0, y0, x0 + t, y1, r->stroke);
                fill(im, x1 - t, y0, x1, y1, r->stroke);
            }
        } else if (const auto* l = std::get_if<Line>(&item)) {
            const double len = std::max(std::fabs(l->x1 - l->x0), std::fabs(l->y1 - l->y0));
            const int n = std::max(1, iround(len));
            const int t = std::max(1, iround(l->width));
            for (int i = 0; i <= n; ++i) {
                const int x = iround(l->x0 + (l->x1 - l->x0) * i / n), y = iround(l->y0 + (l->y1 - l->y0) * i / n);
                fill(im, x - t / 2, y - t / 2, x - t / 2 + t, y - t / 2 + t, l->color);
            }
        } else if (const auto* tx = std::get_if<Text>(&item)) {
            int x = iround(tx->x) - (tx->centred ? text_width(tx->s) / 2 : 0);
            const int y = iround(tx->y);
            for (char ch : tx->s) {
                const int code = (unsigned char)ch;
                if (code >= font::kFirst && code < font::kFirst + font::kCount) {
                    const unsigned char* g = font::kGlyphs[code - font::kFirst];
                    for (int gy = 0; gy < font::kHeight; ++gy)
                        for (int gx = 0; gx < font::kWidth; ++gx) blend(im, x + gx, y + gy, tx->color, g[gy * font::kWidth + gx]);
                }
                x += font::kWidth;
            }
        } else if (const auto* p = std::get_if<Picture>(&item)) {
            for (int y = 0; y < p->img.h * p->scale; ++y)
                for (int x = 0; x < p->img.w * p->scale; ++x)
                    if (p->x + x >= 0 && p->y + y >= 0 && p->x + x < im.w && p->y + y < im.h)
                        im.set(p->x + x, p->y + y, p->img.at(x / p->scale, y / p->scale));
        }
    }
    return im;
}

std::string Scene::svg() const {
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << ' ' << h
      << "\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"15\">\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << w << "\" height=\"" << h << "\" fill=\"" << hex(background) << "\"/>\n";
    for (const auto& item : items) {
        if (const auto* r = std::get_if<Rect>(&item)) {
            o << "<rect x=\"" << r->x << "\" y=\"" << r->y << "\" width=\"" << r->w << "\" height=\"" << r->h << "\" fill=\""
              << (r->filled ? hex(r->fill) : "none") << '"';
            if (r->stroke_w > 0) o << " stroke=\"" << hex(r->stroke) << "\" stroke-width=\"" << r->stroke_w << '"';
            o << "/>\n";
        } else if (const auto* l = std::get_if<Line>(&item)) {
            o << "<line x1=\"" << l->x0 << "\" y1=\"" << l->y0 << "\" x2=\"" << l->x1 << "\" y2=\"" << l->y1 << "\" stroke=\""
              << hex(l->color) << "\" stroke-width=\"" << l->width << "\"/>\n";
        } else if (const auto* t = std::get_if<Text>(&item)) {
            o << "<text x=\"" << t->x << "\" y=\"" << t->y + 14 << "\" fill=\"" << hex(t->color) << '"'
              << (t->centred ? " text-anchor=\"middle\"" : "") << " xml:space=\"preserve\">" << xml(t->s) << "</text>\n";
        } else if (const auto* p = std::get_if<Picture>(&item)) {
            o << "<image x=\"" << p->x << "\" y=\"" << p->y << "\" width=\"" << p->img.w * p->scale << "\" height=\""
              << p->img.h * p->scale << "\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,"
              << base64(encode_png(p->img)) << "\"/>\n";
        }
    }
    o << "</svg>\n";
    return o.str();
}

void Scene::save(const std::string& path) const {
    auto ends = [&](const char* e) { const std::string s(e); return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0; };
    if (ends(".png")) return write_png(path, raster());
    if (ends(".svg")) {
        std::ofstream f(path);
        if (!f) throw Error("cannot open '" + path + "' for writing");
        f << svg();
        if (!f) throw Error("writing '" + path + "' failed");
        return;
    }
    throw Error("output '" + path + "' must end in .png or .svg");
}

Rgb sequential(double v, double lo, double hi, Rgb to) {
    const double t = hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) : 0.5;
    auto m = [&](uint8_t c) { return uint8_t(std::lround(255 + (c - 255.0) * t)); };
    return {m(to.r), m(to.g), m(to.b)};
}

Rgb diverging(double v, double lo, double hi) {
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    if (m == 0) return {255, 255, 255};
    const double t = std::clamp(v / m, -1.0, 1.0);
    return t >= 0 ? sequential(t, 0, 1, {202, 0, 32}) : sequential(-t, 0, 1, {5, 113, 176});
}

Rgb ink_on(Rgb b) { return (0.299 * b.r + 0.587 * b.g + 0.114 * b.b) < 128 ? Rgb{255, 255, 255} : Rgb{0, 0, 0}; }

}  // namespace tconv::cli
