#include "common.hpp"

#include <random>

#include "tconv/error.hpp"
#include "tconv/npy.hpp"
#include "tconv/tensor.hpp"

namespace tconv::cli {

bool Params::any() const {
    return !stride.empty() || !padding.empty() || !pad_begin.empty() || !pad_end.empty() || !output_padding.empty() ||
           !output_size.empty() || !dilation.empty() || groups != 1;
}

void add_params(CLI::App* c, Params& r) {
    c->add_option("--stride", r.stride, "stride, one value or one per axis (e.g. 2 or 2,1)")->delimiter(',');
    c->add_option("--padding", r.padding, "symmetric padding cropped from the full output")->delimiter(',');
    c->add_option("--pad-begin", r.pad_begin, "padding cropped at the begin of each axis")->delimiter(',');
    c->add_option("--pad-end", r.pad_end, "padding cropped at the end of each axis")->delimiter(',');
    c->add_option("--output-padding", r.output_padding, "extra computed positions at the end")->delimiter(',');
    c->add_option("--output-size", r.output_size, "spatial output size (derives output padding, as PyTorch)")->delimiter(',');
    c->add_option("--dilation", r.dilation, "kernel dilation (1 = dense)")->delimiter(',');
    c->add_option("--groups", r.groups, "groups");
}

Problem problem_from(const Params& r, const Dims& src, const Dims& wei, bool bias, const Dims& dflt_stride,
                     const Dims& dflt_padding) {
    if (src.size() < 3) throw Error("input must have shape (N, C, spatial...) with at least 1 spatial axis, got (" + dims_str(src, ',') + ")");
    const int rank = static_cast<int>(src.size()) - 2;
    if (static_cast<int>(wei.size()) != rank + 2)
        throw Error("weight must have shape (C_in, C_out/groups, k...) with " + std::to_string(rank) +
                    " kernel axes to match the input, got (" + dims_str(wei, ',') + ")");
    if (wei[0] != src[1])
        throw Error("weight has " + std::to_string(wei[0]) + " input channels (its first axis) but input has C=" + std::to_string(src[1]));
    if (r.groups <= 0) throw Error("groups=" + std::to_string(r.groups) + " must be positive");
    if (!r.padding.empty() && (!r.pad_begin.empty() || !r.pad_end.empty()))
        throw Error("give either --padding or --pad-begin/--pad-end, not both");
    Problem p = pytorch_problem(src[0], src[1], wei[1] * r.groups, Dims(src.begin() + 2, src.end()),
                                Dims(wei.begin() + 2, wei.end()), r.stride.empty() ? dflt_stride : r.stride,
                                r.padding.empty() ? dflt_padding : r.padding,
                                r.output_padding.empty() ? Dims{0} : r.output_padding, r.groups,
                                r.dilation.empty() ? Dims{1} : r.dilation, bias);
    if (!r.pad_begin.empty() || !r.pad_end.empty()) {
        p.pb = broadcast(r.pad_begin.empty() ? Dims{0} : r.pad_begin, rank, "pad-begin");
        p.pe = broadcast(r.pad_end.empty() ? Dims{0} : r.pad_end, rank, "pad-end");
        p.validate();
    }
    if (!r.output_size.empty()) {
        if (!r.output_padding.empty()) throw Error("give either --output-size or --output-padding, not both");
        p = with_output_size(p, r.output_size);
    }
    return p;
}

namespace {

void flatten(const nlohmann::json& j, size_t depth, Dims& shape, std::vector<double>& out, const std::string& what) {
    if (j.is_number()) {
        if (depth != shape.size()) throw Error(what + ": the nesting is ragged (a number where a list was expected)");
        out.push_back(j.get<double>());
        return;
    }
    if (!j.is_array()) throw Error(what + ": expected numbers and lists, got " + std::string(j.type_name()));
    if (j.empty()) throw Error(what + ": an empty list");
    if (depth == shape.size()) {
        if (!out.empty()) throw Error(what + ": the nesting is ragged (a list where a number was expected)");
        shape.push_back(static_cast<int64_t>(j.size()));
    } else if (depth > shape.size() || shape[depth] != static_cast<int64_t>(j.size())) {
        throw Error(what + ": the lists are ragged (lengths differ at depth " + std::to_string(depth) + ")");
    }
    for (const auto& e : j) flatten(e, depth + 1, shape, out, what);
}

Dims parse_shape(const std::string& s, const std::string& what) {
    Dims d;
    size_t pos = 0;
    while (pos <= s.size()) {
        const size_t x = s.find('x', pos);
        const std::string part = s.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
        try {
            size_t used = 0;
            const long long v = std::stoll(part, &used);
            if (used != part.size() || v <= 0) throw std::invalid_argument("");
            d.push_back(v);
        } catch (const std::exception&) {
            throw Error(what + ": shape '" + s + "' must be positive sizes joined by x, e.g. 4x4");
        }
        if (x == std::string::npos) break;
        pos = x + 1;
    }
    shape_elems(d, what.c_str());
    return d;
}

}  // namespace

Values parse_values(const std::string& text, const std::string& what, uint64_t seed) {
    Values v;
    for (const char* kind : {"ones:", "random:"}) {
        if (text.rfind(kind, 0) == 0) {
            v.shape = parse_shape(text.substr(std::string(kind).size()), what);
            const int64_t n = shape_elems(v.shape, what.c_str());
            if (n > (int64_t(1) << 24)) throw Error(what + ": " + std::to_string(n) + " values is more than 2^24");
            v.data.assign(static_cast<size_t>(n), 1.0);
            if (kind[0] == 'r') {
                std::mt19937_64 rng(seed);
                std::uniform_int_distribution<int> dist(-3, 3);
                for (double& x : v.data) x = dist(rng);
            }
            return v;
        }
    }
    if (text.size() > 4 && text.compare(text.size() - 4, 4, ".npy") == 0) {
        const auto a = npy::load(text);
        v.shape = a.shape;
        if (a.dtype == npy::DType::f32) v.data.assign(a.f32.begin(), a.f32.end());
        else v.data = a.f64;
        return v;
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw Error(what + "='" + text + "' is not a nested list of numbers (e.g. [[1,2],[3,4]]), ones:SHAPE, random:SHAPE or a .npy file");
    }
    if (j.is_number()) j = nlohmann::json::array({j});
    flatten(j, 0, v.shape, v.data, what);
    return v;
}

nlohmann::json to_json(const Problem& p) {
    return {{"string", p.str()}, {"mb", p.mb}, {"groups", p.g}, {"in_channels", p.ic}, {"out_channels", p.oc},
            {"input", p.i}, {"kernel", p.k}, {"stride", p.s}, {"dilation", p.d}, {"pad_begin", p.pb},
            {"pad_end", p.pe}, {"output_padding", p.op}, {"output", p.o()}, {"bias", p.bias}};
}

}  // namespace tconv::cli

namespace tconv::cli {

void add_source(CLI::App* c, Source& s) {
    c->add_option("-e,--example", s.example, "a worked example of the seeds (see --list-examples)");
    c->add_option("-i,--input", s.input,
                  "input values: a nested list (spatial...) or (C_in, spatial...), ones:4x4, random:4x4 or a .npy");
    c->add_option("-k,--kernel", s.kernel, "kernel values: (k...) for one channel, or (C_in, C_out/groups, k...)");
    c->add_option("-b,--bias", s.bias, "bias values, one per output channel");
    c->add_option("--seed", s.seed, "seed for random: values");
    add_params(c, s.prm);
}

Loaded load(const Source& s) {
    Loaded l;
    if (!s.example.empty()) {
        if (!s.input.empty() || !s.kernel.empty()) throw Error("give either --example or --input/--kernel, not both");
        const auto& ex = explain::example(s.example);
        l.example = &ex;
        l.src = ex.src;
        l.wei = ex.wei;
        l.title = ex.source + ": " + ex.description;
        if (!s.bias.empty()) l.bia = parse_values(s.bias, "--bias").data;
        l.p = s.prm.any() || !l.bia.empty()
                  ? problem_from(s.prm, ex.problem.src_shape(), ex.problem.wei_shape(), !l.bia.empty(), ex.problem.s, ex.problem.pb)
                  : ex.problem;
        return l;
    }
    if (s.input.empty() || s.kernel.empty()) throw Error("give --example NAME, or both --input and --kernel");
    const Values x = parse_values(s.input, "--input", s.seed), w = parse_values(s.kernel, "--kernel", s.seed + 1);
    Dims src{1}, wei;
    if (w.shape.size() == x.shape.size()) {  // one channel: spatial axes only
        src.push_back(1);
        wei = {1, 1};
    } else if (w.shape.size() != x.shape.size() + 1) {
        throw Error("--input has " + std::to_string(x.shape.size()) + " axes and --kernel " + std::to_string(w.shape.size()) +
                    ": give both with the spatial axes only (one channel), or --input (C_in, spatial...) with "
                    "--kernel (C_in, C_out/groups, k...)");
    }
    src.insert(src.end(), x.shape.begin(), x.shape.end());
    wei.insert(wei.end(), w.shape.begin(), w.shape.end());
    if (src.size() > 5) throw Error("--input has " + std::to_string(src.size() - 2) + " spatial axes; explain shows 1 to 3");
    if (!s.bias.empty()) l.bia = parse_values(s.bias, "--bias").data;
    l.p = problem_from(s.prm, src, wei, !l.bia.empty());
    l.src = x.data;
    l.wei = w.data;
    l.title = "your numbers";
    return l;
}

Dims with_channels(int64_t c, const Dims& spatial) {
    Dims s{c};
    s.insert(s.end(), spatial.begin(), spatial.end());
    return s;
}

std::string axis_name(int rank, int a) {
    if (rank == 1) return "position";
    static const char* names[] = {"depth", "row", "column"};
    return names[3 - rank + a];
}

}  // namespace tconv::cli
