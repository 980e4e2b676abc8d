// Pieces the subcommands share: the layer parameter options (PyTorch's names), small data given on the
// command line, and JSON helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv::cli {

struct Params {
    std::vector<int64_t> stride, padding, pad_begin, pad_end, output_padding, output_size, dilation;
    int64_t groups = 1;
    bool any() const;
};
void add_params(CLI::App* cmd, Params& p);

// The problem for tensor shapes src (N, C_in, spatial...) and wei (C_in, C_out/groups, k...) and the
// parameter options (the defaults where not given).
Problem problem_from(const Params& r, const Dims& src, const Dims& wei, bool bias, const Dims& dflt_stride = {1},
                     const Dims& dflt_padding = {0});

// Values on the command line: a nested list ("[[1,2],[3,4]]", shape from the nesting), "ones:4x4",
// "random:4x4" (integers in [-3, 3] from `seed`), or "file.npy". `what` names the option in errors.
struct Values {
    Dims shape;
    std::vector<double> data;
};
Values parse_values(const std::string& text, const std::string& what, uint64_t seed = 1);

nlohmann::json to_json(const Problem& p);

}  // namespace tconv::cli

#include "tconv/explain.hpp"

namespace tconv::cli {

// Where a small problem and its numbers come from: a seed example, or --input/--kernel values (with the
// parameter options; PyTorch defaults where not given). Shared by explain, matrix and render.
struct Source {
    std::string example, input, kernel, bias;
    uint64_t seed = 1;
    Params prm;
};
void add_source(CLI::App* cmd, Source& s);

struct Loaded {
    Problem p;
    std::vector<double> src, wei, bia;
    std::string title;
    const explain::Example* example = nullptr;
};
Loaded load(const Source& s);

// {"shape": shape, "values": v}
nlohmann::json tensor_json(const Dims& shape, const std::vector<double>& v);
// Everything explain computed, and the terms of output cell (oc, cell), as `tconv explain --json` prints it.
nlohmann::json explanation_json(const Loaded& l, const explain::Explanation& e, int64_t oc, const Dims& cell);

// (c, spatial...): a shape with a leading channel axis.
Dims with_channels(int64_t c, const Dims& spatial);

// Names of the spatial axes for people: "position" (1-D), "row"/"column" (2-D), "depth"/"row"/"column" (3-D).
std::string axis_name(int rank, int a);

}  // namespace tconv::cli

namespace tconv::cli {

// Calls f(idx) for every multi-index of ext in row-major order.
template <class F>
void each_index(const Dims& ext, F&& f) {
    for (int64_t e : ext)
        if (e <= 0) return;
    Dims idx(ext.size(), 0);
    while (true) {
        f(static_cast<const Dims&>(idx));
        int a = static_cast<int>(ext.size()) - 1;
        while (a >= 0 && ++idx[a] == ext[a]) idx[a--] = 0;
        if (a < 0) return;
    }
}

}  // namespace tconv::cli
