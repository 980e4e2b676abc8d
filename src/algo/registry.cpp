// The one ordered table of algorithms, and the choice among them.
#include <ostream>

#include "../util.hpp"
#include "algo.hpp"
#include "../kernels/gemm.hpp"
#include "tconv/error.hpp"

namespace tconv {

std::string_view direction_name(Direction dir) {
    switch (dir) {
        case Direction::forward: return "forward";
        case Direction::backward_data: return "backward_data";
        case Direction::backward_weights: return "backward_weights";
    }
    return "?";
}

namespace algo {

// Preference order for "auto": the first entry that supports a problem (and prefers it, where the entry has a
// preference) runs it. The scatter reference
// supports everything and comes last.
const std::vector<Algorithm>& registry() {
    static const std::vector<Algorithm> table = {
        rows(),
        dense(),
        period(),
        winograd(),
        phase(),
        col2im(),
        conv_grad(),
        gather(),
        matrix(),
        scatter(),
    };
    return table;
}

Geometry::Geometry(const Problem& p)
    : rank(p.rank()), icg(p.ic / p.g), ocg(p.oc / p.g), i(p.i), o(p.o()), k(p.k),
      isz(detail::prod(i)), osz(detail::prod(o)), ksz(detail::prod(k)),
      i_st(detail::row_major_strides(i)), o_st(detail::row_major_strides(o)), k_st(detail::row_major_strides(k)) {}

std::string always_supported(const Problem&, Direction) { return {}; }

CallContext& call_context() {
    thread_local CallContext ctx;
    return ctx;
}

namespace {

bool implements(const Algorithm& a, Direction dir) {
    switch (dir) {
        case Direction::forward: return a.f32.fwd && a.f64.fwd;
        case Direction::backward_data: return a.f32.bwd_data && a.f64.bwd_data;
        case Direction::backward_weights: return a.f32.bwd_wei && a.f64.bwd_wei;
    }
    return false;
}

std::string refusal(const Algorithm& a, const Problem& p, Direction dir) {
    if (!implements(a, dir)) return detail::cat("does not implement ", direction_name(dir));
    return a.supports(p, dir);
}

}  // namespace

const Algorithm& find(const Problem& p, Direction dir, std::string_view requested, std::ostream* log) {
    if (p.kind != Kind::transposed) throw Error("internal: algorithms take the transposed form of a problem");
    p.validate();
    const auto& table = registry();
    if (requested == "auto") {
        for (const Algorithm& a : table) {
            if (!log && !implements(a, dir)) continue;  // no reason to format when nobody reads it
            std::string why = refusal(a, p, dir);
            if (why.empty() && a.prefers) {
                why = a.prefers(p, dir);
                if (!why.empty()) why = "supports it, but auto passes: " + why;
            }
            if (why.empty()) {
                if (log) *log << "tconv: " << p.str() << " " << direction_name(dir) << ": using " << a.name << "\n";
                return a;
            }
            if (log) *log << "tconv: " << p.str() << " " << direction_name(dir) << ": " << a.name << " refuses: " << why << "\n";
        }
        throw Error(detail::cat("no algorithm supports ", p.str(), " ", direction_name(dir)));  // scatter takes all
    }
    for (const Algorithm& a : table) {
        if (a.name != requested) continue;
        const std::string why = refusal(a, p, dir);
        if (!why.empty())
            throw Error(detail::cat("algorithm '", a.name, "' refuses ", p.str(), " (", direction_name(dir), "): ", why));
        if (log) *log << "tconv: " << p.str() << " " << direction_name(dir) << ": using " << a.name << " (requested)\n";
        return a;
    }
    std::string names;
    for (const Algorithm& a : table) names += (names.empty() ? "" : ", ") + a.name;
    throw Error(detail::cat("algorithm='", requested, "' is unknown: choose auto or one of ", names));
}

}  // namespace algo

std::vector<std::string> simd_targets() {
    std::vector<std::string> r;
    for (const auto& k : kernels::kernel_targets()) r.push_back(k.target);
    return r;
}

std::vector<AlgorithmInfo> algorithms() {
    std::vector<AlgorithmInfo> r;
    for (const auto& a : algo::registry()) r.push_back({a.name, a.summary, a.simd});
    return r;
}

std::vector<Verdict> explain_choice(const Problem& p, Direction dir) {
    const Problem t = p.kind == Kind::transposed ? p : p.adjoint();
    if (p.kind == Kind::conv) dir = algo::adjoint_direction(dir);
    t.validate();
    std::vector<Verdict> r;
    for (const auto& a : algo::registry()) r.push_back({a.name, algo::refusal(a, t, dir)});
    return r;
}

std::string choose_algorithm(const Problem& p, Direction dir, std::string_view requested) {
    const Problem t = p.kind == Kind::transposed ? p : p.adjoint();
    if (p.kind == Kind::conv) dir = algo::adjoint_direction(dir);
    return algo::find(t, dir, requested, nullptr).name;
}

}  // namespace tconv
