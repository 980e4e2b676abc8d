// tconv::Plan: prepared once, run many times, from several threads at once; the same results as the
// one-call function and the scatter reference; its own memory within the fast engine's budget.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <tuple>

#include "test_util.hpp"

namespace tconv::test {
namespace {


int64_t elems(const Dims& d) {
    int64_t n = 1;
    for (auto x : d) n *= x;
    return n;
}

// Layers reaching each path: rows (plane and row mode, stride-2 interleave), phase (GEMM; batch-inner
// blocks), dense (whose one-call path differs from its plan), and with a bias.
const char* kLayers[] = {"mb2_g4_ic4_oc4_i9x8_k4_s2_p1_bias", "mb3_ic5_oc3_i6x7_k4_s2_p1",
                         "mb1_ic80_oc2_i30x40_k3_s2_p1_op1", "mb13_ic7_oc40_i3x4_k3_s2_p1_bias",
                         "mb1_ic3_oc33_i11_k16_s8_p4", "mb2_ic6_oc5_i4x3x2_k2_s2_bias",
                         "mb70_ic5_oc40_i1x1_k4_bias"};

TEST(Plan, SameAsOneCallAndReference) {
    for (const char* s : kLayers) {
        const Problem p = Problem::parse(s);
        const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
        const auto bia = small_ints<float>({p.oc}, 3);
        const Tensor<float>* b = p.bias ? &bia : nullptr;
        const auto ref = forward<float>(p, src, wei, b, "scatter");
        Plan<float> plan(p, wei.view(), b ? b->view() : View<const float>{});
        EXPECT_EQ(plan.algorithm(), choose_algorithm(p, Direction::forward)) << s;
        EXPECT_FALSE(plan.simd().empty()) << s;
        EXPECT_GT(plan.packed_bytes(), 0u) << s;
        for (int rep = 0; rep < 2; ++rep) {  // runs again with the same packed weights
            Tensor<float> dst(p.dst_shape(), 12345.f);
            plan.run(src.view(), dst.view());
            EXPECT_EQ(dst.data, ref.data) << s << " run " << rep;
        }
        EXPECT_EQ(forward<float>(p, src, wei, b, "auto").data, ref.data) << s;
    }
}

// Packed weights of 4 MiB or more go into a buffer on (advised) huge pages, and the pack reads the weights
// ahead of its transposes: a one-call after a smaller one (its per-thread buffer grows into that allocation),
// a plan, and the reference agree, in both layouts.
TEST(Plan, LargePackedWeights) {
    const Problem small = Problem::parse("mb1_ic8_oc8_i3x3_k4_s2_p1");
    const Problem p = Problem::parse("mb2_ic512_oc256_i3x3_k4_s2_p1_bias");
    const auto src = small_ints<float>(p.src_shape(), 21), wei = small_ints<float>(p.wei_shape(), 22);
    const auto bia = small_ints<float>({p.oc}, 23);
    const auto ref = forward<float>(p, src, wei, &bia, "scatter");
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
        Options o;
        o.algorithm = "phase";
        o.layout = layout;
        const auto ss = small_ints<float>(data_shape(small.src_shape(), layout), 24);
        const auto sw = small_ints<float>(small.wei_shape(), 25);
        Tensor<float> sd(data_shape(small.dst_shape(), layout));
        conv_transpose<float>(small, ss.view(), sw.view(), {}, sd.view(), o);
        Tensor<float> x(data_shape(p.src_shape(), layout)), want(data_shape(p.dst_shape(), layout));
        convert_layout<float>(src.view(), Layout::channels_first, x.view(), layout);
        convert_layout<float>(ref.view(), Layout::channels_first, want.view(), layout);
        Tensor<float> got(want.shape, 12345.f);
        conv_transpose<float>(p, x.view(), wei.view(), bia.view(), got.view(), o);
        EXPECT_EQ(got.data, want.data) << "one-call, layout " << static_cast<int>(layout);
        const Plan<float> plan(p, wei.view(), bia.view(), o);
        EXPECT_GE(plan.packed_bytes(), size_t(4) << 20);
        std::fill(got.data.begin(), got.data.end(), 12345.f);
        plan.run(x.view(), got.view());
        EXPECT_EQ(got.data, want.data) << "plan, layout " << static_cast<int>(layout);
    }
}

TEST(Plan, KeepsItsOwnCopyOfTheWeights) {
    for (const char* algo : {"auto", "col2im", "scatter"}) {  // packing drivers and the copying fallback
        const Problem p = Problem::parse("mb2_ic3_oc5_i4x5_k3_s2_p1_bias");
        auto src = small_ints<double>(p.src_shape(), 4), wei = small_ints<double>(p.wei_shape(), 5);
        auto bia = small_ints<double>({p.oc}, 6);
        const auto ref = forward<double>(p, src, wei, &bia, "scatter");
        Options o;
        o.algorithm = algo;
        Plan<double> plan(p, wei.view(), bia.view(), o);
        std::fill(wei.data.begin(), wei.data.end(), 0.0);
        std::fill(bia.data.begin(), bia.data.end(), 0.0);
        Tensor<double> dst(p.dst_shape());
        plan.run(src.view(), dst.view());
        EXPECT_EQ(dst.data, ref.data) << algo;
    }
}

TEST(Plan, ReentrantFromSeveralThreads) {
    for (const char* s : {"mb4_ic16_oc24_i12x12_k4_s2_p1_bias", "mb4_g8_ic8_oc8_i16x16_k4_s2_p1_bias"}) {
        const Problem p = Problem::parse(s);
        const auto wei = uniform<float>(p.wei_shape(), 7), bia = uniform<float>({p.oc}, 8);
        Options o;
        o.threads = 1;
        const Plan<float> plan(p, wei.view(), bia.view(), o);
        constexpr int kThreads = 4;
        std::vector<Tensor<float>> src, want, got;
        for (int t = 0; t < kThreads; ++t) {
            src.push_back(uniform<float>(p.src_shape(), 100 + t));
            want.push_back(forward<float>(p, src[t], wei, &bia, "auto", o));
            got.emplace_back(p.dst_shape());
        }
        std::vector<std::thread> pool;
        for (int t = 0; t < kThreads; ++t)
            pool.emplace_back([&, t] {
                for (int rep = 0; rep < 20; ++rep) plan.run(src[t].view(), got[t].view());
            });
        for (auto& th : pool) th.join();
        for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t].data, want[t].data) << s << " thread " << t;
    }
}

TEST(Plan, ThreadCountAndEpilogue) {
    const Problem p = Problem::parse("mb3_ic20_oc36_i9x10_k4_s2_p1_bias");
    const auto src = uniform<float>(p.src_shape(), 9), wei = uniform<float>(p.wei_shape(), 10);
    const auto bia = uniform<float>({p.oc}, 11);
    Options o;
    o.epilogue.kind = Epilogue::Kind::relu;
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
        o.threads = threads;
        Plan<float> plan(p, wei.view(), bia.view(), o);
        Tensor<float> dst(p.dst_shape());
        plan.run(src.view(), dst.view());
        EXPECT_EQ(dst.data, forward<float>(p, src, wei, &bia, "auto", o).data) << threads;
        EXPECT_GE(*std::min_element(dst.data.begin(), dst.data.end()), 0.f);
        if (first.empty()) first = dst.data;
        EXPECT_EQ(dst.data, first) << "results must not depend on the thread count (" << threads << ")";
    }
}

// Channels-first winograd in chunks of the output channels (more than 4 MiB of transformed weights per row of
// phases; the last chunk a partial panel), with a fused LeakyReLU: phase's result on small integers within F(6,2)'s
// rounding (64 epsilons of the largest sum of |terms|, see test_conformance.cpp), the same bits for 1 and 2
// threads and for the one-call function (the epilogue runs on each chunk's staged rows, and on the last positions
// of a row, which go through a buffer).
TEST(Plan, WinogradChannelChunksWithEpilogue) {
    const Problem p = Problem::parse("mb2_ic256_oc200_i37_k16_s8_p4_bias");
    const auto src = small_ints<float>(p.src_shape(), 1), wei = small_ints<float>(p.wei_shape(), 2);
    const auto bia = small_ints<float>({p.oc}, 3);
    Options o;
    o.epilogue.kind = Epilogue::Kind::leaky_relu;
    o.epilogue.alpha = 0.25;
    const auto ref = forward<float>(p, src, wei, &bia, "phase", o);
    const double tol = f62_tolerance(p, src, wei, &bia);
    ASSERT_LT(tol, 0.5);
    o.algorithm = "winograd";
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {  // (a chunk's tasks split over the threads, one chunk at a time)
        o.threads = threads;
        Plan<float> plan(p, wei.view(), bia.view(), o);
        Tensor<float> dst(p.dst_shape(), 12345.f);
        plan.run(src.view(), dst.view());
        double err = 0;
        for (size_t j = 0; j < ref.data.size(); ++j) err = std::max(err, std::abs(double(dst.data[j]) - ref.data[j]));
        EXPECT_LE(err, tol) << threads;
        EXPECT_EQ(forward<float>(p, src, wei, &bia, "winograd", o).data, dst.data) << threads;
        if (first.empty()) first = dst.data;
        EXPECT_EQ(dst.data, first) << "results must not depend on the thread count (" << threads << ")";
    }
}

// Groups in winograd: channels-first chunks of whole groups (each group's 100 channels in panels padded past
// them: an output transform per group), channels-last all at once; F(6,2) along the axis.
TEST(Plan, WinogradGroupChunks) {
    const Problem p = Problem::parse("mb2_g2_ic512_oc200_i37_k16_s8_p4_bias");
    const auto src = small_ints<float>(p.src_shape(), 4), wei = small_ints<float>(p.wei_shape(), 5);
    const auto bia = small_ints<float>({p.oc}, 6);
    const double tol = f62_tolerance(p, src, wei, &bia);
    ASSERT_LT(tol, 0.5);
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
        Options o;
        o.layout = layout;
        o.epilogue.kind = Epilogue::Kind::relu;
        const auto s = layout == Layout::channels_last ? channels_last(src) : src;
        const auto ref = forward<float>(p, s, wei, &bia, "phase", o);
        std::vector<float> first;
        for (int threads : {1, 2, 3}) {
            o.threads = threads;
            const auto got = forward<float>(p, s, wei, &bia, "winograd", o);
            double err = 0;
            for (size_t j = 0; j < ref.data.size(); ++j) err = std::max(err, std::abs(double(got.data[j]) - ref.data[j]));
            EXPECT_LE(err, tol) << threads;
            if (first.empty()) first = got.data;
            EXPECT_EQ(got.data, first) << "results must not depend on the thread count (" << threads << ")";
        }
    }
}

// period on outputs of 2 MiB or more (streamed stores, from the registers and from C tiles), several blocks of
// rows and chunks of panels, both layouts, with and without an epilogue (which the direct store leaves to the C
// tiles), through a prepared plan and the one call: the same as phase's direct sum (small integers: exact), for
// any thread count.
TEST(Plan, PeriodStreamedAndThreads) {
    for (const char* prob : {"mb4_ic5_oc7_i9x9_k32_s16_p8_bias", "mb2_ic6_oc4_i300_k1024_s256_p384_bias"}) {
        const Problem p = Problem::parse(prob);
        ASSERT_GE(4.0 * static_cast<double>(elems(p.dst_shape())), 2.0 * 1024 * 1024) << prob;
        const auto src = small_ints<float>(p.src_shape(), 7), wei = small_ints<float>(p.wei_shape(), 8);
        const auto bia = small_ints<float>({p.oc}, 9);
        for (Layout layout : {Layout::channels_first, Layout::channels_last})
            for (bool relu : {false, true}) {
                Options o;
                o.layout = layout;
                if (relu) o.epilogue.kind = Epilogue::Kind::relu;
                const auto s = layout == Layout::channels_last ? channels_last(src) : src;
                const auto ref = forward<float>(p, s, wei, &bia, "phase", o);
                for (int threads : {1, 2, 3}) {
                    o.threads = threads;
                    EXPECT_EQ(forward<float>(p, s, wei, &bia, "period", o).data, ref.data) << prob << " " << threads;
                    o.algorithm = "period";
                    const Plan<float> plan(p, wei.view(), bia.view(), o);
                    // (on a 64-byte boundary, as the benchmarks allocate: the streamed stores need aligned rows)
                    std::vector<float> buf(ref.data.size() + 16, 12345.0f);
                    float* const d0 = buf.data() + (16 - reinterpret_cast<uintptr_t>(buf.data()) / 4 % 16) % 16;
                    plan.run(s.view(), View<float>(d0, data_shape(p.dst_shape(), layout)));
                    EXPECT_TRUE(std::equal(ref.data.begin(), ref.data.end(), d0)) << prob << " plan, " << threads;
                }
            }
    }
}

TEST(Plan, Errors) {
    const Problem p = Problem::parse("mb1_ic2_oc3_i4x4_k3_s2_bias");
    Tensor<float> wei(p.wei_shape()), bia(Dims{p.oc}), src(p.src_shape()), dst(p.dst_shape());
    EXPECT_ERROR((Plan<float>(p, src.view(), bia.view())), "wei has shape");
    EXPECT_ERROR((Plan<float>(p, wei.view(), {})), "bia is missing");
    EXPECT_ERROR((Plan<float>(p.adjoint(), wei.view(), bia.view())), "use tconv::conv");
    Options o;
    o.algorithm = "fft";
    EXPECT_ERROR((Plan<float>(p, wei.view(), bia.view(), o)), "algorithm='fft' is unknown");
    o.algorithm = "auto";
    o.simd = "NEON9";
    EXPECT_ERROR((Plan<float>(p, wei.view(), bia.view(), o)), "SIMD target 'NEON9' is not available");
    Plan<float> plan(p, wei.view(), bia.view());
    EXPECT_ERROR(plan.run(dst.view(), dst.view()), "src has shape");
    EXPECT_ERROR(plan.run(src.view(), src.view()), "dst has shape");
    EXPECT_ERROR(plan.run(src.view(), View<float>(src.data.data(), p.dst_shape())), "dst overlaps src");
}

// The fast engine's memory rule on the benchmark suite: what a run needs beyond the packed weights (scratch
// on each of 2 threads) stays within max(1 MiB, 25% of the output tensor), in both layouts.
// auto's winograd margins (winograd.cpp): 1.3x fewer products channels-last and in 1-D, 1.65x channels-first in
// 2-D. A k3 s2 p1 op1 layer saves 1.64x at most (a quarter of its phases have one tap per axis): winograd
// channels-last, phase channels-first; k4 s2 (2.25x in 2-D, 1.5x in 1-D) and k16 s8 (1.5x): winograd in both.
TEST(Plan, AutoTakesWinogradByLayoutAndRank) {
    const struct {
        const char* problem;
        const char* first;
        const char* last;
    } cases[] = {
        {"mb2_ic64_oc64_i32x32_k4_s2_p1", "winograd", "winograd"},
        {"mb1_ic64_oc64_i64x64_k3_s2_p1_op1", "phase", "winograd"},
        {"mb1_ic64_oc64_i1536_k4_s2_p1", "winograd", "winograd"},
        {"mb1_ic64_oc64_i1536_k16_s8_p4", "winograd", "winograd"},
        // (hifigan_up1: channels-first in four chunks of the output channels, 4 MiB of transformed weights each)
        {"mb1_ic512_oc256_i400_k16_s8_p4", "winograd", "winograd"},
        {"mb1_ic16_oc64_i1536_k4_s2_p1", "phase", "phase"},  // (fewer than 32 input channels)
    };
    for (const auto& c : cases) {
        const Problem p = Problem::parse(c.problem);
        Tensor<float> wei(p.wei_shape());
        for (const Layout layout : {Layout::channels_first, Layout::channels_last}) {
            Options o;
            o.layout = layout;
            const Plan<float> plan(p, wei.view(), {}, o);
            EXPECT_EQ(plan.algorithm(), layout == Layout::channels_last ? c.last : c.first)
                << c.problem << (layout == Layout::channels_last ? " channels-last" : " channels-first");
        }
    }
}

// The one-call function packs winograd's transformed weights on every call: where that costs about what the
// products saved take (a 1-D k16 s8 layer's 8 MiB channels-first, 1.33x fewer products), auto leaves that call to
// phase, while a plan takes winograd; channels-last (1.42x fewer products) both take winograd.
TEST(Plan, OneCallCountsThePacking) {
    // 14 MiB of transformed weights (F(6,2)): on 400 inputs the products saved outweigh their packing, on 100
    // they do not, and the one-call function without reuse_weights leaves the layer to phase; a plan takes
    // winograd for both, and so does the one-call function that keeps its plans (the default).
    for (const char* prob : {"mb1_ic256_oc256_i400_k16_s8_p4", "mb1_ic256_oc256_i100_k16_s8_p4"}) {
        const Problem p = Problem::parse(prob);
        const bool many = p.i[0] == 400;
        const auto wei = small_ints<float>(p.wei_shape(), 2);
        for (const Layout layout : {Layout::channels_first, Layout::channels_last}) {
            Options o;
            o.layout = layout;
            EXPECT_EQ(Plan<float>(p, wei.view(), {}, o).algorithm(), "winograd") << prob;
            std::ostringstream log;
            o.log = &log;
            Tensor<float> dst(data_shape(p.dst_shape(), layout));
            Tensor<float> s(data_shape(p.src_shape(), layout));
            conv_transpose<float>(p, s.view(), wei.view(), {}, dst.view(), o);
            EXPECT_NE(log.str().find("using winograd"), std::string::npos) << log.str();
            std::ostringstream log2;
            o.log = &log2;
            o.reuse_weights = false;
            conv_transpose<float>(p, s.view(), wei.view(), {}, dst.view(), o);
            EXPECT_NE(log2.str().find(many ? "using winograd" : "using phase"), std::string::npos) << log2.str();
            if (!many)
                EXPECT_NE(log2.str().find("one call: packing 14 MiB of transformed weights"), std::string::npos) << log2.str();
        }
    }
}

// auto takes period for large strides whose kernels are a whole number of strides with few channels or Winograd
// tiles of periods (rows and winograd defer to it), and not for small strides, many channels channels-last
// without tiles, short runs channels-first or fewer than a panel of columns.
TEST(Plan, AutoTakesPeriodForLargeStrides) {
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        // problem, channels-first choice, channels-last choice
        {"mb1_ic21_oc21_i16x16_k64_s32_p16", "period", "period"},
        {"mb1_ic1_oc1_i4096_k1024_s256_p384", "period", "period"},
        {"mb1_ic21_oc21_i64x64_k16_s8_p4", "period", "period"},  // runs of 8: winograd passes (21 channels)
        {"mb1_ic64_oc64_i64_k1024_s256_p384", "period", "phase"},
        {"mb1_ic16_oc1_i1024_k64_s32_p16", "rows", "rows"},
        {"mb1_ic128_oc64_i200_k64_s32_p16", "period", "period"},  // Winograd tiles of periods: also 64 channels
        {"mb1_ic64_oc64_i32x32_k16_s8_p4", "winograd", "period"},
        {"mb1_ic512_oc256_i400_k16_s8_p4", "winograd", "winograd"},  // hifigan_up1: periods of 8
        {"mb16_ic256_oc128_i16x16_k4_s2_p1", "winograd", "winograd"}};
    for (const auto& [prob, first, last] : cases) {
        const Problem p = Problem::parse(prob);
        Tensor<float> wei(p.wei_shape());
        for (const Layout layout : {Layout::channels_first, Layout::channels_last}) {
            Options o;
            o.layout = layout;
            const Plan<float> plan(p, wei.view(), {}, o);
            EXPECT_EQ(plan.algorithm(), layout == Layout::channels_first ? first : last)
                << prob << (layout == Layout::channels_last ? " channels-last" : "");
        }
    }
}

// The suite and the other benchmark files (layers outside the suite, groups, large strides).
TEST(Plan, ExtraMemoryWithinBudgetOnTheSuite) {
  for (const auto& [file, count] : std::vector<std::pair<std::string, int>>{
           {"suite.txt", 14}, {"offsuite.txt", 10}, {"groups.txt", 6}, {"strides.txt", 7}}) {
    std::ifstream in(TCONV_TEST_DATA "/../bench/" + file);
    ASSERT_TRUE(in) << "bench/" << file;
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        std::string name, prob;
        ss >> name >> prob;
        const Problem p = Problem::parse(prob);
        Tensor<float> wei(p.wei_shape());
        const double out_bytes = 4.0 * static_cast<double>(elems(p.dst_shape()));
        const double budget = std::max(1024.0 * 1024.0, 0.25 * out_bytes);
        for (const Layout layout : {Layout::channels_first, Layout::channels_last}) {  // (auto may choose per layout)
            Options o;
            o.layout = layout;
            const Plan<float> plan(p, wei.view(), {}, o);
            EXPECT_LE(2.0 * static_cast<double>(plan.workspace_bytes()), budget)
                << name << " (" << plan.algorithm() << (layout == Layout::channels_last ? ", channels-last" : "") << ")";
        }
        ++n;
    }
    EXPECT_EQ(n, count) << file;
  }
}

}  // namespace
}  // namespace tconv::test
