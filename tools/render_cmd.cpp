// `tconv render`: the seeds' figures as pictures (PNG or SVG): input, kernel and outputs as coloured grids
// with their values, the distribute steps, the zero-inserted view with the flipped kernel, C and C^T, and
// the overlap map. --json prints where every panel and cell is, so tests (and people) can find them.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "draw.hpp"
#include "print.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/error.hpp"
#include "tconv/explain.hpp"

namespace tconv::cli {

namespace {

const Rgb kBlue{33, 102, 172}, kGreen{0, 109, 44}, kGrey{190, 190, 190}, kHighlight{255, 140, 0};

struct Panel {
    std::string title;
    Dims shape;                   // (lead..., rows, cols)
    std::vector<double> values;
    std::vector<char> blank;      // cells shown empty (inserted zeros, dilation holes, no weight)
    std::vector<char> dim;        // cells drawn grey (cropped by the padding)
    std::vector<char> mark;       // cells framed in orange (the chosen cell, its window, its terms)
    Rgb hue = kGreen;
    bool diverging = false;
    // filled by layout
    int x = 0, y = 0, w = 0, h = 0, cell_w = 0, cell_h = 30;
};

int64_t count(const Dims& d) {
    int64_t r = 1;
    for (int64_t x : d) r *= x;
    return r;
}

Panel panel(std::string title, Dims shape, std::vector<double> values, Rgb hue) {
    Panel p;
    p.title = std::move(title);
    if (shape.size() == 1) shape.insert(shape.begin(), 1);  // 1-D: one row
    while (shape.size() > 2 && shape[0] == 1) shape.erase(shape.begin());
    p.shape = std::move(shape);
    p.values = std::move(values);
    p.hue = hue;
    for (double v : p.values) p.diverging = p.diverging || v < 0;
    return p;
}

void measure(Panel& p) {
    int tw = 0;
    for (size_t x = 0; x < p.values.size(); ++x) tw = std::max(tw, Scene::text_width(format_number(p.values[x])));
    p.cell_w = std::max(34, tw + 12);
    const int64_t rows = p.shape[p.shape.size() - 2], cols = p.shape.back();
    const int64_t slices = count(p.shape) / (rows * cols);
    const int label = slices > 1 ? 22 : 0;
    p.w = std::max<int>(int(cols) * p.cell_w, Scene::text_width(p.title));
    p.h = 26 + int(slices) * (label + int(rows) * p.cell_h + 10);
}

void draw(Scene& s, const Panel& p) {
    s.text(p.x, p.y, p.title, {40, 40, 40});
    const int64_t rows = p.shape[p.shape.size() - 2], cols = p.shape.back();
    const int64_t slices = count(p.shape) / (rows * cols);
    double lo = 0, hi = 0;
    for (double v : p.values) { lo = std::min(lo, v); hi = std::max(hi, v); }
    int y = p.y + 26;
    for (int64_t sl = 0; sl < slices; ++sl) {
        if (slices > 1) {
            s.text(p.x, y, "[" + std::to_string(sl) + "]", {90, 90, 90});
            y += 22;
        }
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
                const size_t at = size_t((sl * rows + r) * cols + c);
                const double v = p.values[at];
                const int cx = p.x + int(c) * p.cell_w, cy = y + int(r) * p.cell_h;
                const bool blank = !p.blank.empty() && p.blank[at], dim = !p.dim.empty() && p.dim[at];
                Rgb bg = blank ? Rgb{248, 248, 248} : p.diverging ? diverging(v, lo, hi) : sequential(v, 0, hi, p.hue);
                if (dim) bg = Rgb{225, 225, 225};
                s.rect(cx, cy, p.cell_w, p.cell_h, bg);
                s.frame(cx, cy, p.cell_w, p.cell_h, {160, 160, 160}, 1);
                if (!blank) s.text(cx + p.cell_w / 2.0, cy + 6, format_number(v), dim ? Rgb{120, 120, 120} : ink_on(bg), true);
            }
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
                const size_t at = size_t((sl * rows + r) * cols + c);
                if (!p.mark.empty() && p.mark[at])
                    s.frame(p.x + int(c) * p.cell_w, y + int(r) * p.cell_h, p.cell_w, p.cell_h, kHighlight, 3);
            }
        y += int(rows) * p.cell_h + 10;
    }
}

// Lays panels out in rows no wider than `width`, with a heading line of text on top.
Scene layout(std::vector<Panel>& panels, const std::vector<std::string>& heading, int width = 1400) {
    Scene s;
    int x = 20, y = 20 + int(heading.size()) * 22 + (heading.empty() ? 0 : 12), row_h = 0, max_w = 0;
    for (auto& p : panels) {
        measure(p);
        if (x > 20 && x + p.w > width) {
            x = 20;
            y += row_h + 24;
            row_h = 0;
        }
        p.x = x;
        p.y = y;
        x += p.w + 36;
        row_h = std::max(row_h, p.h);
        max_w = std::max(max_w, p.x + p.w);
    }
    for (const auto& l : heading) max_w = std::max(max_w, 20 + Scene::text_width(l));
    s.w = max_w + 20;
    s.h = y + row_h + 20;
    for (size_t k = 0; k < heading.size(); ++k) s.text(20, 20 + 22 * double(k), heading[k], {0, 0, 0});
    for (const auto& p : panels) draw(s, p);
    return s;
}

// Flat index of (channel, spatial position) in a (channels, ext...) tensor.
int64_t at(int64_t ch, const Dims& pos, const Dims& ext) {
    int64_t f = ch;
    for (size_t a = 0; a < ext.size(); ++a) f = f * ext[a] + pos[a];
    return f;
}

std::vector<Panel> distribute_panels(const explain::Explanation& e, bool steps) {
    const Problem& p = e.p;
    std::vector<Panel> v;
    v.push_back(panel("input", with_channels(p.ic, p.i), e.src, kBlue));
    v.push_back(panel("kernel", p.wei_shape(), e.wei, kBlue));
    v.back().diverging = true;
    const Dims o = p.o();
    if (steps && e.steps.size() <= 16) {
        for (size_t k = 0; k < e.steps.size(); ++k) {
            const auto& st = e.steps[k];
            Panel q = panel("step " + std::to_string(k + 1) + ": + " + format_number(st.value) + " * kernel at [" + dims_str(st.at, ',') + "]",
                            with_channels(p.oc, e.full), st.running, kGreen);
            q.mark.assign(q.values.size(), 0);
            const int64_t ocg = p.oc / p.g, grp = st.ic / (p.ic / p.g);
            for (int64_t oc = grp * ocg; oc < grp * ocg + ocg; ++oc)
                each_index(p.k, [&](const Dims& kk) {
                    Dims f(p.rank());
                    for (int a = 0; a < p.rank(); ++a) f[a] = st.at[a] + kk[a] * p.d[a];
                    q.mark[at(oc, f, e.full)] = 1;
                });
            v.push_back(std::move(q));
        }
    }
    Panel full = panel("full output (grey: carved off by the padding)", with_channels(p.oc, e.full), e.full_out, kGreen);
    full.dim.assign(full.values.size(), 0);
    for (int64_t oc = 0; oc < p.oc; ++oc)
        each_index(e.full, [&](const Dims& f) {
            bool kept = true;
            for (int a = 0; a < p.rank(); ++a) kept = kept && f[a] >= p.pb[a] && f[a] < p.pb[a] + o[a];
            full.dim[at(oc, f, e.full)] = !kept;
        });
    v.push_back(std::move(full));
    v.push_back(panel("output", e.dst_shape(), e.distribute, kGreen));
    return v;
}

std::vector<Panel> collect_panels(const explain::Explanation& e, int64_t oc, const Dims& cell) {
    const Problem& p = e.p;
    std::vector<Panel> v;
    const auto terms = explain::cell_terms(e, oc, cell);
    Panel pad = panel("zero-inserted, padded input", with_channels(p.ic, e.padded_size), e.padded, kBlue);
    for (char v : e.padded_value) pad.blank.push_back(!v);
    pad.mark.assign(pad.values.size(), 0);
    const int64_t icg = p.ic / p.g;
    for (int64_t il = 0; il < icg; ++il)
        each_index(e.k_eff, [&](const Dims& t) {
            Dims q(p.rank());
            for (int a = 0; a < p.rank(); ++a) q[a] = cell[a] + t[a];
            pad.mark[at((oc / (p.oc / p.g)) * icg + il, q, e.padded_size)] = 1;
        });
    v.push_back(std::move(pad));
    Panel fl = panel("flipped kernel", with_channels(p.oc, with_channels(icg, e.k_eff)), e.flipped, kBlue);
    fl.diverging = true;
    for (char v : e.flipped_tap) fl.blank.push_back(!v);
    v.push_back(std::move(fl));
    Panel out = panel("output: cell [" + dims_str(cell, ',') + "] framed", e.dst_shape(), e.collect, kGreen);
    out.mark.assign(out.values.size(), 0);
    out.mark[at(oc, cell, p.o())] = 1;
    v.push_back(std::move(out));
    return v;
}

std::vector<Panel> matrix_panels(const explain::Explanation& e) {
    std::vector<Panel> v;
    if (e.C.rows * e.C.cols > 4096) throw Error("C has " + std::to_string(e.C.rows * e.C.cols) + " entries; render draws at most 4096");
    auto add = [&](const std::string& title, const SparseMatrix<double>& M) {
        Panel q = panel(title, {M.rows, M.cols}, M.to_dense(), kBlue);
        q.diverging = true;
        q.blank.assign(q.values.size(), 1);
        for (int64_t r = 0; r < M.rows; ++r)
            for (int64_t x = M.row_start[r]; x < M.row_start[r + 1]; ++x) q.blank[size_t(r * M.cols + M.col[x])] = 0;
        v.push_back(std::move(q));
    };
    add("C", e.C);
    add("C^T", e.C.transposed());
    v.push_back(panel("x", {e.C.rows, 1}, e.src, kBlue));
    v.push_back(panel("C^T x", {e.C.cols, 1}, e.matrix, kGreen));
    return v;
}

Panel overlap_panel(const Problem& p) {
    const auto m = checkerboard::overlap(p);
    char buf[64];
    std::snprintf(buf, sizeof buf, "overlap: taps per output cell (unevenness %.2f)", checkerboard::pattern({p}).unevenness);
    return panel(buf, m.shape, m.values, {122, 1, 119});
}

struct RenderArgs {
    Source src;
    std::string view = "all", output;
    std::vector<int64_t> cell;
    int64_t channel = 0;
    bool json = false;
};

int run_render(const RenderArgs& a) {
    if (a.output.empty()) throw Error("--output FILE.png or FILE.svg is required");
    static const char* views[] = {"distribute", "steps", "collect", "matrix", "overlap", "all"};
    if (std::find(std::begin(views), std::end(views), a.view) == std::end(views))
        throw Error("--view=" + a.view + " must be distribute, steps, collect, matrix, overlap or all");
    const Loaded l = load(a.src);
    explain::Limits lim;
    lim.max_elems = 1024;
    lim.max_steps = 64;
    const auto e = explain::explain(l.p, l.src, l.wei, l.bia, lim);
    const Dims cell = a.cell.empty() ? Dims(l.p.rank(), 0) : Dims(a.cell.begin(), a.cell.end());
    if (static_cast<int>(cell.size()) != l.p.rank())
        throw Error("--cell has " + std::to_string(cell.size()) + " values; the output has " + std::to_string(l.p.rank()) + " spatial axes");
    explain::cell_terms(e, a.channel, cell);
    std::vector<Panel> panels;
    auto add = [&](std::vector<Panel> more) { for (auto& p : more) panels.push_back(std::move(p)); };
    if (a.view == "distribute" || a.view == "steps" || a.view == "all") add(distribute_panels(e, a.view != "distribute"));
    if (a.view == "collect" || a.view == "all") add(collect_panels(e, a.channel, cell));
    if (a.view == "matrix" || (a.view == "all" && e.C.rows * e.C.cols <= 4096)) add(matrix_panels(e));
    if (a.view == "overlap" || a.view == "all") panels.push_back(overlap_panel(l.p));
    std::vector<std::string> heading{l.example ? l.example->name + ": " + l.example->description : std::string("tconv render"),
                                     "problem " + l.p.str()};
    {  // wrap the description to the picture's width
        std::vector<std::string> lines;
        std::istringstream w(wrap(heading[0], 140, "  "));
        for (std::string line; std::getline(w, line);) lines.push_back(line);
        lines.push_back(heading[1]);
        heading = lines;
    }
    Scene s = layout(panels, heading);
    s.save(a.output);
    if (a.json) {
        nlohmann::json j;
        j["width"] = s.w;
        j["height"] = s.h;
        for (const auto& p : panels)
            j["panels"].push_back({{"title", p.title}, {"x", p.x}, {"y", p.y + 26}, {"cell_w", p.cell_w}, {"cell_h", p.cell_h},
                                   {"shape", p.shape}, {"values", p.values}});
        std::cout << j.dump() << "\n";
    } else {
        std::cout << "wrote " << a.output << " (" << s.w << "x" << s.h << ")\n";
    }
    return 0;
}

}  // namespace

Command add_render(CLI::App& app) {
    auto a = std::make_shared<RenderArgs>();
    auto* c = app.add_subcommand("render", "Draw a problem's grids as PNG or SVG: distribute, steps, collect, matrix, overlap");
    add_source(c, a->src);
    c->add_option("--view", a->view, "distribute, steps (distribute with every step), collect, matrix, overlap, all (default)");
    c->add_option("--cell", a->cell, "the output cell to frame in the collect view")->delimiter(',');
    c->add_option("--channel", a->channel, "the output channel of --cell");
    c->add_option("-o,--output", a->output, "the picture: .png or .svg")->required();
    c->add_flag("--json", a->json, "print the layout (panels, cell sizes, values) as JSON");
    return {c, [a] { return run_render(*a); }};
}

}  // namespace tconv::cli
