// The tconv command-line program. `tconv run` computes a transposed convolution from .npy files, from a
// problem string with generated data, or, given nothing, on seed 000's 2-D worked example.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <optional>
#include <random>

#include "commands.hpp"
#include "common.hpp"
#include "print.hpp"
#include "tconv/tconv.hpp"

namespace {

using tconv::Dims;
using tconv::Error;
using tconv::Problem;

struct RunArgs {
    std::string input, weight, bias, output, problem, algorithm = "auto", direction = "forward", dtype = "f32";
    std::string simd, layout = "channels_first";
    int threads = 0;
    tconv::cli::Params prm;
    uint64_t seed = 1;
    bool verbose = false, check = false, quiet = false;
};

// Seed 000's 2-D example: input [[1,2],[3,4]], a horizontal-edge kernel, stride 2, padding 1 -> 3x3.
const double kSeedInput[] = {1, 2, 3, 4};
const double kSeedKernel[] = {1, 1, 1, 0, 0, 0, -1, -1, -1};

// The conformance test's fill: small integers in [-3, 3] from mt19937_64(seed), so repro lines match it.
template <class T>
tconv::Tensor<T> generated(const Dims& shape, uint64_t seed) {
    tconv::Tensor<T> t(shape);
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> dist(-3, 3);
    for (T& v : t.data) v = static_cast<T>(dist(rng));
    return t;
}

template <class T>
tconv::Tensor<T> from_npy(const tconv::npy::Array& a) {
    tconv::Tensor<T> t;
    t.shape = a.shape;
    if constexpr (sizeof(T) == 4) t.data = a.f32; else t.data = a.f64;
    return t;
}

tconv::Layout layout_of(const RunArgs& r) {
    if (r.layout == "channels_first") return tconv::Layout::channels_first;
    if (r.layout == "channels_last") return tconv::Layout::channels_last;
    throw Error("--layout=" + r.layout + " must be channels_first or channels_last");
}

tconv::Options options_of(const RunArgs& r) {
    tconv::Options o;
    o.algorithm = r.algorithm;
    if (r.verbose) o.log = &std::cerr;
    o.simd = r.simd;
    o.threads = r.threads;
    o.layout = layout_of(r);
    return o;
}

// A channels-first tensor in layout l.
template <class T>
tconv::Tensor<T> in_layout(const tconv::Tensor<T>& t, tconv::Layout l) {
    tconv::Tensor<T> r(tconv::data_shape(t.shape, l));
    tconv::convert_layout<T>(t.view(), tconv::Layout::channels_first, r.view(), l);
    return r;
}

// src is channels-first; it is passed (and the result is printed and written) in --layout.
template <class T>
int run_typed(const RunArgs& r, const Problem& p, const tconv::Tensor<T>& src_first, const tconv::Tensor<T>& wei,
              const std::optional<tconv::Tensor<T>>& bia, bool show) {
    const tconv::Options opt = options_of(r);
    const tconv::Tensor<T> src = in_layout(src_first, opt.layout);
    tconv::Tensor<T> dst(tconv::data_shape(p.dst_shape(), opt.layout));
    tconv::View<const T> bview = bia ? bia->view() : tconv::View<const T>{};
    tconv::conv_transpose<T>(p, src.view(), wei.view(), bview, dst.view(), opt);
    const std::string used = tconv::choose_algorithm(p, tconv::Direction::forward, r.algorithm);
    if (show) {
        tconv::cli::print_tensor(std::cout, "input", src.shape, src.data.data());
        tconv::cli::print_tensor(std::cout, "weight", wei.shape, wei.data.data());
        if (bia) tconv::cli::print_tensor(std::cout, "bias", bia->shape, bia->data.data());
    }
    if (!r.quiet) {
        std::cout << "problem " << p.str() << "\n";
        const Dims o = p.o();
        for (int a = 0; a < p.rank(); ++a)
            std::cout << "  axis " << a << ": o = s*(i-1) + d*(k-1) + 1 - pb - pe + op = " << p.s[a] << "*(" << p.i[a]
                      << "-1) + " << p.d[a] << "*(" << p.k[a] << "-1) + 1 - " << p.pb[a] << " - " << p.pe[a] << " + "
                      << p.op[a] << " = " << o[a] << "\n";
        std::cout << "algorithm " << used << "\n";
    }
    if (show) tconv::cli::print_tensor(std::cout, "output", dst.shape, dst.data.data());
    if (!r.output.empty()) {
        tconv::npy::save(r.output, dst.shape, dst.data.data());
        if (!r.quiet) std::cout << "wrote " << r.output << " (" << tconv::dims_str(dst.shape, ',') << ")\n";
    }
    if (r.check) {  // compare with the scatter reference
        tconv::Tensor<T> ref_first(p.dst_shape());
        tconv::Options ro;
        ro.algorithm = "scatter";
        tconv::conv_transpose<T>(p, src_first.view(), wei.view(), bview, ref_first.view(), ro);
        const tconv::Tensor<T> ref = in_layout(ref_first, opt.layout);
        double worst = 0;
        for (int64_t x = 0; x < ref.size(); ++x) worst = std::max(worst, std::fabs(double(ref.data[x]) - double(dst.data[x])));
        std::cout << "check against scatter: max |difference| = " << worst << "\n";
        if (worst != 0) return 1;
    }
    return 0;
}

// --problem, forward: generated data for src, wei and bia (seeds seed, seed+1, seed+2).
template <class T>
int run_problem(const RunArgs& r, const Problem& p) {
    std::optional<tconv::Tensor<T>> bia;
    if (p.bias) bia = generated<T>({p.oc}, r.seed + 2);
    return run_typed<T>(r, p, generated<T>(p.src_shape(), r.seed), generated<T>(p.wei_shape(), r.seed + 1), bia,
                        p.dst_elems() <= 400 && r.output.empty());
}

// --problem with --direction backward_*: the conformance test's fills (src, wei, bia, diff_dst from seeds
// seed .. seed+3), the chosen algorithm against scatter. Prints the largest difference; exit 1 if any.
template <class T>
int check_gradient(const RunArgs& r, const Problem& p) {
    const auto src = generated<T>(p.src_shape(), r.seed), wei = generated<T>(p.wei_shape(), r.seed + 1);
    const auto diff_dst = generated<T>(p.dst_shape(), r.seed + 3);
    auto compute = [&](const std::string& algorithm) {
        tconv::Options o = options_of(r);
        o.algorithm = algorithm;
        if (algorithm == "scatter") o.layout = tconv::Layout::channels_first;
        std::vector<T> out;
        if (r.direction == "backward_data") {
            tconv::Tensor<T> ds(tconv::data_shape(p.src_shape(), o.layout));
            tconv::conv_transpose_backward_data<T>(p, in_layout(diff_dst, o.layout).view(), wei.view(), ds.view(), o);
            if (o.layout == tconv::Layout::channels_last) {  // compared channels-first
                tconv::Tensor<T> first(p.src_shape());
                tconv::convert_layout<T>(ds.view(), o.layout, first.view(), tconv::Layout::channels_first);
                ds = first;
            }
            out = ds.data;
        } else {
            tconv::Tensor<T> dw(p.wei_shape()), db(Dims{p.oc});
            tconv::conv_transpose_backward_weights<T>(p, in_layout(src, o.layout).view(), in_layout(diff_dst, o.layout).view(),
                                                      dw.view(), p.bias ? db.view() : tconv::View<T>{}, o);
            out = dw.data;
            if (p.bias) out.insert(out.end(), db.data.begin(), db.data.end());
        }
        return out;
    };
    const auto got = compute(r.algorithm), ref = compute("scatter");
    double worst = 0;
    for (size_t x = 0; x < ref.size(); ++x) worst = std::max(worst, std::fabs(double(ref[x]) - double(got[x])));
    std::cout << "check " << r.direction << " against scatter: max |difference| = " << worst << "\n";
    return worst == 0 ? 0 : 1;
}

int run(const RunArgs& r) {
    if (r.direction != "forward" && r.direction != "backward_data" && r.direction != "backward_weights")
        throw Error("--direction=" + r.direction + " must be forward, backward_data or backward_weights");
    if (r.dtype != "f32" && r.dtype != "f64") throw Error("--dtype=" + r.dtype + " must be f32 or f64");
    if (r.direction != "forward" && (r.problem.empty() || !r.check))
        throw Error("--direction " + r.direction + " is for checking gradients: use it with --problem and --check");
    if (r.dtype != "f32" && r.problem.empty()) throw Error("--dtype applies to --problem data; files carry their own dtype");
    if (!r.input.empty() || !r.weight.empty()) {
        if (r.input.empty() || r.weight.empty()) throw Error("--input and --weight must be given together");
        if (!r.problem.empty()) throw Error("--problem cannot be combined with --input/--weight files");
        auto x = tconv::npy::load(r.input);
        if (layout_of(r) == tconv::Layout::channels_last && x.shape.size() >= 3) {  // the problem reads it channels-first
            tconv::npy::Array first = x;
            std::rotate(first.shape.begin() + 1, first.shape.end() - 1, first.shape.end());
            if (x.dtype == tconv::npy::DType::f32)
                tconv::convert_layout<float>({x.f32.data(), x.shape}, tconv::Layout::channels_last,
                                             {first.f32.data(), first.shape}, tconv::Layout::channels_first);
            else
                tconv::convert_layout<double>({x.f64.data(), x.shape}, tconv::Layout::channels_last,
                                              {first.f64.data(), first.shape}, tconv::Layout::channels_first);
            x = std::move(first);
        }
        const auto w = tconv::npy::load(r.weight);
        std::optional<tconv::npy::Array> b;
        if (!r.bias.empty()) b = tconv::npy::load(r.bias);
        if (w.dtype != x.dtype || (b && b->dtype != x.dtype))
            throw Error("--weight and --bias must have the same dtype as --input (all float32 or all float64)");
        const Problem p = tconv::cli::problem_from(r.prm, x.shape, w.shape, b.has_value(), {1}, {0});
        const bool show = p.dst_elems() <= 400 && r.output.empty();
        if (x.dtype == tconv::npy::DType::f32) {
            std::optional<tconv::Tensor<float>> bt;
            if (b) bt = from_npy<float>(*b);
            return run_typed<float>(r, p, from_npy<float>(x), from_npy<float>(w), bt, show);
        }
        std::optional<tconv::Tensor<double>> bt;
        if (b) bt = from_npy<double>(*b);
        return run_typed<double>(r, p, from_npy<double>(x), from_npy<double>(w), bt, show);
    }
    if (!r.bias.empty()) throw Error("--bias needs --input and --weight");
    if (!r.problem.empty()) {  // generated small-integer data: results are exact in float32
        if (r.prm.any()) throw Error("--problem already holds every parameter; drop the other parameter options");
        const Problem p = Problem::parse(r.problem);
        p.validate();
        if (r.direction != "forward") return r.dtype == "f32" ? check_gradient<float>(r, p) : check_gradient<double>(r, p);
        return r.dtype == "f32" ? run_problem<float>(r, p) : run_problem<double>(r, p);
    }
    // The embedded default: seed 000's 2-D example (parameter options, if given, apply to its data).
    tconv::Tensor<double> src({1, 1, 2, 2}), wei({1, 1, 3, 3});
    std::copy(std::begin(kSeedInput), std::end(kSeedInput), src.data.begin());
    std::copy(std::begin(kSeedKernel), std::end(kSeedKernel), wei.data.begin());
    const Problem p = tconv::cli::problem_from(r.prm, src.shape, wei.shape, false, {2}, {1});
    if (!r.quiet)
        std::cout << "seed 000's 2-D example: the input distributes the kernel with stride 2 into a 5x5 full output;\n"
                     "padding 1 carves one cell off every side (pass --padding 0 to see the full output).\n\n";
    return run_typed<double>(r, p, src, wei, std::nullopt, true);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tconv: the transposed convolution, exactly as PyTorch and ONNX define it"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "tconv 0.1.0");

    RunArgs r;
    auto* run_cmd = app.add_subcommand("run", "Compute a transposed convolution (default: seed 000's 2-D example)");
    run_cmd->add_option("-i,--input", r.input, "input .npy, shape (N, C_in, spatial...) (with --layout channels_last: (N, spatial..., C_in)), float32 or float64");
    run_cmd->add_option("-w,--weight", r.weight, "weight .npy, shape (C_in, C_out/groups, k...)");
    run_cmd->add_option("-b,--bias", r.bias, "bias .npy, shape (C_out)");
    run_cmd->add_option("-o,--output", r.output, "write the result to this .npy file");
    run_cmd->add_option("--problem", r.problem, "a canonical problem string; data are generated small integers");
    run_cmd->add_option("--seed", r.seed, "seed for --problem data");
    tconv::cli::add_params(run_cmd, r.prm);
    run_cmd->add_option("--algorithm", r.algorithm, "auto or an algorithm name (see `tconv algorithms`)");
    run_cmd->add_option("--direction", r.direction, "with --problem --check: forward, backward_data or backward_weights");
    run_cmd->add_option("--dtype", r.dtype, "with --problem: f32 (default) or f64");
    run_cmd->add_option("--layout", r.layout, "data layout of input and output: channels_first (N, C, spatial...) or channels_last (N, spatial..., C)");
    run_cmd->add_option("--simd", r.simd, "SIMD target of the phase engine (AVX3, AVX2, SSE4, EMU128...; default: the best)");
    run_cmd->add_option("--threads", r.threads, "threads (0: every core); results do not depend on it");
    run_cmd->add_flag("-v,--verbose", r.verbose, "print the algorithm choice and every refusal");
    run_cmd->add_flag("--check", r.check, "compare the result with the scatter reference; exit 1 on a difference");
    run_cmd->add_flag("-q,--quiet", r.quiet, "print nothing but errors");

    std::string alg_problem;
    auto* alg_cmd = app.add_subcommand("algorithms", "List the algorithms; with --problem, which support it and why not");
    alg_cmd->add_option("--problem", alg_problem, "a canonical problem string");

    std::vector<tconv::cli::Command> commands{tconv::cli::add_explain(app), tconv::cli::add_matrix(app), tconv::cli::add_render(app),
                                             tconv::cli::add_checkerboard(app), tconv::cli::add_upsample(app),
                                             tconv::cli::add_translate(app), tconv::cli::add_serve(app), tconv::cli::add_train(app)};

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (run_cmd->parsed()) return run(r);
        for (const auto& c : commands)
            if (c.app->parsed()) return c.run();
        if (alg_cmd->parsed()) {
            if (alg_problem.empty()) {
                for (const auto& a : tconv::algorithms()) std::cout << a.name << ": " << a.summary << "\n";
                return 0;
            }
            const Problem p = Problem::parse(alg_problem);
            for (auto dir : {tconv::Direction::forward, tconv::Direction::backward_data, tconv::Direction::backward_weights}) {
                std::cout << tconv::direction_name(dir) << ":\n";
                for (const auto& v : tconv::explain_choice(p, dir))
                    std::cout << "  " << v.name << ": " << (v.supported() ? "supported" : "refuses: " + v.refusal) << "\n";
            }
            return 0;
        }
    } catch (const Error& e) {
        std::cerr << "tconv: error: " << e.what() << "\n";
        return 2;
    } catch (const std::bad_alloc&) {
        std::cerr << "tconv: error: out of memory\n";
        return 2;
    }
    return 0;
}
