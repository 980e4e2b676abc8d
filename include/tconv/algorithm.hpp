// The algorithm registry: one ordered table, each entry supporting a problem or refusing it with a reason.
// "auto" picks the first entry that supports the problem and direction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv {

// The three computations of a transposed convolution (always described by a Kind::transposed problem).
enum class Direction {
    forward,           // dst = T(src; wei) + bia
    backward_data,     // diff_src = T^T(diff_dst; wei): a regular convolution
    backward_weights,  // diff_wei, diff_bia
};

std::string_view direction_name(Direction dir);

struct AlgorithmInfo {
    std::string name;
    std::string summary;
    bool simd = false;  // runs SIMD micro-kernels: Options::simd picks the target
};

// The SIMD targets compiled in and supported by this CPU, best first (Highway's names, e.g. "AVX3",
// "AVX2", "SSE4", and the portable "EMU128").
std::vector<std::string> simd_targets();

// Every registered algorithm, in preference order.
std::vector<AlgorithmInfo> algorithms();

struct Verdict {
    std::string name;
    std::string refusal;  // empty when the algorithm supports the problem
    bool supported() const { return refusal.empty(); }
};

// For each algorithm, in order: does it support this (transposed) problem in this direction, and if not, why.
std::vector<Verdict> explain_choice(const Problem& p, Direction dir);

// Resolve "auto" or a name to the algorithm that will run. Throws tconv::Error for an unknown name or
// an algorithm that refuses the problem (the message carries its reason).
std::string choose_algorithm(const Problem& p, Direction dir, std::string_view requested = "auto");

}  // namespace tconv
