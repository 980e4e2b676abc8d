// The explanation engine: the seeds' worked examples in every view, the four views agreeing with each
// other and with the scatter reference on random small problems, the cell formulas, and the limits.
// Also the checkerboard maps and the fixed upsamplers (against hand-worked values and identities).
#include "test_util.hpp"

namespace tconv::test {
namespace {

template <class F>
void detail_each(const Dims& ext, F&& f) {
    Dims idx(ext.size(), 0);
    while (true) {
        f(static_cast<const Dims&>(idx));
        int a = static_cast<int>(ext.size()) - 1;
        while (a >= 0 && ++idx[a] == ext[a]) idx[a--] = 0;
        if (a < 0) return;
    }
}

std::vector<double> scatter_reference(const Problem& p, const std::vector<double>& x, const std::vector<double>& w,
                                      const std::vector<double>& b) {
    Tensor<double> y(p.dst_shape());
    Options o;
    o.algorithm = "scatter";
    conv_transpose<double>(p, {x.data(), p.src_shape()}, {w.data(), p.wei_shape()},
                           b.empty() ? View<const double>{} : View<const double>{b.data(), {p.oc}}, y.view(), o);
    return y.data;
}

TEST(Explain, EverySeedExampleInEveryView) {
    ASSERT_GE(explain::examples().size(), 8u);
    for (const auto& ex : explain::examples()) {
        SCOPED_TRACE(ex.name);
        const auto e = explain::explain(ex.problem, ex.src, ex.wei);
        ASSERT_FALSE(ex.expected.empty());
        EXPECT_EQ(e.distribute, ex.expected);
        EXPECT_EQ(e.collect, ex.expected);
        EXPECT_EQ(e.matrix, ex.expected);
        EXPECT_EQ(e.gradient, ex.expected);
        EXPECT_EQ(e.disagreement(), 0);
        EXPECT_EQ(scatter_reference(ex.problem, ex.src, ex.wei, {}), ex.expected);
        EXPECT_EQ(e.steps.size(), ex.src.size());  // one distribute step per input value
        // Each step adds its value times the whole kernel: nothing is cropped from the full output.
        double ksum = 0, before = 0;
        for (double w : ex.wei) ksum += w;
        for (size_t k = 0; k < e.steps.size(); ++k) {
            double after = 0;
            for (double v : e.steps[k].running) after += v;
            EXPECT_EQ(after - before, ex.src[k] * ksum) << "step " << k;
            before = after;
        }
    }
}

TEST(Explain, Seed000FullOutputAndCollectViewAreTheSeedsOwn) {
    const auto& ex = explain::example("seed000-2d");
    const auto e = explain::explain(ex.problem, ex.src, ex.wei);
    // The seed's intermediate 5x5 matrix before carving the padding.
    EXPECT_EQ(e.full_out, (std::vector<double>{1, 1, 3, 2, 2, 0, 0, 0, 0, 0, 2, 2, 4, 2, 2, 0, 0, 0, 0, 0, -3, -3, -7, -4, -4}));
    EXPECT_EQ(e.full, (Dims{5, 5}));
    // Collect: 1 zero between values, 3-1-1 = 1 of padding on every side: a 5x5 with the values at odd places.
    EXPECT_EQ(e.padded_size, (Dims{5, 5}));
    EXPECT_EQ(e.padded, (std::vector<double>{0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(e.flipped, (std::vector<double>{-1, -1, -1, 0, 0, 0, 1, 1, 1}));
    // Seed 003's "padding of 2 when thinking of it as a Conv2D": no padding gives k-1 = 2 on each side.
    const auto& s3 = explain::example("seed003");
    const auto e3 = explain::explain(s3.problem, s3.src, s3.wei);
    EXPECT_EQ(e3.lead, (Dims{2, 2}));
    EXPECT_EQ(e3.trail, (Dims{2, 2}));
    EXPECT_EQ(e3.flipped, (std::vector<double>{2, 1, 2, 0, 1, 0, 3, 2, 1}));
    // Seed 002's C is 4x16 (the 4x4-input convolution); C^T x2 is its printed 16-vector.
    const auto& s2 = explain::example("seed002");
    const auto e2 = explain::explain(s2.problem, s2.src, s2.wei);
    EXPECT_EQ(e2.C.rows, 4);
    EXPECT_EQ(e2.C.cols, 16);
    // and C applied to seed 002's 4x4 input is its convolution output [[94,74],[82,75]].
    const std::vector<double> inputs{6, 3, 2, 4, 2, 5, 2, 6, 7, 5, 2, 6, 6, 2, 2, 8};
    std::vector<double> conv_out(4);
    e2.C.multiply(inputs.data(), conv_out.data());
    EXPECT_EQ(conv_out, (std::vector<double>{94, 74, 82, 75}));
}

TEST(Explain, ViewsAgreeOnRandomProblems) {
    std::mt19937_64 rng(7);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int tried = 0;
    for (int t = 0; t < 400 && tried < 150; ++t) {
        Problem p;
        const int r = pick(1, 3);
        p.g = pick(1, 2);
        p.ic = p.g * pick(1, 2);
        p.oc = p.g * pick(1, 2);
        p.bias = pick(0, 1);
        for (int a = 0; a < r; ++a) {
            p.i.push_back(pick(1, r == 3 ? 2 : 3));
            p.k.push_back(pick(1, 3));
            p.s.push_back(pick(1, 3));
            p.d.push_back(pick(1, 2));
            p.pb.push_back(pick(-1, 2));
            p.pe.push_back(pick(-1, 2));
            p.op.push_back(0);
            if (p.s[a] > 1 || p.d[a] > 1) p.op[a] = pick(0, std::max(p.s[a], p.d[a]) - 1);
        }
        try {
            p.validate();
        } catch (const Error&) {
            continue;
        }
        ++tried;
        SCOPED_TRACE(p.str());
        const auto x = small_ints<double>(p.src_shape(), t), w = small_ints<double>(p.wei_shape(), t + 1000);
        const auto b = p.bias ? small_ints<double>({p.oc}, t + 2000).data : std::vector<double>{};
        const auto e = explain::explain(p, x.data, w.data, b);
        const auto ref = scatter_reference(p, x.data, w.data, b);
        EXPECT_EQ(e.distribute, ref);
        EXPECT_EQ(e.collect, ref);
        EXPECT_EQ(e.matrix, ref);
        EXPECT_EQ(e.gradient, ref);
        // Each cell's terms sum to its value, and the zero taps plus the terms fill the flipped kernel.
        const Dims o = p.o();
        std::vector<double> from_terms(ref.size());
        int64_t at = 0;
        for (int64_t oc = 0; oc < p.oc; ++oc)
            detail_each(o, [&](const Dims& cell) {
                double s = b.empty() ? 0 : b[oc];
                for (const auto& term : explain::cell_terms(e, oc, cell)) s += term.value * term.weight;
                from_terms[at++] = s;
            });
        EXPECT_EQ(from_terms, ref);
    }
    EXPECT_GE(tried, 100);
}

TEST(Explain, CellTermsNameBothViews) {
    const auto& ex = explain::example("seed003-stride");
    const auto e = explain::explain(ex.problem, ex.src, ex.wei);
    // Output [2,2] = 16 collects every input value (stride 2, kernel 3 overlaps at the centre).
    const auto terms = explain::cell_terms(e, 0, {2, 2});
    ASSERT_EQ(terms.size(), 4u);
    double sum = 0;
    for (const auto& t : terms) {
        sum += t.value * t.weight;
        for (int a = 0; a < 2; ++a) {
            EXPECT_EQ(t.flipped[a], 2 - t.k[a]);                 // turned 180 degrees
            EXPECT_EQ(t.padded[a], 2 + t.flipped[a]);            // the window at [2,2]
            EXPECT_EQ(t.padded[a], t.pos[a] * 2 + e.lead[a]);    // where the value sits
        }
    }
    EXPECT_EQ(sum, 16);
    EXPECT_EQ(explain::cell_zero_taps(e, 0, {2, 2}), 5);
    EXPECT_EQ(explain::cell_zero_taps(e, 0, {1, 1}), 8);
}

TEST(Explain, ClearErrors) {
    const auto& ex = explain::example("seed000-2d");
    const auto e = explain::explain(ex.problem, ex.src, ex.wei);
    try {
        explain::cell_terms(e, 0, {3, 0});
        FAIL();
    } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("outside the output: 1 channels of 3x3"), std::string::npos) << err.what();
    }
    EXPECT_THROW(explain::cell_terms(e, 1, {0, 0}), Error);
    EXPECT_THROW(explain::cell_terms(e, 0, {0}), Error);
    const Problem big = Problem::parse("mb1_ic1_oc1_i40x40_k3_s2");
    try {
        explain::explain(big, std::vector<double>(1600, 1), std::vector<double>(9, 1));
        FAIL();
    } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("explain shows at most 4096"), std::string::npos) << err.what();
    }
    EXPECT_THROW(explain::explain(ex.problem, {1, 2, 3}, ex.wei), Error);
    EXPECT_THROW(explain::explain(Problem::parse("mb2_ic1_oc1_i2_k3"), {1, 2, 3, 4}, {1, 2, 3}), Error);
    EXPECT_THROW(explain::example("seed999"), Error);
}

TEST(Checkerboard, OverlapMapsAndPatterns) {
    // Seed 003's ones example: the overlap map is its output.
    const auto m = checkerboard::overlap(Problem::parse("mb1_ic1_oc1_i4x4_k3"));
    EXPECT_EQ(m.values, explain::example("seed003-ones").expected);
    // Kernel 3, stride 2: taps alternate 2,1 per axis.
    const auto p32 = checkerboard::pattern({Problem::parse("mb1_ic1_oc1_i4_k3_s2")});
    EXPECT_EQ(p32.values, (std::vector<double>{2, 1}));
    EXPECT_DOUBLE_EQ(p32.unevenness, 0.5);
    const auto p2d = checkerboard::pattern({Problem::parse("mb1_ic1_oc1_i4x4_k3_s2")});
    EXPECT_EQ(p2d.values, (std::vector<double>{4, 2, 2, 1}));
    // Kernel a multiple of the stride: even.
    EXPECT_EQ(checkerboard::pattern({Problem::parse("mb1_ic1_oc1_i4x4_k4_s2_p1")}).unevenness, 0);
    // The pattern is what the interior of the real map shows.
    const auto big = checkerboard::overlap(Problem::parse("mb1_ic1_oc1_i9_k5_s3"));
    const auto per = checkerboard::pattern({Problem::parse("mb1_ic1_oc1_i9_k5_s3")});
    for (int64_t j = 6; j < 21; ++j) EXPECT_EQ(big.values[j], per.values[j % 3]) << j;
    // Two stacked k3 s2 layers: period 4, and the map's interior repeats it.
    const std::vector<Problem> stack{Problem::parse("mb1_ic1_oc1_i8_k3_s2"), Problem::parse("mb1_ic1_oc1_i8_k3_s2")};
    const auto sm = checkerboard::overlap(stack);
    const auto sp = checkerboard::pattern(stack);
    EXPECT_EQ(sm.shape, (Dims{4 * 7 + 3 + 2 * 2}));  // 17 -> 35
    ASSERT_EQ(sp.values.size(), 4u);
    for (int64_t j = 8; j < 28; ++j) EXPECT_EQ(sm.values[j], sp.values[j % 4]) << j;
    EXPECT_GT(sp.unevenness, 0);
}

TEST(Checkerboard, WeightPatternIsWhatAConstantInputShows) {
    const Problem p = Problem::parse("mb1_ic2_oc3_i6x6_k3_s2_p1");
    const auto w = small_ints<double>(p.wei_shape(), 3);
    const auto wp = checkerboard::weight_pattern(p, w.data);
    ASSERT_EQ(wp.shape, (Dims{3, 2, 2}));
    const std::vector<double> ones(static_cast<size_t>(p.src_elems()), 1.0);
    const auto y = scatter_reference(p, ones, w.data, {});
    const Dims o = p.o();  // 11x11: compare the interior, away from the borders
    for (int64_t oc = 0; oc < 3; ++oc)
        for (int64_t r = 2; r < 9; ++r)
            for (int64_t c = 2; c < 9; ++c) EXPECT_EQ(y[(oc * o[0] + r) * o[1] + c], wp.values[oc * 4 + (r % 2) * 2 + c % 2]);
    // FCN's bilinear kernel is even: every phase sums to 1.
    const auto fcn = checkerboard::weight_pattern(upsample::bilinear_problem(1, {4, 4}, 2), upsample::bilinear_weights(1, 2, 2));
    for (double v : fcn.values) EXPECT_DOUBLE_EQ(v, 1.0);
    EXPECT_DOUBLE_EQ(fcn.unevenness, 0);
}

TEST(Upsample, HandWorkedValues) {
    // 1-D [0, 1] doubled: nearest [0,0,1,1]; linear (half-pixel) [0, .25, .75, 1]; align_corners [0, 1/3, 2/3, 1].
    const Tensor<double> x = make<double>({1, 1, 2}, {0, 1});
    EXPECT_EQ(upsample::interpolate<double>(x.view(), {4}, upsample::Mode::nearest).data, (std::vector<double>{0, 0, 1, 1}));
    EXPECT_EQ(upsample::interpolate<double>(x.view(), {4}, upsample::Mode::linear).data, (std::vector<double>{0, 0.25, 0.75, 1}));
    const auto ac = upsample::interpolate<double>(x.view(), {4}, upsample::Mode::linear, true).data;
    EXPECT_NEAR(ac[1], 1.0 / 3, 1e-15);
    EXPECT_NEAR(ac[2], 2.0 / 3, 1e-15);
    // Cubic reproduces a constant and, in the interior with align_corners, a straight line.
    const Tensor<double> line = make<double>({1, 1, 5}, {0, 1, 2, 3, 4});
    const auto cub = upsample::interpolate<double>(line.view(), {9}, upsample::Mode::cubic, true).data;
    for (int j = 2; j < 7; ++j) EXPECT_NEAR(cub[j], j * 0.5, 1e-12) << j;
    // Pixel shuffle: channel c*r*r + i*r + j goes to sub-position (i, j).
    const Tensor<double> ps = make<double>({1, 4, 1, 1}, {1, 2, 3, 4});
    EXPECT_EQ(upsample::pixel_shuffle<double>(ps.view(), 2).data, (std::vector<double>{1, 2, 3, 4}));
    const Tensor<double> ps2 = make<double>({1, 4, 1, 2}, {1, 5, 2, 6, 3, 7, 4, 8});
    EXPECT_EQ(upsample::pixel_shuffle<double>(ps2.view(), 2).data, (std::vector<double>{1, 2, 5, 6, 3, 4, 7, 8}));
    // FCN's kernel for factor 2 and 3.
    EXPECT_EQ(upsample::bilinear_kernel(2, 1), (std::vector<double>{0.25, 0.75, 0.75, 0.25}));
    const auto k3 = upsample::bilinear_kernel(3, 1);
    ASSERT_EQ(k3.size(), 5u);
    EXPECT_NEAR(k3[0], 1.0 / 3, 1e-15);
    EXPECT_EQ(k3[2], 1.0);
    // Errors name the rule.
    EXPECT_THROW(upsample::pixel_shuffle<double>(make<double>({1, 3, 1, 1}, {1, 2, 3}).view(), 2), Error);
    EXPECT_THROW(upsample::interpolate<double>(x.view(), {0}, upsample::Mode::nearest), Error);
    EXPECT_THROW(upsample::mode("lanczos"), Error);
}

TEST(Upsample, FcnTransposedConvolutionIsBilinearInTheInterior) {
    const auto x = small_ints<double>({1, 2, 5, 6}, 11);
    for (int64_t f : {2, 3, 4}) {
        const Problem p = upsample::bilinear_problem(2, {5, 6}, f);
        EXPECT_EQ(p.o(), (Dims{5 * f, 6 * f}));
        const auto y = scatter_reference(p, x.data, upsample::bilinear_weights(2, f, 2), {});
        const auto bl = upsample::interpolate<double>(x.view(), {5 * f, 6 * f}, upsample::Mode::linear).data;
        // Away from the border (where the transposed convolution sees zeros and bilinear clamps) they agree.
        for (int64_t c = 0; c < 2; ++c)
            for (int64_t r = f; r < 4 * f; ++r)
                for (int64_t q = f; q < 5 * f; ++q) {
                    const size_t at = size_t((c * 5 * f + r) * 6 * f + q);
                    EXPECT_NEAR(y[at], bl[at], 1e-12) << f << " " << r << "," << q;
                }
    }
}

TEST(Upsample, ResizeConvolutionOfAConstantIsConstantInside) {
    const Tensor<double> x({1, 1, 3, 3}, 2.0);
    const auto y = upsample::resize_convolution<double>(x.view(), 2, {3}, std::vector<double>(9, 1.0 / 9));
    ASSERT_EQ(y.shape, (Dims{1, 1, 6, 6}));
    EXPECT_NEAR(y.data[2 * 6 + 2], 2.0, 1e-15);
    EXPECT_NEAR(y.data[0], 2.0 * 4 / 9, 1e-15);  // 'same' zero padding at the corner
}

}  // namespace
}  // namespace tconv::test
