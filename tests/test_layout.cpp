// Channels-last data (Options::layout): the same numbers as channels-first for every operation (the
// transposed convolution, the regular one, their gradients, Plan, the fused epilogues), the layout helpers,
// and clear errors. The conformance test covers every algorithm, direction and SIMD target in both layouts.
#include <algorithm>
#include <new>

#include "test_util.hpp"

namespace tconv::test {
namespace {

template <class T>
Tensor<T> first_of(const Tensor<T>& last) {  // (mb, sp..., c) -> (mb, c, sp...), plain index arithmetic
    const int64_t mb = last.shape.front(), c = last.shape.back(), sp = last.size() / std::max<int64_t>(1, mb * c);
    Dims shape = {mb, c};
    shape.insert(shape.end(), last.shape.begin() + 1, last.shape.end() - 1);
    Tensor<T> r(shape);
    for (int64_t n = 0; n < mb; ++n)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t x = 0; x < sp; ++x) r.data[(n * c + ch) * sp + x] = last.data[(n * sp + x) * c + ch];
    return r;
}

Options last_opt(const std::string& algorithm = "auto") {
    Options o;
    o.algorithm = algorithm;
    o.layout = Layout::channels_last;
    return o;
}

TEST(Layout, DataShape) {
    EXPECT_EQ(data_shape({2, 3, 4, 5}, Layout::channels_first), (Dims{2, 3, 4, 5}));
    EXPECT_EQ(data_shape({2, 3, 4, 5}, Layout::channels_last), (Dims{2, 4, 5, 3}));
    EXPECT_EQ(data_shape({2, 3, 7}, Layout::channels_last), (Dims{2, 7, 3}));
    EXPECT_EQ(data_shape({2, 3, 4, 5, 6}, Layout::channels_last), (Dims{2, 4, 5, 6, 3}));
}

TEST(Layout, ConvertRoundTripAndErrors) {
    for (const Dims& shape : {Dims{2, 3, 4, 5}, Dims{1, 40, 33}, Dims{3, 2, 3, 4, 5}, Dims{1, 1, 70, 70}}) {
        const auto a = uniform<double>(shape, 7);
        Tensor<double> last(data_shape(shape, Layout::channels_last)), back(shape);
        convert_layout<double>(a.view(), Layout::channels_first, last.view(), Layout::channels_last);
        EXPECT_EQ(last.data, channels_last(a).data);
        convert_layout<double>(last.view(), Layout::channels_last, back.view(), Layout::channels_first);
        EXPECT_EQ(back.data, a.data);
    }
    Tensor<float> a({2, 3, 4}), b({2, 3, 4}), c({2, 4});
    EXPECT_ERROR(convert_layout<float>(a.view(), Layout::channels_first, b.view(), Layout::channels_last),
                 "out has shape (2,3,4) but in (2,3,4) converted needs (2,4,3)");
    EXPECT_ERROR(convert_layout<float>(c.view(), Layout::channels_first, c.view(), Layout::channels_last), "at least 3 axes");
    EXPECT_ERROR(convert_layout<float>(a.view(), Layout::channels_first, a.view(), Layout::channels_first), "overlaps");
}

const char* kProblems[] = {"mb2_ic5_oc7_i5x6_k3_s2_p1_op1_bias", "mb3_g2_ic4_oc6_i7_k4_s3_d2_p2_bias",
                           "mb1_ic64_oc40_i6x5_k4_s2_p1", "mb2_g3_ic3_oc3_i9x8_k4_s2_p1_bias",
                           "mb1_ic3_oc2_i3x4x3_k2x3x2_s2_bias", "mb20_ic9_oc33_i2x3_k4_s2_p1"};

TEST(Layout, TransposedEveryDirection) {
    for (const char* s : kProblems) {
        const Problem p = Problem::parse(s);
        const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
        const auto bia = small_ints<float>({p.oc}, 3), dd = small_ints<float>(p.dst_shape(), 4);
        const Tensor<float>* b = p.bias ? &bia : nullptr;
        const auto ref = forward<float>(p, src, wei, b, "scatter");
        const auto got = forward<float>(p, channels_last(src), wei, b, "auto", last_opt());
        EXPECT_EQ(got.shape, data_shape(p.dst_shape(), Layout::channels_last)) << s;
        EXPECT_EQ(first_of(got).data, ref.data) << s;
        EXPECT_EQ(first_of(backward_data<float>(p, channels_last(dd), wei, "auto", Layout::channels_last)).data,
                  backward_data<float>(p, dd, wei, "scatter").data) << s;
        const auto gw = backward_weights<float>(p, channels_last(src), channels_last(dd), "auto", Layout::channels_last);
        const auto rw = backward_weights<float>(p, src, dd, "scatter");
        EXPECT_EQ(gw.first.data, rw.first.data) << s;
        EXPECT_EQ(gw.second.data, rw.second.data) << s;
    }
}

TEST(Layout, FusedEpiloguesInPhase) {
    const Problem p = Problem::parse("mb2_ic6_oc37_i5x4_k3_s2_p1_bias");
    const auto src = small_ints<double>(p.src_shape(), 1), wei = small_ints<double>(p.wei_shape(), 2);
    const auto bia = small_ints<double>({p.oc}, 3);  // exact sums: the activation sees the same value
    using K = Epilogue::Kind;
    for (K k : {K::none, K::relu, K::leaky_relu, K::tanh, K::sigmoid, K::clamp}) {
        Options o;
        o.epilogue.kind = k;
        o.epilogue.lo = -3;
        o.epilogue.hi = 4;
        auto ref = forward<double>(p, src, wei, &bia, "scatter", o);
        o.layout = Layout::channels_last;
        const auto got = forward<double>(p, channels_last(src), wei, &bia, "phase", o);
        EXPECT_EQ(first_of(got).data, ref.data) << static_cast<int>(k);
    }
}

TEST(Layout, RegularConvolution) {
    const Problem t = Problem::parse("mb2_ic4_oc6_i5x6_k3_s2_p1_bias");
    Problem p = t.adjoint();  // a regular convolution (oc and ic swapped)
    p.bias = true;
    const auto src = small_ints<double>(p.src_shape(), 1), wei = small_ints<double>(p.wei_shape(), 2);
    const auto bia = small_ints<double>({p.oc}, 3), dd = small_ints<double>(p.dst_shape(), 4);
    Tensor<double> ref(p.dst_shape()), got(data_shape(p.dst_shape(), Layout::channels_last));
    Options o;
    o.epilogue.kind = Epilogue::Kind::relu;
    conv<double>(p, src.view(), wei.view(), bia.view(), ref.view(), o);
    o.layout = Layout::channels_last;
    conv<double>(p, channels_last(src).view(), wei.view(), bia.view(), got.view(), o);
    EXPECT_EQ(first_of(got).data, ref.data);

    Tensor<double> ds_ref(p.src_shape()), ds(data_shape(p.src_shape(), Layout::channels_last));
    conv_backward_data<double>(p, dd.view(), wei.view(), ds_ref.view());
    conv_backward_data<double>(p, channels_last(dd).view(), wei.view(), ds.view(), last_opt());
    EXPECT_EQ(first_of(ds).data, ds_ref.data);

    Tensor<double> dw_ref(p.wei_shape()), db_ref({p.oc}), dw(p.wei_shape()), db({p.oc});
    conv_backward_weights<double>(p, src.view(), dd.view(), dw_ref.view(), db_ref.view());
    conv_backward_weights<double>(p, channels_last(src).view(), channels_last(dd).view(), dw.view(), db.view(), last_opt());
    EXPECT_EQ(dw.data, dw_ref.data);
    EXPECT_EQ(db.data, db_ref.data);
}

TEST(Layout, PlanNativeAndConverted) {
    // phase reads channels-last data itself; rows copies the layers its channels-last kernels do not take
    // (here 4 groups: fewer than a vector of channels); col2im gets converted copies from the operation.
    for (const auto& [s, algo] : std::vector<std::pair<const char*, const char*>>{
             {"mb2_ic8_oc40_i7x6_k4_s2_p1_bias", "phase"}, {"mb2_g4_ic4_oc4_i9x8_k4_s2_p1_bias", "rows"},
             {"mb1_ic3_oc5_i4x5_k3_s2_p1_bias", "col2im"}, {"mb1_ic3_oc33_i11_k16_s8_p4_bias", "auto"}}) {
        const Problem p = Problem::parse(s);
        const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
        const auto bia = small_ints<float>({p.oc}, 3);
        const auto ref = forward<float>(p, src, wei, &bia, "scatter");
        Options o = last_opt(algo);
        o.threads = 2;
        Plan<float> plan(p, wei.view(), bia.view(), o);
        if (std::string(algo) != "auto") EXPECT_EQ(plan.algorithm(), algo);
        const auto xs = channels_last(src);
        for (int rep = 0; rep < 2; ++rep) {
            Tensor<float> dst(data_shape(p.dst_shape(), Layout::channels_last), 12345.f);
            plan.run(xs.view(), dst.view());
            EXPECT_EQ(first_of(dst).data, ref.data) << s << " " << algo;
        }
        // A channels-first tensor given to a channels-last plan: the error names the shape it needs.
        Tensor<float> dst(p.dst_shape());
        EXPECT_ERROR(plan.run(src.view(), dst.view()), "src has shape (" + dims_str(p.src_shape(), ',') +
                                                            ") but the problem needs (" +
                                                            dims_str(data_shape(p.src_shape(), Layout::channels_last), ',') + ")");
    }
}

// Channels-last outputs of 2 MiB or more are written with streaming stores where 64-byte aligned (phase's
// store, rows' depthwise kernel; rows' other channels-last rows, and any with an epilogue, through a row
// buffer; phase's channels that are not whole panels, with or without an epilogue, through staged stretches
// of a group of phases along the last axis, in 1-D, 2-D and 3-D): the same values as col2im's, at 1 and 2
// threads, aligned or not.
TEST(Layout, StreamedLargeOutputs) {
    struct Aligned {
        float* p;
        explicit Aligned(size_t n) : p(static_cast<float*>(::operator new((n + 16) * sizeof(float), std::align_val_t(64)))) {}
        ~Aligned() { ::operator delete(p, std::align_val_t(64)); }
    };
    struct Case {
        const char* s;
        const char* algo;
        bool relu;
    };
    for (const auto& [s, algo, relu] : std::vector<Case>{{"mb1_ic16_oc64_i96x96_k2_s2_bias", "phase", false},
                                                         {"mb1_g64_ic64_oc64_i128x128_k4_s2_p1_bias", "rows", false},
                                                         {"mb1_g64_ic64_oc64_i128x128_k4_s2_p1_bias", "rows", true},
                                                         {"mb1_g60_ic60_oc60_i128x128_k3_s2_p1_op1_bias", "rows", false},
                                                         {"mb3_ic32_oc3_i256x256_k4_s2_p1_bias", "rows", false},
                                                         {"mb1_ic9_oc5_i200x200_k3_s2_p1_op1_bias", "phase", false},
                                                         {"mb1_ic9_oc5_i200x200_k3_s2_p1_op1_bias", "phase", true},
                                                         {"mb1_ic10_oc7_i50000_k8_s4_p2_bias", "phase", false},
                                                         {"mb1_ic9_oc3_i40x40x40_k3_s2_p1_op1_bias", "phase", false}}) {
        const Problem p = Problem::parse(s);
        const auto src = channels_last(small_ints<float>(p.src_shape(), 1)), wei = small_ints<float>(p.wei_shape(), 2);
        const auto bia = small_ints<float>({p.oc}, 3);
        auto ref = channels_last(forward<float>(p, first_of(src), wei, &bia, "col2im"));
        ASSERT_GE(ref.data.size() * sizeof(float), size_t(2) << 20) << s;
        if (relu) {
            ASSERT_TRUE(std::any_of(ref.data.begin(), ref.data.end(), [](float v) { return v < 0; })) << s;
            for (float& v : ref.data) v = std::max(v, 0.f);
        }
        const Dims ls = data_shape(p.src_shape(), Layout::channels_last), ld = data_shape(p.dst_shape(), Layout::channels_last);
        for (int shift : {0, 1})  // aligned (streamed), then one float off (plain stores)
            for (int threads : {1, 2}) {
                Aligned x(src.data.size()), y(ref.data.size());
                std::copy(src.data.begin(), src.data.end(), x.p + shift);
                Options o = last_opt(algo);
                o.threads = threads;
                if (relu) o.epilogue.kind = Epilogue::Kind::relu;
                const Plan<float> plan(p, wei.view(), bia.view(), o);
                EXPECT_EQ(plan.algorithm(), algo);
                plan.run({x.p + shift, ls}, {y.p + shift, ld});
                EXPECT_TRUE(std::equal(ref.data.begin(), ref.data.end(), y.p + shift))
                    << s << (relu ? " relu" : "") << " shift " << shift << " threads " << threads;
            }
    }
}

// Channels-first outputs of 2 MiB or more from phase's transposed tiles (whole destination rows, streamed
// where aligned: merged phases interleaved, groups of phases interleaved, stride 1 along the rows) and from
// dense (1x1 input: whole image rows).
TEST(Layout, StreamedLargeOutputsChannelsFirst) {
    for (const auto& [s, algo] : std::vector<std::pair<const char*, const char*>>{
             {"mb1_ic12_oc64_i96x96_k2_s2_bias", "phase"}, {"mb1_ic12_oc40_i128x128_k3_s2_p1_op1_bias", "phase"},
             {"mb1_ic12_oc40_i230x230_k1_bias", "phase"}, {"mb64_ic8_oc512_i1x1_k8_bias", "dense"},
             {"mb2_g16_ic16_oc16_i128x128_k4_s2_p1_bias", "rows"}, {"mb3_g8_ic8_oc16_i127x129_k4_s2_p1_bias", "rows"},
             {"mb1_ic16_oc8_i64x64_k16_s8_p4_bias", "phase"}}) {
        const Problem p = Problem::parse(s);
        const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
        const auto bia = small_ints<float>({p.oc}, 3);
        const auto ref = forward<float>(p, src, wei, &bia, "col2im");
        ASSERT_GE(ref.data.size() * sizeof(float), size_t(8) << 20) << s;
        for (int shift : {0, 1})  // aligned rows, then one float off
            for (int threads : {1, 2}) {
                std::vector<float> x(src.data.size() + 16), y(ref.data.size() + 16);
                std::copy(src.data.begin(), src.data.end(), x.begin() + shift);
                Options o;
                o.algorithm = algo;
                o.threads = threads;
                const Plan<float> plan(p, wei.view(), bia.view(), o);
                plan.run({x.data() + shift, p.src_shape()}, {y.data() + shift, p.dst_shape()});
                EXPECT_TRUE(std::equal(ref.data.begin(), ref.data.end(), y.begin() + shift)) << s << " shift " << shift << " threads " << threads;
                // The one-call path (dense: its own lazy kernel, which reads the weights in place).
                std::fill(y.begin(), y.end(), 12345.f);
                conv_transpose<float>(p, {x.data() + shift, p.src_shape()}, wei.view(), bia.view(), {y.data() + shift, p.dst_shape()}, o);
                EXPECT_TRUE(std::equal(ref.data.begin(), ref.data.end(), y.begin() + shift)) << s << " one call, shift " << shift << " threads " << threads;
            }
    }
}

TEST(Layout, ThreadCountIndependent) {
    // (oc 48: whole panels, stored by the kernel itself; oc 50: through the C block)
    for (const char* s : {"mb3_ic70_oc50_i9x11_k3_s2_p1_bias", "mb3_ic70_oc48_i9x11_k3_s2_p1_bias"}) {
        const Problem p = Problem::parse(s);
        const auto src = channels_last(uniform<float>(p.src_shape(), 1));
        const auto wei = uniform<float>(p.wei_shape(), 2), bia = uniform<float>({p.oc}, 3);
        Options o = last_opt("phase");
        o.threads = 1;
        const auto one = forward<float>(p, src, wei, &bia, "phase", o);
        for (int n : {2, 3, 5}) {
            o.threads = n;
            EXPECT_EQ(forward<float>(p, src, wei, &bia, "phase", o).data, one.data) << s << " threads " << n;
        }
    }
}

// The phase gradients with random floats (where the order of a sum shows in the last bits): the same bits at
// any thread count, in both layouts; shapes that split the weight-gradient GEMM into several column blocks,
// several channel tiles, small images (the source moved channels-last) and large ones (read in place).
TEST(Layout, GradientsThreadCountIndependent) {
    for (const char* s : {"mb3_ic70_oc50_i9x11_k3_s2_p1_bias", "mb2_ic40_oc300_i4x4_k4_s2_p1_bias",
                          "mb1_g2_ic64_oc48_i90_k5_s3_d2_p2_bias", "mb2_ic33_oc20_i6x5x4_k2_s2_bias"}) {
        const Problem p = Problem::parse(s);
        for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
            auto src = uniform<float>(p.src_shape(), 1), dd = uniform<float>(p.dst_shape(), 4);
            if (layout == Layout::channels_last) src = channels_last(src), dd = channels_last(dd);
            const auto wei = uniform<float>(p.wei_shape(), 2);
            std::vector<Tensor<float>> ds, dw, db;
            for (int threads : {1, 2, 3}) {
                Options o;
                o.threads = threads;
                o.layout = layout;
                ds.push_back(backward_data<float>(p, dd, wei, "phase", o));
                auto [w, b] = backward_weights<float>(p, src, dd, "phase", o);
                dw.push_back(w);
                db.push_back(b);
            }
            for (int t = 1; t < 3; ++t) {
                EXPECT_EQ(ds[t].data, ds[0].data) << s << " threads " << t + 1;
                EXPECT_EQ(dw[t].data, dw[0].data) << s << " threads " << t + 1;
                EXPECT_EQ(db[t].data, db[0].data) << s << " threads " << t + 1;
            }
            // And close to the reference (float sums in another order).
            const auto ref = backward_weights<float>(p, layout == Layout::channels_last ? first_of(src) : src,
                                                     layout == Layout::channels_last ? first_of(dd) : dd, "scatter");
            for (size_t k = 0; k < ref.first.data.size(); ++k)
                ASSERT_NEAR(dw[0].data[k], ref.first.data[k], 1e-4 * (1 + std::abs(ref.first.data[k]))) << s << " " << k;
        }
    }
}

}  // namespace
}  // namespace tconv::test
