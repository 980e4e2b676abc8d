#include <map>
#include <tuple>
// Conformance: every algorithm x direction x dtype x shape-file problem x data layout against the scatter
// reference (channels-first), the channels-last results compared after moving the reference's channels.
// Small-integer fills make float32 sums exact whatever the order, so results must match bit for bit. The one
// exception: winograd's F(6,2), along the last axis of layers whose other axes have one tap per phase, rounds
// (its G holds fractions such as 1/18, and a tile's rounding reaches all its outputs): there every value must lie
// within 64 epsilons of the largest sum of terms' magnitudes (the reference run on |src|, |wei| and |bias|) of the
// reference; a term missed or added (at least 1 on small integers) is far outside that on every shape of the file.
#include <cmath>
#include <numeric>

#include "test_util.hpp"

namespace tconv::test {
namespace {

struct Case {
    std::string problem;
    Direction dir;
};

std::vector<Case> cases() {
    std::vector<Case> r;
    for (const auto& s : read_shapes("conformance.txt"))
        for (auto dir : {Direction::forward, Direction::backward_data, Direction::backward_weights}) r.push_back({s, dir});
    return r;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.problem << " " << direction_name(c.dir); }

class Conformance : public ::testing::TestWithParam<Case> {};

bool simd(const std::string& name) {
    for (const auto& a : algorithms())
        if (a.name == name) return a.simd;
    return false;
}

// Where winograd may take F(6,2): on every axis but the last, at most one tap per phase (k <= s / gcd(s, d)).
bool rounding_winograd(const std::string& name, const Problem& p, Direction dir) {
    if (name != "winograd" || dir != Direction::forward) return false;
    for (int a = 0; a + 1 < p.rank(); ++a)
        if (p.k[a] > p.s[a] / std::gcd(p.s[a], p.d[a])) return false;
    return true;
}

// |got - ref| <= tol, element by element (tol from f62_tolerance).
template <class T>
::testing::AssertionResult within(const Tensor<T>& got, const Tensor<T>& ref, double tol) {
    if (got.data.size() != ref.data.size()) return ::testing::AssertionFailure() << "sizes differ";
    if (!(tol < 0.5)) return ::testing::AssertionFailure() << "tolerance " << tol << ": too loose to catch a missed term";
    for (size_t i = 0; i < got.data.size(); ++i) {
        const double d = std::abs(static_cast<double>(got.data[i]) - static_cast<double>(ref.data[i]));
        if (!(d <= tol))
            return ::testing::AssertionFailure() << "element " << i << ": " << got.data[i] << " vs " << ref.data[i]
                                                 << " (tolerance " << tol << ")";
    }
    return ::testing::AssertionSuccess();
}

template <class T>
void check_case(const Case& c) {
    const Problem p = Problem::parse(c.problem);
    ASSERT_EQ(p.str(), c.problem) << "shape files hold canonical strings";
    const uint64_t seed = std::hash<std::string>{}(c.problem) % 100000;
    const auto src = small_ints<T>(p.src_shape(), seed);
    const auto wei = small_ints<T>(p.wei_shape(), seed + 1);
    const auto bia = small_ints<T>({p.oc}, seed + 2);
    const auto dst = small_ints<T>(p.dst_shape(), seed + 3);  // plays diff_dst for the gradients
    const auto src_last = channels_last(src);
    const auto dst_last = channels_last(dst);
    const auto names = supporting(p, c.dir);
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.back(), "scatter") << "the reference supports every problem";
    const char* dt = sizeof(T) == 4 ? "f32" : "f64";
    // The references, channels-first (diff_bia in ref_bia for the weight gradient).
    Tensor<T> ref, ref_bia;
    if (c.dir == Direction::forward) ref = forward<T>(p, src, wei, p.bias ? &bia : nullptr, "scatter");
    if (c.dir == Direction::backward_data) ref = backward_data<T>(p, dst, wei, "scatter");
    if (c.dir == Direction::backward_weights) std::tie(ref, ref_bia) = backward_weights<T>(p, src, dst, "scatter");
    const auto ref_last = c.dir == Direction::backward_weights ? ref : channels_last(ref);
    for (const auto& name : names) {
        const bool rounds = rounding_winograd(name, p, c.dir);
        const double tol = rounds ? f62_tolerance(p, src, wei, p.bias ? &bia : nullptr) : 0;
        const std::string repro = "repro: build/bin/tconv run --problem " + c.problem + " --seed " +
                                  std::to_string(seed) + " --algorithm " + name + " --check --direction " +
                                  std::string(direction_name(c.dir)) + " --dtype " + dt;
        // Both data layouts; SIMD algorithms: every target here, at 1, 2 and 3 threads (results never depend
        // on either). The forward's one-call paths: the driver's own (packing on every call) without
        // Options::reuse_weights and at 1 thread; with it, at 2 threads a plan prepared and kept for the call
        // (as Plan prepares it), at 3 threads that kept plan run again (the same weights).
        std::vector<Options> variants(1);
        variants[0].reuse_weights = false;
        if (simd(name))
            for (const auto& target : simd_targets())
                for (int threads : {1, 2, 3}) {
                    Options o;
                    o.simd = target;
                    o.threads = threads;
                    o.reuse_weights = threads != 1;
                    variants.push_back(o);
                }
        for (auto o : variants) {
            // (The CLI's single call prepares a plan: the drivers' own one-call path is named apart.)
            const std::string how = (o.simd.empty() ? "" : " --simd " + o.simd + " --threads " + std::to_string(o.threads)) +
                                    (c.dir == Direction::forward && !o.reuse_weights ? " [the driver's one-call path]" : "");
            Options l = o;
            l.layout = Layout::channels_last;
            const std::string lhow = how + " --layout channels_last";
            switch (c.dir) {
                case Direction::forward:
                    if (rounds) {
                        EXPECT_TRUE(within(forward<T>(p, src, wei, p.bias ? &bia : nullptr, name, o), ref, tol)) << repro << how;
                        EXPECT_TRUE(within(forward<T>(p, src_last, wei, p.bias ? &bia : nullptr, name, l), ref_last, tol))
                            << repro << lhow;
                        break;
                    }
                    EXPECT_EQ(forward<T>(p, src, wei, p.bias ? &bia : nullptr, name, o).data, ref.data) << repro << how;
                    EXPECT_EQ(forward<T>(p, src_last, wei, p.bias ? &bia : nullptr, name, l).data, ref_last.data)
                        << repro << lhow;
                    break;
                case Direction::backward_data:
                    EXPECT_EQ(backward_data<T>(p, dst, wei, name, o).data, ref.data) << repro << how;
                    EXPECT_EQ(backward_data<T>(p, dst_last, wei, name, l).data, ref_last.data) << repro << lhow;
                    break;
                case Direction::backward_weights: {
                    const auto got = backward_weights<T>(p, src, dst, name, o);
                    EXPECT_EQ(got.first.data, ref.data) << repro << how;
                    EXPECT_EQ(got.second.data, ref_bia.data) << repro << how;
                    const auto gl = backward_weights<T>(p, src_last, dst_last, name, l);
                    EXPECT_EQ(gl.first.data, ref.data) << repro << lhow;
                    EXPECT_EQ(gl.second.data, ref_bia.data) << repro << lhow;
                    break;
                }
            }
        }
    }
}

TEST_P(Conformance, Float32) { check_case<float>(GetParam()); }
TEST_P(Conformance, Float64) { check_case<double>(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Shapes, Conformance, ::testing::ValuesIn(cases()), [](const auto& info) {
    std::string n = info.param.problem + "_" + std::string(direction_name(info.param.dir));
    for (char& ch : n)
        if (ch == '-') ch = 'm';
    return n;
});

// Every algorithm's forward is exercised by some shape, and every direction has at least two algorithms
// (the reference and an independent one), so the conformance test can fail.
TEST(Conformance, EveryAlgorithmIsExercised) {
    std::map<std::string, int> used;
    for (const auto& c : cases())
        for (const auto& name : supporting(Problem::parse(c.problem), c.dir)) ++used[name + ":" + std::string(direction_name(c.dir))];
    for (const auto& a : algorithms()) EXPECT_GT(used[a.name + ":forward"], 0) << a.name;
    EXPECT_GT(used["col2im:backward_data"], 0);
    EXPECT_GT(used["matrix:backward_data"], 0);
    EXPECT_GT(used["conv_grad:backward_data"], 0);
    EXPECT_GT(used["col2im:backward_weights"], 0);
    EXPECT_GT(used["phase:backward_data"], 0);
    EXPECT_GT(used["phase:backward_weights"], 0);
}

}  // namespace
}  // namespace tconv::test
