// `tconv checkerboard`, `tconv upsample` and `tconv translate`.
#include <cmath>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "draw.hpp"
#include "print.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/error.hpp"
#include "tconv/npy.hpp"
#include "tconv/ops.hpp"
#include "tconv/translate.hpp"
#include "tconv/upsample.hpp"

namespace tconv::cli {

namespace {

std::string fixed(double v, int digits = 3) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

// A map as a heat-map panel: cells coloured by value, numbers written when they fit.
void heat(Scene& s, int x, int y, const std::string& title, int64_t rows, int64_t cols, const double* v, int cell, double lo, double hi) {
    s.text(x, y, title, {30, 30, 30});
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const Rgb bg = lo < 0 ? diverging(v[r * cols + c], lo, hi) : sequential(v[r * cols + c], 0, hi, {122, 1, 119});
            s.rect(x + c * cell, y + 24 + r * cell, cell, cell, bg);
            if (cell >= 30) {
                s.frame(x + c * cell, y + 24 + r * cell, cell, cell, {170, 170, 170}, 1);
                const std::string t = format_number(std::round(v[r * cols + c] * 1000) / 1000);
                if (Scene::text_width(t) < cell - 2) s.text(x + c * cell + cell / 2.0, y + 24 + r * cell + cell / 2.0 - 9, t, ink_on(bg), true);
            }
        }
}

// ---------------------------------------------------------------- checkerboard
struct CheckerArgs {
    std::vector<std::string> problems;
    std::vector<int64_t> kernel{3}, stride{2}, dilation{1}, padding{0}, size{8};
    int rank = 2, layers = 1;
    std::string weights, output;
    bool json = false;
};

int run_checkerboard(const CheckerArgs& a) {
    std::vector<Problem> stack;
    if (!a.problems.empty()) {
        for (const auto& s : a.problems) stack.push_back(Problem::parse(s));
    } else {
        if (a.rank < 1 || a.rank > 3) throw Error("--rank=" + std::to_string(a.rank) + " must be 1, 2 or 3");
        if (a.layers < 1 || a.layers > 8) throw Error("--layers=" + std::to_string(a.layers) + " must be 1..8");
        Dims in = broadcast(a.size, a.rank, "size");
        for (int l = 0; l < a.layers; ++l) {
            Problem p = pytorch_problem(1, 1, 1, in, a.kernel, a.stride, a.padding, {0}, 1, a.dilation);
            stack.push_back(p);
            in = p.o();
        }
    }
    if (stack[0].rank() > 2 && !a.output.empty()) throw Error("pictures are drawn for 1-D and 2-D layers only");
    const auto map = checkerboard::overlap(stack);
    const auto pat = checkerboard::pattern(stack);
    nlohmann::json j;
    std::ostringstream os;
    os << "layers:";
    for (const auto& p : stack) os << " " << p.str();
    os << "\n\n";
    for (const auto& [title, m] : {std::pair<std::string, const checkerboard::Map*>{"overlap: kernel taps reaching each output cell (ones in, ones kernels)", &map},
                                   {"the same far from the borders, one period (" + dims_str(pat.shape, 'x') + ")", &pat}}) {
        if (m->values.size() <= 4096) os << side_by_side({grid(title, m->shape, m->values.data())}) << "\n";
        else os << title << ": " << m->values.size() << " cells (too many to print)\n\n";
    }
    os << "unevenness (max - min) / max over the period: " << fixed(pat.unevenness)
       << (pat.unevenness == 0 ? "  (even: no checkerboard from overlap)\n" : "  (uneven: a constant input comes out striped)\n");
    j["layers"] = nlohmann::json::array();
    for (const auto& p : stack) j["layers"].push_back(p.str());
    j["overlap"] = {{"shape", map.shape}, {"values", map.values}};
    j["pattern"] = {{"shape", pat.shape}, {"values", pat.values}, {"unevenness", pat.unevenness}};
    checkerboard::Map wp;
    if (!a.weights.empty()) {
        if (stack.size() != 1) throw Error("--weights describes one layer; give a single layer");
        const auto w = npy::load(a.weights);
        Problem p = stack[0];
        if (w.shape.size() != size_t(p.rank()) + 2) throw Error("--weights must have shape (C_in, C_out/groups, k...), got (" + dims_str(w.shape, ',') + ")");
        p.ic = w.shape[0];
        p.oc = w.shape[1] * p.g;
        p.k = Dims(w.shape.begin() + 2, w.shape.end());
        std::vector<double> wv = w.dtype == npy::DType::f32 ? std::vector<double>(w.f32.begin(), w.f32.end()) : w.f64;
        wp = checkerboard::weight_pattern(p, wv);
        os << "\n" << side_by_side({grid("per-phase sums of the weights (output channel, phase...): a constant input of 1 gives these", wp.shape, wp.values.data())})
           << "unevenness of the weights: " << fixed(wp.unevenness) << "\n";
        j["weights"] = {{"shape", wp.shape}, {"values", wp.values}, {"unevenness", wp.unevenness}};
    }
    if (!a.output.empty()) {
        Scene s;
        const Dims& ms = map.shape;
        const int64_t rows = ms.size() == 2 ? ms[0] : 1, cols = ms.back();
        const int cell = int(std::clamp<int64_t>(640 / std::max<int64_t>(rows, cols), 6, 40));
        const Dims& ps = pat.shape;
        const int64_t prow = ps.size() == 2 ? ps[0] : 1, pcol = ps.back();
        const int pcell = int(std::clamp<int64_t>(320 / std::max<int64_t>(prow, pcol), 12, 48));
        s.text(20, 12, "checkerboard: " + std::to_string(stack.size()) + " layer(s), " + stack[0].str() + (stack.size() > 1 ? " ..." : ""));
        heat(s, 20, 44, "overlap map", rows, cols, map.values.data(), cell, 0, map.max);
        const int px = 20 + int(cols) * cell + 40;
        heat(s, px, 44, "one period, unevenness " + fixed(pat.unevenness, 2), prow, pcol, pat.values.data(), pcell, 0, pat.max);
        int w = std::max<int>(px + int(pcol) * pcell, px + Scene::text_width("one period, unevenness 0.00")) + 20;
        int h = 44 + 24 + int(std::max(rows * cell, prow * pcell)) + 20;
        if (!wp.values.empty()) {
            const int64_t wr = wp.shape.size() == 3 ? wp.shape[1] : 1, wc = wp.shape.back();
            heat(s, 20, h, "per-phase weight sums, channel 0 (unevenness " + fixed(wp.unevenness, 2) + ")", wr, wc, wp.values.data(), 48,
                 std::min(0.0, wp.min), std::max(std::fabs(wp.min), wp.max));
            h += 24 + int(wr) * 48 + 20;
            w = std::max(w, 40 + Scene::text_width("per-phase weight sums, channel 0 (unevenness 0.00)"));
        }
        s.w = std::max(w, 40 + Scene::text_width("checkerboard: 1 layer(s), " + stack[0].str()));
        s.h = h;
        s.save(a.output);
        os << "wrote " << a.output << "\n";
    }
    if (a.json) std::cout << j.dump() << "\n";
    else std::cout << os.str();
    return 0;
}

// ---------------------------------------------------------------- upsample
struct UpsampleArgs {
    std::string input, output, mode = "bilinear", compare;
    int64_t factor = 2;
    bool align_corners = false;
};

Tensor<double> image_tensor(const Image& im) {
    Tensor<double> t({1, 3, im.h, im.w});
    for (int y = 0; y < im.h; ++y)
        for (int x = 0; x < im.w; ++x) {
            const Rgb c = im.at(x, y);
            t.data[size_t((0 * im.h + y) * im.w + x)] = c.r / 255.0;
            t.data[size_t((1 * im.h + y) * im.w + x)] = c.g / 255.0;
            t.data[size_t((2 * im.h + y) * im.w + x)] = c.b / 255.0;
        }
    return t;
}

Image tensor_image(const Tensor<double>& t) {
    const int h = int(t.shape[2]), w = int(t.shape[3]);
    const int64_t C = t.shape[1];
    Image im(w, h);
    auto q = [](double v) { return uint8_t(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto ch = [&](int64_t c) { return t.data[size_t(((std::min(c, C - 1)) * h + y) * w + x)]; };
            im.set(x, y, {q(ch(0)), q(ch(1)), q(ch(2))});
        }
    return im;
}

// A test picture with edges, curves and flat areas, for when no image is given.
Image procedural(int w, int h) {
    Image im(w, h);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double u = double(x) / w, v = double(y) / h;
            const double r = std::hypot(u - 0.35, v - 0.4);
            double R = 0.55 + 0.35 * std::sin(9 * u), G = 0.5 + 0.3 * v, B = 0.6 - 0.3 * u;
            if (r < 0.22) { R = 0.95; G = 0.8; B = 0.2; }
            if (std::fabs(u - 0.75) < 0.08 && v > 0.2 && v < 0.85) { R = 0.15; G = 0.25; B = 0.55; }
            if (std::fmod(x + y, 16) < 2 && u > 0.55) { R = G = B = 0.95; }
            im.set(x, y, {uint8_t(R * 255), uint8_t(G * 255), uint8_t(B * 255)});
        }
    return im;
}

// A transposed convolution whose taps cover the output unevenly: kernel 3, stride 2 (for factor 2; in
// general kernel f+1, stride f), uniform weights scaled to keep the mean: the checkerboard.
Tensor<double> uneven_transposed(const Tensor<double>& x, int64_t f) {
    const int64_t C = x.shape[1];
    const Dims in(x.shape.begin() + 2, x.shape.end());
    const int64_t k = f + 1, pb = (k - f) / 2;
    Problem p = pytorch_problem(x.shape[0], C, C, in, {k}, {f}, {0}, {0}, C);
    p.pb = Dims(in.size(), pb);
    p.pe = Dims(in.size(), k - f - pb);
    p.validate();
    double scale = 1;
    for (size_t a = 0; a < in.size(); ++a) scale *= double(f) / double(k);
    std::vector<double> w(size_t(p.wei_elems()), scale);
    Tensor<double> y(p.dst_shape());
    conv_transpose<double>(p, x.view(), {w.data(), p.wei_shape()}, {}, y.view());
    return y;
}

Tensor<double> fcn_bilinear(const Tensor<double>& x, int64_t f) {
    const Dims in(x.shape.begin() + 2, x.shape.end());
    Problem p = upsample::bilinear_problem(x.shape[1], in, f);
    p.mb = x.shape[0];
    const auto w = upsample::bilinear_weights(x.shape[1], f, int(in.size()));
    Tensor<double> y(p.dst_shape());
    conv_transpose<double>(p, x.view(), {w.data(), p.wei_shape()}, {}, y.view());
    return y;
}

Tensor<double> resize_conv(const Tensor<double>& x, int64_t f) {
    const int rank = int(x.shape.size()) - 2;
    std::vector<double> k1{0.25, 0.5, 0.25}, k{1.0};
    for (int a = 0; a < rank; ++a) {
        std::vector<double> next;
        for (double u : k)
            for (double v : k1) next.push_back(u * v);
        k = next;
    }
    return upsample::resize_convolution<double>(x.view(), f, {3}, k);
}

Tensor<double> apply(const std::string& mode, const Tensor<double>& x, int64_t f, bool align) {
    const Dims in(x.shape.begin() + 2, x.shape.end());
    Dims out;
    for (int64_t v : in) out.push_back(v * f);
    if (mode == "nearest" || mode == "bilinear" || mode == "linear" || mode == "trilinear" || mode == "bicubic" || mode == "cubic")
        return upsample::interpolate<double>(x.view(), out, upsample::mode(mode), align);
    if (mode == "fcn") return fcn_bilinear(x, f);
    if (mode == "resize-conv") return resize_conv(x, f);
    if (mode == "transposed") return uneven_transposed(x, f);
    if (mode == "pixel-shuffle") return upsample::pixel_shuffle<double>(x.view(), f);
    throw Error("--mode=" + mode + " must be nearest, bilinear, bicubic, fcn, resize-conv, transposed or pixel-shuffle");
}

int run_upsample(const UpsampleArgs& a) {
    if (a.factor < 1 || a.factor > 16) throw Error("--factor=" + std::to_string(a.factor) + " must be 1..16");
    if (a.output.empty()) throw Error("--output is required (.npy, or .png for images)");
    auto ends = [](const std::string& s, const char* e) { const std::string t(e); return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0; };
    if (!a.compare.empty() || a.input.empty()) {  // the comparison picture
        if (!ends(a.output, ".png") && !ends(a.output, ".svg")) throw Error("the comparison picture --output must end in .png or .svg");
        Image src = a.compare.empty() || a.compare == "procedural" ? procedural(48, 48) : read_png(a.compare);
        if (int64_t(src.w) * src.h > 256 * 256) throw Error("the comparison image is " + std::to_string(src.w) + "x" + std::to_string(src.h) + "; use one of at most 256x256 pixels (65536)");
        const auto x = image_tensor(src);
        const char* modes[] = {"nearest", "bilinear", "bicubic", "fcn", "resize-conv", "transposed"};
        const std::string labels[] = {"nearest", "bilinear", "bicubic", "FCN bilinear kernel", "resize-convolution",
                                      "transposed k" + std::to_string(a.factor + 1) + " s" + std::to_string(a.factor)};
        // Each method upsamples a constant 12x12 image; the unevenness of its output far from the borders
        // is the checkerboard it would stamp on a flat region.
        const Tensor<double> flat({1, 1, 12, 12}, 1.0);
        Scene s;
        const int scale = std::max(1, int(256 / (src.w * a.factor)));
        const int pw = int(src.w * a.factor) * scale, ph = int(src.h * a.factor) * scale;
        s.text(20, 12, "upsampling x" + std::to_string(a.factor) + ": fixed interpolations, FCN's kernel, resize-convolution, and a");
        s.text(20, 32, "transposed convolution with kernel " + std::to_string(a.factor + 1) + ", stride " + std::to_string(a.factor) +
                            " (uneven overlap: the checkerboard)");
        int x0 = 20, y0 = 64;
        s.text(x0, y0, "input (" + std::to_string(src.w) + "x" + std::to_string(src.h) + ")");
        s.picture(x0, y0 + 22, scale * int(a.factor), src);
        x0 += pw + 24;
        std::cout << "method               checkerboard unevenness\n";
        for (int m = 0; m < 6; ++m) {
            const auto y = apply(modes[m], x, a.factor, false);
            const std::string& label = labels[m];
            const auto f = apply(modes[m], flat, a.factor, false);
            const int64_t n = f.shape[3], margin = 3 * a.factor;
            std::vector<double> inside;
            for (int64_t r = margin; r < n - margin; ++r)
                for (int64_t c = margin; c < n - margin; ++c) inside.push_back(f.data[size_t(r * n + c)]);
            const double u = checkerboard::unevenness(inside);
            std::cout << label << std::string(21 - std::min<size_t>(20, label.size()), ' ') << fixed(u, 3) << "\n";
            if (x0 + pw > 20 + 4 * (pw + 24)) { x0 = 20; y0 += ph + 60; }
            s.text(x0, y0, label);
            s.picture(x0, y0 + 22, scale, tensor_image(y));
            x0 += pw + 24;
        }
        s.w = 20 + 4 * (pw + 24);
        s.h = y0 + 22 + ph + 20;
        s.save(a.output);
        std::cout << "wrote " << a.output << " (" << s.w << "x" << s.h << ")\n";
        return 0;
    }
    if (ends(a.input, ".png")) {
        const Image im = read_png(a.input);
        if (int64_t(im.w) * im.h * a.factor * a.factor > (int64_t(1) << 26)) throw Error("the upsampled image would have more than 2^26 pixels");
        const auto y = apply(a.mode, image_tensor(im), a.factor, a.align_corners);
        if (!ends(a.output, ".png")) throw Error("an image input writes a .png --output");
        write_png(a.output, tensor_image(y));
        std::cout << "wrote " << a.output << " (" << y.shape[3] << "x" << y.shape[2] << ", " << a.mode << ")\n";
        return 0;
    }
    const auto arr = npy::load(a.input);
    Tensor<double> x;
    x.shape = arr.shape;
    x.data = arr.dtype == npy::DType::f32 ? std::vector<double>(arr.f32.begin(), arr.f32.end()) : arr.f64;
    if (x.shape.size() < 3) throw Error("--input must have shape (N, C, spatial...), got (" + dims_str(x.shape, ',') + ")");
    const auto y = apply(a.mode, x, a.factor, a.align_corners);
    if (arr.dtype == npy::DType::f32) {
        std::vector<float> f(y.data.begin(), y.data.end());
        npy::save(a.output, y.shape, f.data());
    } else {
        npy::save(a.output, y.shape, y.data.data());
    }
    std::cout << "wrote " << a.output << " (" << dims_str(y.shape, ',') << ", " << a.mode << ")\n";
    return 0;
}

// ---------------------------------------------------------------- translate
struct TranslateArgs {
    std::string from = "pytorch", to;
    std::vector<std::string> attrs, options;
    std::vector<int64_t> input_shape, weight_shape;
    bool bias = false, json = false;
};

translate::Value parse_value(const std::string& v) {
    if (v == "true" || v == "True") return true;
    if (v == "false" || v == "False") return false;
    Dims d;
    std::stringstream ss(v);
    std::string part;
    bool ints = !v.empty();
    while (ints && std::getline(ss, part, ',')) {
        try {
            size_t used = 0;
            d.push_back(std::stoll(part, &used));
            ints = used == part.size();
        } catch (const std::exception&) {
            ints = false;
        }
    }
    if (ints) return d;
    return v;
}

translate::Attrs parse_attrs(const std::vector<std::string>& list, const char* what) {
    translate::Attrs a;
    for (const auto& s : list) {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) throw Error(std::string(what) + " '" + s + "' must be name=value (e.g. stride=2 or padding=1,1)");
        a[s.substr(0, eq)] = parse_value(s.substr(eq + 1));
    }
    return a;
}

std::string value_str(const translate::Value& v) {
    if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
    if (const Dims* d = std::get_if<Dims>(&v)) return "[" + dims_str(*d, ',') + "]";
    return std::get<std::string>(v);
}

int run_translate(const TranslateArgs& a) {
    translate::Layer layer;
    layer.framework = translate::framework(a.from);
    layer.attrs = parse_attrs(a.attrs, "--attr");
    layer.input_shape = Dims(a.input_shape.begin(), a.input_shape.end());
    layer.weight_shape = Dims(a.weight_shape.begin(), a.weight_shape.end());
    layer.bias = a.bias;
    if (layer.input_shape.empty() || layer.weight_shape.empty()) throw Error("--input-shape and --weight-shape are required (in the source framework's layouts)");
    const Problem p = translate::to_problem(layer);
    std::vector<std::string> targets;
    if (a.to.empty() || a.to == "all") targets = translate::framework_names();
    else targets.push_back(a.to);
    const auto opts = parse_attrs(a.options, "--option");
    nlohmann::json j;
    j["problem"] = to_json(p);
    j["source_weights"] = translate::weight_layout(layer).str();
    std::ostringstream os;
    os << "source: " << a.from << ", weights " << translate::weight_layout(layer).str() << "\ncanonical problem: " << p.str() << "\n";
    for (const auto& name : targets) {
        const auto t = translate::translate(layer, translate::framework(name), opts);
        nlohmann::json tj;
        for (const auto& [k, v] : t.layer.attrs) tj["attrs"][k] = value_str(v);
        tj["input_shape"] = t.layer.input_shape;
        tj["weight_shape"] = t.layer.weight_shape;
        tj["weights"] = t.weights.str();
        tj["output_shape"] = t.output_shape;
        tj["channels_last"] = t.channels_last;
        tj["exact"] = t.exact;
        tj["representable"] = t.representable;
        tj["crop_begin"] = t.crop_begin;
        tj["crop_end"] = t.crop_end;
        tj["bias_after"] = t.bias_after;
        tj["final_shape"] = t.final_shape;
        tj["notes"] = t.notes;
        tj["code"] = t.code;
        j["targets"][name] = tj;
        os << "\n== " << name << (t.representable ? (t.exact ? " (exact)" : " (with a recipe)") : " (not representable)") << "\n";
        os << "  attributes:";
        for (const auto& [k, v] : t.layer.attrs) os << " " << k << "=" << value_str(v);
        os << "\n  input " << dims_str(t.layer.input_shape, ',') << (t.channels_last ? " (channels last)" : "") << ", weights "
           << dims_str(t.layer.weight_shape, ',') << " as " << t.weights.str() << ", output " << dims_str(t.output_shape, ',') << "\n";
        if (!t.exact) os << "  recipe: crop begin [" << dims_str(t.crop_begin, ',') << "], end [" << dims_str(t.crop_end, ',') << "] (negative: add zeros)"
                         << (t.bias_after ? ", add the bias after" : "") << " -> " << dims_str(t.final_shape, ',') << "\n";
        for (const auto& n : t.notes) os << wrap("  note: " + n, 100, "    ");
        std::istringstream code(t.code);
        std::string line;
        while (std::getline(code, line)) os << "    " << line << "\n";
    }
    if (a.json) std::cout << j.dump(1) << "\n";
    else std::cout << os.str();
    return 0;
}

}  // namespace

Command add_checkerboard(CLI::App& app) {
    auto a = std::make_shared<CheckerArgs>();
    auto* c = app.add_subcommand("checkerboard", "Overlap map and checkerboard unevenness of a layer, a stack, or actual weights");
    c->add_option("--problem", a->problems, "a layer as a problem string; repeat for a stack (later inputs follow)");
    c->add_option("--kernel", a->kernel, "kernel size (one or per axis)")->delimiter(',');
    c->add_option("--stride", a->stride, "stride")->delimiter(',');
    c->add_option("--dilation", a->dilation, "dilation")->delimiter(',');
    c->add_option("--padding", a->padding, "padding")->delimiter(',');
    c->add_option("--size", a->size, "input size of the first layer")->delimiter(',');
    c->add_option("--rank", a->rank, "spatial axes (1, 2 or 3)");
    c->add_option("--layers", a->layers, "stack this many identical layers (1..8)");
    c->add_option("--weights", a->weights, ".npy weights (C_in, C_out/groups, k...): per-phase weight sums");
    c->add_option("-o,--output", a->output, "a picture of the maps (.png or .svg)");
    c->add_flag("--json", a->json, "the maps as JSON");
    return {c, [a] { return run_checkerboard(*a); }};
}

Command add_upsample(CLI::App& app) {
    auto a = std::make_shared<UpsampleArgs>();
    auto* c = app.add_subcommand("upsample", "Nearest, bilinear, bicubic, FCN kernel, resize-convolution, pixel shuffle; a comparison picture");
    c->add_option("-i,--input", a->input, ".npy (N, C, spatial...) or a .png image; without it: the comparison picture");
    c->add_option("-o,--output", a->output, ".npy or .png");
    c->add_option("--mode", a->mode, "nearest, bilinear (linear), bicubic, fcn, resize-conv, transposed, pixel-shuffle");
    c->add_option("--factor", a->factor, "integer scale factor (pixel-shuffle: r)");
    c->add_flag("--align-corners", a->align_corners, "as F.interpolate's align_corners (bilinear, bicubic)");
    c->add_option("--compare", a->compare, "a .png to compare every method on (or 'procedural')");
    return {c, [a] { return run_upsample(*a); }};
}

Command add_translate(CLI::App& app) {
    auto a = std::make_shared<TranslateArgs>();
    auto* c = app.add_subcommand("translate", "Translate a layer between PyTorch, TensorFlow, Keras, ONNX, JAX, MXNet, oneDNN, XNNPACK");
    c->add_option("--from", a->from, "the source framework (default pytorch)");
    c->add_option("--to", a->to, "the target framework, or all (default)");
    c->add_option("--attr", a->attrs, "an attribute in the source's names, e.g. stride=2, padding=1,1, padding=SAME (repeat)");
    c->add_option("--input-shape", a->input_shape, "input shape in the source's layout, e.g. 1,16,8,8")->delimiter(',');
    c->add_option("--weight-shape", a->weight_shape, "weight shape in the source's layout, e.g. 16,8,3,3")->delimiter(',');
    c->add_flag("--bias", a->bias, "the layer has a bias");
    c->add_option("--option", a->options, "target option: data_format=NCHW, transpose_kernel=true (repeat)");
    c->add_flag("--json", a->json, "JSON output");
    return {c, [a] { return run_translate(*a); }};
}

}  // namespace tconv::cli
