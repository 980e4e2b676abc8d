// The tconv command-line program. `tconv run` computes a transposed convolution from .npy files, from a
// problem string with generated data, or, given nothing, on seed 000's 2-D worked example.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <optional>
#include <random>

#include "print.hpp"
#include "tconv/tconv.hpp"

namespace {

using tconv::Dims;
using tconv::Error;
using tconv::Problem;

struct RunArgs {
    std::string input, weight, bias, output, problem, algorithm = "auto", direction = "forward", dtype = "f32";
    std::vector<int64_t> stride, padding, pad_begin, pad_end, output_padding, output_size, dilation;
    int64_t groups = 1;
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

bool any_param(const RunArgs& r) {
    return !r.stride.empty() || !r.padding.empty() || !r.pad_begin.empty() || !r.pad_end.empty() ||
           !r.output_padding.empty() || !r.output_size.empty() || !r.dilation.empty() || r.groups != 1;
}

// The problem for given tensor shapes and the parameter options (PyTorch defaults where not given).
Problem problem_from_options(const RunArgs& r, const Dims& src, const Dims& wei, bool bias, const Dims& dflt_stride,
                             const Dims& dflt_padding) {
    if (src.size() < 3) throw Error("input must have shape (N, C, spatial...) with at least 1 spatial axis, got (" + tconv::dims_str(src, ',') + ")");
    const int rank = static_cast<int>(src.size()) - 2;
    if (static_cast<int>(wei.size()) != rank + 2)
        throw Error("weight must have shape (C_in, C_out/groups, k...) with " + std::to_string(rank) +
                    " kernel axes to match the input, got (" + tconv::dims_str(wei, ',') + ")");
    if (wei[0] != src[1])
        throw Error("weight has " + std::to_string(wei[0]) + " input channels (its first axis) but input has C=" + std::to_string(src[1]));
    if (r.groups <= 0) throw Error("groups=" + std::to_string(r.groups) + " must be positive");
    if (!r.padding.empty() && (!r.pad_begin.empty() || !r.pad_end.empty()))
        throw Error("give either --padding or --pad-begin/--pad-end, not both");
    Problem p = tconv::pytorch_problem(src[0], src[1], wei[1] * r.groups, Dims(src.begin() + 2, src.end()),
                                       Dims(wei.begin() + 2, wei.end()), r.stride.empty() ? dflt_stride : r.stride,
                                       r.padding.empty() ? dflt_padding : r.padding,
                                       r.output_padding.empty() ? Dims{0} : r.output_padding, r.groups,
                                       r.dilation.empty() ? Dims{1} : r.dilation, bias);
    if (!r.pad_begin.empty() || !r.pad_end.empty()) {
        p.pb = tconv::broadcast(r.pad_begin.empty() ? Dims{0} : r.pad_begin, rank, "pad-begin");
        p.pe = tconv::broadcast(r.pad_end.empty() ? Dims{0} : r.pad_end, rank, "pad-end");
        p.validate();
    }
    if (!r.output_size.empty()) {
        if (!r.output_padding.empty()) throw Error("give either --output-size or --output-padding, not both");
        p = tconv::with_output_size(p, r.output_size);
    }
    return p;
}

template <class T>
int run_typed(const RunArgs& r, const Problem& p, const tconv::Tensor<T>& src, const tconv::Tensor<T>& wei,
              const std::optional<tconv::Tensor<T>>& bia, bool show) {
    tconv::Options opt;
    opt.algorithm = r.algorithm;
    if (r.verbose) opt.log = &std::cerr;
    tconv::Tensor<T> dst(p.dst_shape());
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
        tconv::Tensor<T> ref(p.dst_shape());
        tconv::Options ro;
        ro.algorithm = "scatter";
        tconv::conv_transpose<T>(p, src.view(), wei.view(), bview, ref.view(), ro);
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
        tconv::Options o;
        o.algorithm = algorithm;
        if (r.verbose) o.log = &std::cerr;
        std::vector<T> out;
        if (r.direction == "backward_data") {
            tconv::Tensor<T> ds(p.src_shape());
            tconv::conv_transpose_backward_data<T>(p, diff_dst.view(), wei.view(), ds.view(), o);
            out = ds.data;
        } else {
            tconv::Tensor<T> dw(p.wei_shape()), db(Dims{p.oc});
            tconv::conv_transpose_backward_weights<T>(p, src.view(), diff_dst.view(), dw.view(),
                                                      p.bias ? db.view() : tconv::View<T>{}, o);
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
        const auto x = tconv::npy::load(r.input);
        const auto w = tconv::npy::load(r.weight);
        std::optional<tconv::npy::Array> b;
        if (!r.bias.empty()) b = tconv::npy::load(r.bias);
        if (w.dtype != x.dtype || (b && b->dtype != x.dtype))
            throw Error("--weight and --bias must have the same dtype as --input (all float32 or all float64)");
        const Problem p = problem_from_options(r, x.shape, w.shape, b.has_value(), {1}, {0});
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
        if (any_param(r)) throw Error("--problem already holds every parameter; drop the other parameter options");
        const Problem p = Problem::parse(r.problem);
        p.validate();
        if (r.direction != "forward") return r.dtype == "f32" ? check_gradient<float>(r, p) : check_gradient<double>(r, p);
        return r.dtype == "f32" ? run_problem<float>(r, p) : run_problem<double>(r, p);
    }
    // The embedded default: seed 000's 2-D example (parameter options, if given, apply to its data).
    tconv::Tensor<double> src({1, 1, 2, 2}), wei({1, 1, 3, 3});
    std::copy(std::begin(kSeedInput), std::end(kSeedInput), src.data.begin());
    std::copy(std::begin(kSeedKernel), std::end(kSeedKernel), wei.data.begin());
    const Problem p = problem_from_options(r, src.shape, wei.shape, false, {2}, {1});
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
    run_cmd->add_option("-i,--input", r.input, "input .npy, shape (N, C_in, spatial...), float32 or float64");
    run_cmd->add_option("-w,--weight", r.weight, "weight .npy, shape (C_in, C_out/groups, k...)");
    run_cmd->add_option("-b,--bias", r.bias, "bias .npy, shape (C_out)");
    run_cmd->add_option("-o,--output", r.output, "write the result to this .npy file");
    run_cmd->add_option("--problem", r.problem, "a canonical problem string; data are generated small integers");
    run_cmd->add_option("--seed", r.seed, "seed for --problem data");
    run_cmd->add_option("--stride", r.stride, "stride, one value or one per axis (e.g. 2 or 2,1)")->delimiter(',');
    run_cmd->add_option("--padding", r.padding, "symmetric padding cropped from the full output")->delimiter(',');
    run_cmd->add_option("--pad-begin", r.pad_begin, "padding cropped at the begin of each axis")->delimiter(',');
    run_cmd->add_option("--pad-end", r.pad_end, "padding cropped at the end of each axis")->delimiter(',');
    run_cmd->add_option("--output-padding", r.output_padding, "extra computed positions at the end")->delimiter(',');
    run_cmd->add_option("--output-size", r.output_size, "spatial output size (derives output padding, as PyTorch)")->delimiter(',');
    run_cmd->add_option("--dilation", r.dilation, "kernel dilation (1 = dense)")->delimiter(',');
    run_cmd->add_option("--groups", r.groups, "groups");
    run_cmd->add_option("--algorithm", r.algorithm, "auto or an algorithm name (see `tconv algorithms`)");
    run_cmd->add_option("--direction", r.direction, "with --problem --check: forward, backward_data or backward_weights");
    run_cmd->add_option("--dtype", r.dtype, "with --problem: f32 (default) or f64");
    run_cmd->add_flag("-v,--verbose", r.verbose, "print the algorithm choice and every refusal");
    run_cmd->add_flag("--check", r.check, "compare the result with the scatter reference; exit 1 on a difference");
    run_cmd->add_flag("-q,--quiet", r.quiet, "print nothing but errors");

    std::string alg_problem;
    auto* alg_cmd = app.add_subcommand("algorithms", "List the algorithms; with --problem, which support it and why not");
    alg_cmd->add_option("--problem", alg_problem, "a canonical problem string");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (run_cmd->parsed()) return run(r);
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
