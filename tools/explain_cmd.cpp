// `tconv explain`: the four mental models, step by step, on a small problem; `tconv matrix`: C and C^T.
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "print.hpp"
#include "tconv/error.hpp"
#include "tconv/explain.hpp"
#include "tconv/npy.hpp"

namespace tconv::cli {

using explain::Explanation;

namespace {

int64_t prod(const Dims& d) {
    int64_t r = 1;
    for (int64_t x : d) r *= x;
    return r;
}

std::string idx(const Dims& d) { return "[" + dims_str(d, ',') + "]"; }

// Drops a leading channel axis of 1, so one-channel problems print as plain grids.
Dims shown(const Dims& shape) { return shape.size() > 1 && shape[0] == 1 ? Dims(shape.begin() + 1, shape.end()) : shape; }

std::string ranges(const Explanation& e, const Dims& from, const Dims& size) {
    std::string s;
    for (int a = 0; a < e.p.rank(); ++a)
        s += (a ? ", " : "") + axis_name(e.p.rank(), a) + "s " + std::to_string(from[a]) + ".." + std::to_string(from[a] + size[a] - 1);
    return s;
}

std::string n(double v) { return format_number(v); }
std::string paren(double v) { return v < 0 ? "(" + n(v) + ")" : n(v); }

// The header every view starts with: the problem and its size arithmetic.
void header(std::ostream& os, const Loaded& l, const Explanation& e) {
    const Problem& p = e.p;
    os << wrap("tconv explain: " + l.title, 100, "  ");
    os << "problem " << p.str() << "  (input " << dims_str(p.src_shape(), ',') << ", kernel " << dims_str(p.wei_shape(), ',')
       << ", output " << dims_str(p.dst_shape(), ',') << ")\n";
    const Dims o = p.o();
    for (int a = 0; a < p.rank(); ++a)
        os << "  " << axis_name(p.rank(), a) << "s: full output F = s*(i-1) + d*(k-1) + 1 = " << p.s[a] << "*(" << p.i[a]
           << "-1) + " << p.d[a] << "*(" << p.k[a] << "-1) + 1 = " << e.full[a] << "\n    output o = F - pb - pe + op = "
           << e.full[a] << " - " << p.pb[a] << " - " << p.pe[a] << " + " << p.op[a] << " = " << o[a] << "\n";
    if (p.g > 1) os << "  groups " << p.g << ": input channels " << p.ic / p.g << " per group feed " << p.oc / p.g << " output channels each\n";
    os << "  (positions count from 0)\n\n";
    std::vector<Block> b{grid("input " + dims_str(shown(with_channels(p.ic, p.i)), 'x'),
                              shown(with_channels(p.ic, p.i)), e.src.data()),
                         grid("kernel " + dims_str(shown(shown(p.wei_shape())), 'x'), shown(shown(p.wei_shape())), e.wei.data())};
    if (!e.bia.empty()) b.push_back(grid("bias", {p.oc}, e.bia.data()));
    os << side_by_side(b) << "\n";
}

void view_distribute(std::ostream& os, const Explanation& e) {
    const Problem& p = e.p;
    const int64_t ocg = p.oc / p.g, ksz = prod(p.k);
    os << "DISTRIBUTE: each input value times the kernel, added into the full output at (position * stride)\n\n";
    for (size_t k = 0; k < e.steps.size(); ++k) {
        const auto& st = e.steps[k];
        std::vector<double> scaled(static_cast<size_t>(ocg * ksz));
        for (int64_t x = 0; x < ocg * ksz; ++x) scaled[x] = st.value * e.wei[st.ic * ocg * ksz + x];
        Dims reach(p.rank());
        for (int a = 0; a < p.rank(); ++a) reach[a] = p.k_eff(a);
        const std::string who = (p.ic > 1 ? "input[channel " + std::to_string(st.ic) + "]" : std::string("input")) + idx(st.pos);
        os << "step " << k + 1 << ": " << who << " = " << n(st.value) << ", times the kernel, lands on " << ranges(e, st.at, reach)
           << (p.oc > 1 ? " of output channels " + std::to_string(st.ic / (p.ic / p.g) * ocg) + ".." +
                              std::to_string(st.ic / (p.ic / p.g) * ocg + ocg - 1)
                        : std::string())
           << "\n";
        os << side_by_side({grid(n(st.value) + " * kernel", shown(with_channels(ocg, p.k)), scaled.data()),
                            grid("running sum (full output)", shown(with_channels(p.oc, e.full)), st.running.data())})
           << "\n";
    }
    os << "The full output is complete. Now its window [pb, F - pe + op) per axis becomes the output:\n";
    const Dims o = p.o();
    for (int a = 0; a < p.rank(); ++a) {
        const int64_t lo = p.pb[a], hi = p.pb[a] + o[a] - 1;
        os << "  " << axis_name(p.rank(), a) << "s: keep full positions " << lo << ".." << hi << " of 0.." << e.full[a] - 1;
        if (p.pb[a] > 0) os << "; padding carves " << p.pb[a] << " off the begin";
        if (p.pe[a] - p.op[a] > 0) os << "; " << p.pe[a] - p.op[a] << " off the end" << (p.op[a] ? " (padding " + std::to_string(p.pe[a]) + " minus output padding " + std::to_string(p.op[a]) + ")" : "");
        if (hi >= e.full[a]) os << "; positions " << e.full[a] << ".." << hi << " lie past the full output (output padding): 0";
        if (lo < 0) os << "; positions " << lo << "..-1 lie before it: 0";
        os << "\n";
    }
    if (!e.bia.empty()) os << "  then the bias of each output channel is added\n";
    os << "\n" << side_by_side({grid("full output", shown(with_channels(p.oc, e.full)), e.full_out.data()),
                                grid("output", shown(e.dst_shape()), e.distribute.data())})
       << "\n";
}

std::string term_list(const std::vector<explain::Term>& terms) {
    std::string s;
    for (size_t t = 0; t < terms.size(); ++t) {
        const auto& x = terms[t];
        s += (t ? " + " : "") + paren(x.value) + "*" + paren(x.weight);
    }
    return s.empty() ? "0" : s;
}

void view_collect(std::ostream& os, const Explanation& e, int64_t oc, const Dims& cell) {
    const Problem& p = e.p;
    os << "COLLECT: a stride-1 convolution of the zero-inserted, padded input with the flipped kernel\n";
    for (int a = 0; a < p.rank(); ++a) {
        os << "  " << axis_name(p.rank(), a) << "s: " << p.s[a] - 1 << " zero(s) between input values (" << p.i[a] << " -> "
           << e.inserted[a] << "),\n    then " << e.lead[a] << " before = k_eff-1-pb = " << e.k_eff[a] << "-1-" << p.pb[a]
           << " and " << e.trail[a] << " after = k_eff-1-pe+op = " << e.k_eff[a] << "-1-" << p.pe[a] << "+" << p.op[a];
        if (e.lead[a] < 0 || e.trail[a] < 0) os << " (negative: cut that many cells off instead)";
        os << "\n";
    }
    os << "  ('.' marks an inserted or padding zero in the input and a dilation hole in the kernel)\n\n";
    const int64_t icg = p.ic / p.g;
    os << side_by_side({grid("zero-inserted, padded input", shown(with_channels(p.ic, e.padded_size)), e.padded.data(),
                             [&](int64_t x, const std::string& s) { return e.padded_value[x] ? s : std::string("."); }),
                        grid("flipped kernel", shown(shown(with_channels(p.oc, with_channels(icg, e.k_eff)))), e.flipped.data(),
                             [&](int64_t x, const std::string& s) { return e.flipped_tap[x] ? s : std::string("."); })})
       << "\n";
    const auto terms = explain::cell_terms(e, oc, cell);
    const Dims o = p.o();
    int64_t at = oc;
    for (int a = 0; a < p.rank(); ++a) at = at * o[a] + cell[a];
    os << "output" << (p.oc > 1 ? "[channel " + std::to_string(oc) + "]" : std::string()) << idx(cell)
       << " = the sum of the flipped kernel times the padded input's window at " << idx(cell) << "\n  ("
       << ranges(e, cell, e.k_eff) << ")\n";
    os << (terms.empty() ? "  no tap lands on an input value\n" : "  the taps on input values:\n");
    for (const auto& t : terms)
        os << "    padded" << idx(t.padded) << " = input" << (p.ic > 1 ? "[channel " + std::to_string(t.ic) + "]" : std::string())
           << idx(t.pos) << " = " << n(t.value) << "   times   flipped" << idx(t.flipped) << " = kernel" << idx(t.k) << " = " << n(t.weight) << "\n";
    double sum = 0;
    for (const auto& t : terms) sum += t.value * t.weight;
    os << "  = " << (terms.empty() ? std::string() : term_list(terms) + " = ") << n(sum)
       << (e.bia.empty() ? "" : ", plus the bias " + paren(e.bia[oc]) + " = " + n(e.collect[at]))
       << "   (" << explain::cell_zero_taps(e, oc, cell) << " more taps multiply zeros)\n\n";
    os << side_by_side({grid("output", shown(e.dst_shape()), e.collect.data())}) << "\n";
}

void view_matrix(std::ostream& os, const Explanation& e) {
    const Problem& p = e.p;
    const int64_t rows = e.C.rows, cols = e.C.cols;
    os << "MATRIX: C is the matrix of the convolution that maps the output's shape back to the input's:\n"
       << "  one row per input position (" << rows << "), one column per output position (" << cols << ").\n"
       << "  The transposed convolution is C^T times the flattened input.\n"
       << "  C[row, col] is the kernel weight that links them, '.' where none does (" << e.C.nnz() << " of " << rows * cols
       << " entries).\n\n";
    if (rows * cols > 4096) {
        os << "C has " << rows * cols << " entries: too many to print here (at most 4096); `tconv matrix` writes it as .npy or sparse triplets.\n\n";
    } else {
        const auto dense = e.C.to_dense();
        os << matrix_text("C (" + std::to_string(rows) + " x " + std::to_string(cols) + ")", rows, cols, dense.data()) << "\n";
        const auto dt = e.C.transposed().to_dense();
        os << matrix_text("C^T (" + std::to_string(cols) + " x " + std::to_string(rows) + ")", cols, rows, dt.data()) << "\n";
    }
    std::vector<double> prodv(e.matrix);
    if (!e.bia.empty())
        for (size_t x = 0; x < prodv.size(); ++x) prodv[x] -= e.bia[x / prod(p.o())];
    os << side_by_side({grid("x = input, flattened", {rows, 1}, e.src.data()), grid("C^T x", {cols, 1}, prodv.data())}) << "\n";
    os << side_by_side({grid(std::string("C^T x") + (e.bia.empty() ? "" : " + bias") + ", reshaped: the output", shown(e.dst_shape()),
                             e.matrix.data())})
       << "\n";
}

void view_gradient(std::ostream& os, const Explanation& e, int64_t oc, const Dims& cell) {
    const Problem& p = e.p;
    os << "GRADIENT: the transposed convolution is the input gradient of a convolution z -> y, same kernel,\n"
       << "  z shaped like the output (" << dims_str(e.dst_shape(), ',') << "), y like the input (" << dims_str(p.src_shape(), ',') << "):\n";
    os << "    y[i] = sum over taps t of kernel[t] * z[s*i - pb + d*t]   (zero where that leaves z)\n";
    for (int a = 0; a < p.rank(); ++a)
        os << "    " << axis_name(p.rank(), a) << "s: stride " << p.s[a] << ", dilation " << p.d[a] << ", zero padding " << p.pb[a]
           << " before and " << p.pe[a] - p.op[a] << " after: " << p.o()[a] << " -> " << p.i[a] << "\n";
    os << "  Given dL/dy = the input, back-propagation gives\n"
       << "    dL/dz[j] = sum over i of dL/dy[i] * dy[i]/dz[j] = <dL/dy, conv(e_j)>\n"
       << "  Each output position collects the input values whose windows read it, times the weights used.\n\n";
    const auto terms = explain::cell_terms(e, oc, cell);
    std::string sum;
    for (const auto& t : terms) os << "    dy" << idx(t.pos) << "/dz" << idx(cell) << " = kernel" << idx(t.k) << " = " << n(t.weight) << ", dL/dy" << idx(t.pos) << " = " << n(t.value) << "\n";
    const Dims o = p.o();
    int64_t at = oc;
    for (int a = 0; a < p.rank(); ++a) at = at * o[a] + cell[a];
    os << "  dL/dz" << idx(cell) << " = " << term_list(terms) << " = " << n(e.gradient[at] - (e.bia.empty() ? 0 : e.bia[oc]))
       << (e.bia.empty() ? "" : "   (then + bias)") << "\n\n";
    os << side_by_side({grid("dL/dz" + std::string(e.bia.empty() ? "" : " + bias") + ": the output", shown(e.dst_shape()), e.gradient.data())}) << "\n";
}

void view_all(std::ostream& os, const Explanation& e) {
    const Dims s = shown(e.dst_shape());
    os << "ALL FOUR, SIDE BY SIDE\n\n"
       << side_by_side({grid("distribute", s, e.distribute.data()), grid("collect", s, e.collect.data()),
                        grid("matrix", s, e.matrix.data()), grid("gradient", s, e.gradient.data())})
       << "\n";
    const double d = e.disagreement();
    os << (d == 0 ? "check: the four views agree exactly\n" : "check: the views DIFFER, largest |difference| = " + n(d) + "\n");
}

}  // namespace

nlohmann::json tensor_json(const Dims& shape, const std::vector<double>& v) { return {{"shape", shape}, {"values", v}}; }

nlohmann::json explanation_json(const Loaded& l, const Explanation& e, int64_t oc, const Dims& cell) {
    nlohmann::json j;
    j["title"] = l.title;
    if (l.example) j["example"] = l.example->name;
    j["problem"] = to_json(e.p);
    j["input"] = tensor_json(with_channels(e.p.ic, e.p.i), e.src);
    j["kernel"] = tensor_json(e.p.wei_shape(), e.wei);
    if (!e.bia.empty()) j["bias"] = e.bia;
    auto& d = j["distribute"];
    d["full_shape"] = e.full;
    for (const auto& st : e.steps) d["steps"].push_back({{"channel", st.ic}, {"position", st.pos}, {"value", st.value}, {"at", st.at}, {"running", st.running}});
    d["full"] = tensor_json(with_channels(e.p.oc, e.full), e.full_out);
    d["output"] = tensor_json(e.dst_shape(), e.distribute);
    auto& c = j["collect"];
    c["inserted"] = e.inserted;
    c["lead"] = e.lead;
    c["trail"] = e.trail;
    c["padded"] = tensor_json(with_channels(e.p.ic, e.padded_size), e.padded);
    c["flipped"] = tensor_json(with_channels(e.p.oc, with_channels(e.p.ic / e.p.g, e.k_eff)), e.flipped);
    c["output"] = tensor_json(e.dst_shape(), e.collect);
    auto& m = j["matrix"];
    m["rows"] = e.C.rows;
    m["cols"] = e.C.cols;
    nlohmann::json trip = nlohmann::json::array();
    for (int64_t r = 0; r < e.C.rows; ++r)
        for (int64_t x = e.C.row_start[r]; x < e.C.row_start[r + 1]; ++x) trip.push_back({r, e.C.col[x], e.C.val[x]});
    m["C_triplets"] = trip;
    m["output"] = tensor_json(e.dst_shape(), e.matrix);
    j["gradient"]["output"] = tensor_json(e.dst_shape(), e.gradient);
    auto& cj = j["cell"];
    cj["channel"] = oc;
    cj["position"] = cell;
    for (const auto& t : explain::cell_terms(e, oc, cell))
        cj["terms"].push_back({{"input_channel", t.ic}, {"input", t.pos}, {"value", t.value}, {"kernel", t.k},
                               {"flipped", t.flipped}, {"padded", t.padded}, {"weight", t.weight}});
    cj["zero_taps"] = explain::cell_zero_taps(e, oc, cell);
    j["disagreement"] = e.disagreement();
    j["agree"] = e.disagreement() == 0;
    return j;
}

namespace {

struct ExplainArgs {
    Source src;
    std::string view = "all";
    std::vector<int64_t> cell;
    int64_t channel = 0;
    bool json = false, list = false;
};

int run_explain(const ExplainArgs& a) {
    if (a.list) {
        for (const auto& ex : explain::examples())
            std::cout << ex.name << "  (" << ex.problem.str() << ")\n    " << ex.source << ": " << ex.description << "\n";
        return 0;
    }
    static const char* views[] = {"distribute", "collect", "matrix", "gradient", "all"};
    if (std::find(std::begin(views), std::end(views), a.view) == std::end(views))
        throw Error("--view=" + a.view + " must be distribute, collect, matrix, gradient or all");
    const Loaded l = load(a.src);
    explain::Limits lim;
    lim.max_elems = 1024;
    lim.max_steps = 64;
    const Explanation e = explain::explain(l.p, l.src, l.wei, l.bia, lim);
    Dims cell = a.cell.empty() ? Dims(l.p.rank(), 0) : Dims(a.cell.begin(), a.cell.end());
    if (static_cast<int>(cell.size()) != l.p.rank())
        throw Error("--cell has " + std::to_string(cell.size()) + " values; the output has " + std::to_string(l.p.rank()) + " spatial axes");
    explain::cell_terms(e, a.channel, cell);  // validates the cell
    if (a.json) {
        std::cout << explanation_json(l, e, a.channel, cell).dump(1) << "\n";
        return 0;
    }
    std::ostringstream os;
    header(os, l, e);
    if (a.view == "distribute" || a.view == "all") view_distribute(os, e);
    if (a.view == "collect" || a.view == "all") view_collect(os, e, a.channel, cell);
    if (a.view == "matrix" || a.view == "all") view_matrix(os, e);
    if (a.view == "gradient" || a.view == "all") view_gradient(os, e, a.channel, cell);
    if (a.view == "all") view_all(os, e);
    if (l.example && !l.example->expected.empty() && l.p == l.example->problem)
        os << (l.example->expected == e.distribute ? "The seed prints the same output.\n" : "NOTE: the seed prints a different output.\n");
    std::cout << os.str();
    return e.disagreement() == 0 ? 0 : 1;
}

// tconv matrix
struct MatrixArgs {
    Source src;
    std::string format = "auto", output;
    bool json = false;
};

int run_matrix(const MatrixArgs& a) {
    const Loaded l = load(a.src);
    Problem one = l.p;
    one.bias = false;
    if (one.mb != 1) throw Error("matrix describes one image: mb must be 1");
    const auto C = conv_matrix<double>(one, l.wei.data());
    const auto Ct = C.transposed();
    std::string fmt = a.format;
    if (fmt == "auto") fmt = C.rows * C.cols <= 4096 ? "text" : "triplets";
    if (fmt != "text" && fmt != "npy" && fmt != "triplets") throw Error("--format=" + fmt + " must be auto, text, npy or triplets");
    if (fmt == "npy") {
        if (a.output.empty()) throw Error("--format npy needs --output PREFIX (writes PREFIX_C.npy and PREFIX_CT.npy)");
        const auto d = C.to_dense(int64_t(1) << 26), dt = Ct.to_dense(int64_t(1) << 26);
        npy::save(a.output + "_C.npy", {C.rows, C.cols}, d.data());
        npy::save(a.output + "_CT.npy", {Ct.rows, Ct.cols}, dt.data());
        std::cout << "wrote " << a.output << "_C.npy (" << C.rows << "x" << C.cols << ") and " << a.output << "_CT.npy ("
                  << Ct.rows << "x" << Ct.cols << ")\n";
        return 0;
    }
    std::ostringstream os;
    if (fmt == "text") {
        if (C.rows * C.cols > 4096)
            throw Error("C is " + std::to_string(C.rows) + " x " + std::to_string(C.cols) +
                        ": text shows at most 4096 entries; use --format npy or --format triplets");
        os << "problem " << l.p.str() << "\n";
        os << "rows: the input's positions (" << dims_str(l.p.src_shape(), ',') << " flattened); columns: the output's ("
           << dims_str(l.p.dst_shape(), ',') << " flattened)\n\n";
        const auto d = C.to_dense(), dt = Ct.to_dense();
        os << matrix_text("C (" + std::to_string(C.rows) + " x " + std::to_string(C.cols) + ")", C.rows, C.cols, d.data()) << "\n";
        os << matrix_text("C^T (" + std::to_string(Ct.rows) + " x " + std::to_string(Ct.cols) + ")", Ct.rows, Ct.cols, dt.data());
    } else {
        os << "# C of " << l.p.str() << ": " << C.rows << " rows, " << C.cols << " columns, " << C.nnz() << " entries\n# row col value\n";
        for (int64_t r = 0; r < C.rows; ++r)
            for (int64_t x = C.row_start[r]; x < C.row_start[r + 1]; ++x) os << r << ' ' << C.col[x] << ' ' << format_number(C.val[x]) << '\n';
    }
    if (!a.output.empty()) {
        std::ofstream f(a.output);
        if (!f) throw Error("cannot open '" + a.output + "' for writing");
        f << os.str();
        std::cout << "wrote " << a.output << "\n";
    } else {
        std::cout << os.str();
    }
    return 0;
}

}  // namespace

Command add_explain(CLI::App& app) {
    auto a = std::make_shared<ExplainArgs>();
    auto* c = app.add_subcommand("explain", "Show a transposed convolution step by step: distribute, collect, matrix, gradient");
    add_source(c, a->src);
    c->add_option("--view", a->view, "distribute, collect, matrix, gradient or all (default)");
    c->add_option("--cell", a->cell, "the output cell whose formula to show, e.g. 1,2 (default: the first)")->delimiter(',');
    c->add_option("--channel", a->channel, "the output channel of --cell");
    c->add_flag("--json", a->json, "everything as JSON");
    c->add_flag("--list-examples", a->list, "list the seeds' worked examples");
    return {c, [a] { return run_explain(*a); }};
}

Command add_matrix(CLI::App& app) {
    auto a = std::make_shared<MatrixArgs>();
    auto* c = app.add_subcommand("matrix", "Write C (the convolution matrix) and C^T for a problem");
    add_source(c, a->src);
    c->add_option("--format", a->format, "auto (text when at most 4096 entries, else triplets), text, npy, triplets");
    c->add_option("-o,--output", a->output, "file to write (npy: a prefix for PREFIX_C.npy and PREFIX_CT.npy)");
    return {c, [a] { return run_matrix(*a); }};
}

}  // namespace tconv::cli
