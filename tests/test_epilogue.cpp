// The forward epilogue (bias, then an elementwise function): fused in the phase engine, a second pass
// elsewhere. Checked against the scatter reference with the function applied here, in the test.
#include <algorithm>
#include <cmath>
#include <functional>

#include "test_util.hpp"

namespace tconv::test {
namespace {

float expected(const Epilogue& e, float v) {
    switch (e.kind) {
        case Epilogue::Kind::none: return v;
        case Epilogue::Kind::relu: return std::max(v, 0.0f);
        case Epilogue::Kind::leaky_relu: return v < 0 ? float(e.alpha) * v : v;
        case Epilogue::Kind::tanh: return std::tanh(v);
        case Epilogue::Kind::sigmoid: return 1.0f / (1.0f + std::exp(-v));
        case Epilogue::Kind::clamp: return std::clamp(v, float(e.lo), float(e.hi));
    }
    return v;
}

class EpilogueCase : public ::testing::TestWithParam<const char*> {};

// Every algorithm that runs the problem's forward direction (fused: rows and phase; a second pass: the
// others), on layers that reach each path: rows' interleaved stride-2 rows (ocg 1-2), its phase rows
// (ocg 3-4, odd widths), and the phase GEMM; both data layouts (rows' channels-last depthwise and
// few-output-channel kernels: the last two layers).
INSTANTIATE_TEST_SUITE_P(Layers, EpilogueCase,
                         ::testing::Values("mb2_ic3_oc5_i4x3_k3_s2_p1_op1_bias", "mb2_ic3_oc2_i4x6_k4_s2_p1_bias",
                                           "mb1_g2_ic4_oc6_i5x7_k3_s2_p1_op1_bias", "mb2_g3_ic3_oc3_i9_k5_s3_p2_bias",
                                           "mb2_g20_ic20_oc20_i5x4_k4_s2_p1_bias", "mb1_ic20_oc3_i4x5_k3_s2_p1_bias",
                                           "mb13_ic7_oc6_i1x1_k4_bias", "mb2_ic12_oc9_i11_k4_s3_p1_bias",
                                           "mb1_ic10_oc90_i20_k15_s8_p4_bias"));

TEST_P(EpilogueCase, EveryKindThroughFusedAndSecondPassAlgorithms) {
    const Problem p = Problem::parse(GetParam());
    const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
    const auto bia = small_ints<float>({p.oc}, 3);
    const auto ref = forward<float>(p, src, wei, &bia, "scatter");
    const auto src_last = channels_last(src), ref_last = channels_last(ref);
    // winograd's F(6,2) (1-D layers) rounds (f62_tolerance); the other algorithms' sums of small integers are exact
    // (the epilogue's own rounding aside).
    const double wino_tol = f62_tolerance(p, src, wei, &bia);
    using K = Epilogue::Kind;
    for (K kind : {K::relu, K::leaky_relu, K::tanh, K::sigmoid, K::clamp}) {
        Options o;
        o.epilogue.kind = kind;
        o.epilogue.alpha = 0.25;
        o.epilogue.lo = -2;
        o.epilogue.hi = 3;
        int changed = 0;
        for (const auto& v : explain_choice(p, Direction::forward)) {
            if (!v.supported()) continue;
            const char* algo = v.name.c_str();
            const double tol = v.name == "winograd" ? std::max(1e-6, wino_tol) : 1e-6;
            const auto got = forward<float>(p, src, wei, &bia, algo, o);
            for (size_t j = 0; j < ref.data.size(); ++j) {
                EXPECT_NEAR(got.data[j], expected(o.epilogue, ref.data[j]), tol) << algo << " kind " << int(kind) << " at " << j;
                changed += got.data[j] != ref.data[j];
            }
            Options l = o;
            l.layout = Layout::channels_last;
            const auto got_last = forward<float>(p, src_last, wei, &bia, algo, l);
            for (size_t j = 0; j < ref.data.size(); ++j)
                EXPECT_NEAR(got_last.data[j], expected(o.epilogue, ref_last.data[j]), tol)
                    << algo << " channels_last, kind " << int(kind) << " at " << j;
        }
        EXPECT_GT(changed, 0) << "the fill must make every epilogue matter";
    }
}

TEST(Epilogue, RegularConvolutionToo) {
    const Problem p = Problem::parse("conv_mb1_ic2_oc3_i6x5_k3_s2_p1_bias");
    const auto src = small_ints<float>(p.src_shape(), 4), wei = small_ints<float>(p.wei_shape(), 5);
    const auto bia = small_ints<float>({p.oc}, 6);
    Tensor<float> plain(p.dst_shape()), relu(p.dst_shape());
    conv<float>(p, src.view(), wei.view(), bia.view(), plain.view());
    Options o;
    o.epilogue.kind = Epilogue::Kind::relu;
    conv<float>(p, src.view(), wei.view(), bia.view(), relu.view(), o);
    for (size_t j = 0; j < plain.data.size(); ++j) EXPECT_EQ(relu.data[j], std::max(plain.data[j], 0.0f));
}

TEST(Options, BadThreadsAndSimdTargetAreErrors) {
    const Problem p = Problem::parse("mb1_ic1_oc1_i3_k3_s2");
    Tensor<float> s(p.src_shape()), w(p.wei_shape()), d(p.dst_shape());
    auto message = [&](const Options& o) -> std::string {
        try {
            conv_transpose<float>(p, s.view(), w.view(), {}, d.view(), o);
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    Options o;
    o.threads = -1;
    EXPECT_NE(message(o).find("threads=-1 must be 0 (every core) or positive"), std::string::npos) << message(o);
    o.threads = 1;
    o.simd = "NEON_SVE9";
    EXPECT_NE(message(o).find("SIMD target 'NEON_SVE9' is not available here (available: "), std::string::npos) << message(o);
    ASSERT_FALSE(simd_targets().empty());
    o.simd = simd_targets().back();  // the portable fallback runs anywhere
    EXPECT_EQ(message(o), "no error");
}

}  // namespace
}  // namespace tconv::test
