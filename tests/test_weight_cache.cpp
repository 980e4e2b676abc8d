// The one-call forward's kept plans (Options::reuse_weights) and the digest that recognises unchanged weights:
// every result equals the reference computed on the weights and bias of that very call, whatever changed in
// between (in place, one value, the bias only, the epilogue, the layout), and a kept plan is run only while its
// weights are unchanged. The digest: the same value on every SIMD target (against its scalar definition) and
// for any thread count, and any single change (a bit, two words exchanged, the length) changes it.
#include <cstring>
#include <random>
#include <thread>

#include "src/kernels/digest.hpp"
#include "src/parallel/parallel.hpp"
#include "test_util.hpp"

namespace tconv::test {
namespace {

using kernels::Digest;

std::vector<unsigned char> random_bytes(size_t n, uint64_t seed) {
    std::vector<unsigned char> b(n);
    std::mt19937_64 rng(seed);
    for (auto& x : b) x = static_cast<unsigned char>(rng());
    return b;
}

TEST(Digest, EveryTargetComputesTheDefinition) {
    const auto& targets = kernels::digest_targets();
    ASSERT_GE(targets.size(), 2u);
    ASSERT_EQ(targets.back().first, "reference");
    for (size_t n : {0, 1, 7, 8, 63, 64, 65, 1000, 1024, 1088, 16 * 64 * 2 + 17, 4096 * 3 + 5}) {
        const auto data = random_bytes(n + 8, n);
        for (size_t off : {0, 1, 4}) {  // (weights need not lie on 8-byte boundaries)
            const Digest ref = kernels::digest_chunk(data.data() + off, n, 7, targets.back().second);
            for (const auto& [name, fn] : targets) EXPECT_EQ(kernels::digest_chunk(data.data() + off, n, 7, fn), ref) << name << " n=" << n;
            EXPECT_NE(kernels::digest_chunk(data.data() + off, n, 8, targets.back().second), ref) << "the seed, n=" << n;
        }
    }
}

TEST(Digest, AnyChangeChangesIt) {
    auto data = random_bytes(5000, 1);
    const Digest base = kernels::digest(data.data(), data.size());
    EXPECT_EQ(kernels::digest(data.data(), data.size()), base);
    for (size_t i = 0; i < data.size(); i += (i < 200 ? 1 : 37))
        for (unsigned char bit : {0x01, 0x80}) {
            data[i] ^= bit;
            EXPECT_NE(kernels::digest(data.data(), data.size()), base) << "byte " << i;
            data[i] ^= bit;
        }
    // Two 8-byte words exchanged: the same lane of different stripes (near and far), neighbouring lanes.
    for (auto [x, y] : {std::pair<size_t, size_t>{0, 64}, {8, 8 + 64 * 7}, {16, 16 + 64 * 20}, {0, 8}, {24, 32}}) {
        unsigned char t[8];
        std::memcpy(t, &data[x], 8), std::memcpy(&data[x], &data[y], 8), std::memcpy(&data[y], t, 8);
        EXPECT_NE(kernels::digest(data.data(), data.size()), base) << x << " <-> " << y;
        std::memcpy(&data[y], &data[x], 8), std::memcpy(&data[x], t, 8);
    }
    EXPECT_EQ(kernels::digest(data.data(), data.size()), base);
    // The length: one byte less, one zero byte more.
    EXPECT_NE(kernels::digest(data.data(), data.size() - 1), base);
    data.push_back(0);
    EXPECT_NE(kernels::digest(data.data(), data.size()), base);
    // Zeros of different lengths (a zero-padded tail must not look like a shorter input).
    const std::vector<unsigned char> zeros(200, 0);
    EXPECT_NE(kernels::digest(zeros.data(), 100), kernels::digest(zeros.data(), 101));
    EXPECT_NE(kernels::digest(zeros.data(), 64), kernels::digest(zeros.data(), 128));
}

TEST(Digest, ChunksInOrderAndAnyThreadCount) {
    // 3 MiB + 5: four chunks of 1 MiB, digested in parallel and combined in order.
    auto data = random_bytes((size_t(3) << 20) + 5, 2);
    Digest one;
    {
        parallel::ThreadsScope t(1);
        one = kernels::digest(data.data(), data.size());
    }
    for (int threads : {2, 3}) {
        parallel::ThreadsScope t(threads);
        EXPECT_EQ(kernels::digest(data.data(), data.size()), one) << threads << " threads";
    }
    // Two chunks exchanged.
    std::vector<unsigned char> swapped(data);
    std::memcpy(swapped.data(), data.data() + (1 << 20), 1 << 20);
    std::memcpy(swapped.data() + (1 << 20), data.data(), 1 << 20);
    EXPECT_NE(kernels::digest(swapped.data(), swapped.size()), one);
}

// One-call results against the reference (scatter: no packing, nothing kept) on the tensors of that call.
template <class T>
void expect_call(const Problem& p, const Tensor<T>& src, const Tensor<T>& wei, const Tensor<T>* bia, const Options& o,
                 const std::string& what) {
    Options r = o;
    r.epilogue = {};
    Tensor<T> ref = forward<T>(p, src, wei, bia, "scatter", r);
    apply_epilogue(o.epilogue, ref.data.data(), static_cast<int64_t>(ref.data.size()));
    EXPECT_EQ(forward<T>(p, src, wei, bia, "auto", o).data, ref.data) << what;
}

TEST(WeightCache, FollowsTheWeightsOfEachCall) {
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
        clear_weight_cache();
        const Problem p = Problem::parse("mb2_ic8_oc16_i6x7_k4_s2_p1_bias");
        Tensor<float> src = small_ints<float>(data_shape(p.src_shape(), layout), 1);
        Tensor<float> wei = small_ints<float>(p.wei_shape(), 2), bia = small_ints<float>({p.oc}, 3);
        Options o;
        o.layout = layout;
        o.threads = 1;
        // Unchanged: prepared once, then kept.
        for (int i = 0; i < 3; ++i) expect_call(p, src, wei, &bia, o, "unchanged " + std::to_string(i));
        WeightCacheStats s = weight_cache_stats();
        EXPECT_EQ(s.misses, 1u);
        EXPECT_EQ(s.hits, 2u);
        EXPECT_EQ(s.plans, 1u);
        EXPECT_GT(s.bytes, 0u);
        // Training: one weight (or the bias) changed in place before every call.
        for (int i = 0; i < 40; ++i) {
            if (i % 5 == 4)
                bia.data[static_cast<size_t>(i) % bia.data.size()] += 1;
            else
                wei.data[static_cast<size_t>(i * 131) % wei.data.size()] += (i % 2 ? 1.f : -1.f);
            expect_call(p, src, wei, &bia, o, "changed " + std::to_string(i));
        }
        const WeightCacheStats t = weight_cache_stats();
        EXPECT_EQ(t.hits, s.hits) << "no kept plan may serve changed weights";
        EXPECT_GE(t.skipped, 30u) << "changing weights are packed without a digest";
        // Unchanged again: after the skipped calls, kept and reused.
        for (int i = 0; i < 30; ++i) expect_call(p, src, wei, &bia, o, "settled " + std::to_string(i));
        const WeightCacheStats u = weight_cache_stats();
        EXPECT_GE(u.hits - t.hits, 10u);
        // A new input with the same weights: the kept plan, the new input's result.
        src = small_ints<float>(data_shape(p.src_shape(), layout), 9);
        expect_call(p, src, wei, &bia, o, "new input");
        EXPECT_EQ(weight_cache_stats().hits, u.hits + 1);
    }
}

// Two layers of one shape with different weights, called in turn (a network's twin layers): each keeps its plan.
TEST(WeightCache, TwinLayersTakeTurns) {
    clear_weight_cache();
    const Problem p = Problem::parse("mb1_ic16_oc8_i5x5_k3_s2_p1_op1");
    const auto src = small_ints<double>(p.src_shape(), 4);
    const auto wa = small_ints<double>(p.wei_shape(), 5), wb = small_ints<double>(p.wei_shape(), 6);
    for (int i = 0; i < 6; ++i) {
        expect_call<double>(p, src, wa, nullptr, {}, "a " + std::to_string(i));
        expect_call<double>(p, src, wb, nullptr, {}, "b " + std::to_string(i));
    }
    const WeightCacheStats s = weight_cache_stats();
    EXPECT_EQ(s.misses, 2u);
    EXPECT_EQ(s.hits, 10u);
    EXPECT_EQ(s.plans, 2u);
    // The same values at another address (a copy of a's weights): a's plan.
    const Tensor<double> copy = wa;
    expect_call<double>(p, src, copy, nullptr, {}, "copy of a");
    EXPECT_EQ(weight_cache_stats().hits, 11u);
}

// The epilogue, the layout and the SIMD target are part of the layer: each its own plan, each result right.
TEST(WeightCache, EpilogueLayoutAndTargetAreTheLayers) {
    clear_weight_cache();
    const Problem p = Problem::parse("mb2_ic8_oc8_i4x4_k4_s2_p1_bias");
    const auto wei = small_ints<float>(p.wei_shape(), 7), bia = small_ints<float>({p.oc}, 8);
    int variants = 0;
    for (Layout layout : {Layout::channels_first, Layout::channels_last})
        for (Epilogue::Kind kind : {Epilogue::Kind::none, Epilogue::Kind::relu, Epilogue::Kind::clamp}) {
            const auto src = small_ints<float>(data_shape(p.src_shape(), layout), 10 + variants);
            Options o;
            o.layout = layout;
            o.epilogue.kind = kind;
            o.epilogue.lo = -2, o.epilogue.hi = 3;
            for (int i = 0; i < 2; ++i) expect_call(p, src, wei, &bia, o, "variant " + std::to_string(variants));
            ++variants;
        }
    Options o;
    o.simd = simd_targets().back();
    expect_call(p, small_ints<float>(p.src_shape(), 20), wei, &bia, o, "another target");
    const WeightCacheStats s = weight_cache_stats();
    EXPECT_EQ(s.misses, 7u);
    EXPECT_EQ(s.hits, 6u);
    EXPECT_EQ(s.plans, 7u);
}

// At most 8 plans per thread (the least recently used go); none without reuse_weights; per thread.
TEST(WeightCache, BoundedOptionalAndPerThread) {
    clear_weight_cache();
    for (int64_t c = 1; c <= 11; ++c) {
        const Problem p = Problem::parse("mb1_ic" + std::to_string(c) + "_oc4_i3x3_k4_s2_p1");
        expect_call<float>(p, small_ints<float>(p.src_shape(), 30), small_ints<float>(p.wei_shape(), 31), nullptr, {},
                    "layer " + std::to_string(c));
    }
    EXPECT_EQ(weight_cache_stats().plans, 8u);
    EXPECT_EQ(weight_cache_stats().misses, 11u);
    clear_weight_cache();
    const WeightCacheStats zero = weight_cache_stats();
    EXPECT_EQ(zero.plans + zero.misses + zero.hits + zero.skipped, 0u);
    const Problem p = Problem::parse("mb2_ic8_oc16_i6x7_k4_s2_p1");
    const auto src = small_ints<float>(p.src_shape(), 32), wei = small_ints<float>(p.wei_shape(), 33);
    Options off;
    off.reuse_weights = false;
    for (int i = 0; i < 3; ++i) expect_call<float>(p, src, wei, nullptr, off, "without reuse");
    EXPECT_EQ(weight_cache_stats().plans + weight_cache_stats().misses, 0u);
    std::thread other([&] {
        for (int i = 0; i < 3; ++i) expect_call<float>(p, src, wei, nullptr, {}, "other thread");
        EXPECT_EQ(weight_cache_stats().hits, 2u);
    });
    other.join();
    EXPECT_EQ(weight_cache_stats().plans, 0u) << "the other thread's plans are its own";
}

// dense reads weights larger than L2 in place channels-first (its one-call costs what its plan's run costs):
// nothing kept there; channels-last (it moves them a chunk at a time) the plan is kept.
TEST(WeightCache, NotWhereTheOneCallReadsTheWeightsInPlace) {
    const Problem p = Problem::parse("mb2_ic64_oc320_i1x1_k4_bias");  // 1.25 MiB of weights
    const auto wei = small_ints<float>(p.wei_shape(), 50), bia = small_ints<float>({p.oc}, 51);
    ASSERT_EQ(choose_algorithm(p, Direction::forward), "dense");
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
        clear_weight_cache();
        Options o;
        o.layout = layout;
        for (int i = 0; i < 3; ++i)
            expect_call(p, small_ints<float>(data_shape(p.src_shape(), layout), 52 + i), wei, &bia, o, "dense");
        const WeightCacheStats s = weight_cache_stats();
        EXPECT_EQ(s.plans, layout == Layout::channels_last ? 1u : 0u);
        EXPECT_EQ(s.hits, layout == Layout::channels_last ? 2u : 0u);
    }
}

// The regular convolution's data gradient runs the transposed forward: kept and followed too.
TEST(WeightCache, ConvBackwardData) {
    clear_weight_cache();
    const Problem p = Problem::parse("mb2_ic8_oc6_i9x9_k3_s2_p1").adjoint();  // (a conv problem)
    ASSERT_EQ(p.kind, Kind::conv);
    auto wei = small_ints<float>(p.wei_shape(), 40);
    const auto dd = small_ints<float>(p.dst_shape(), 41);
    for (int i = 0; i < 4; ++i) {
        if (i == 2) wei.data[5] += 1;
        Tensor<float> got(p.src_shape()), ref(p.src_shape());
        conv_backward_data<float>(p, dd.view(), wei.view(), got.view());
        Options r;
        r.algorithm = "scatter";
        conv_backward_data<float>(p, dd.view(), wei.view(), ref.view(), r);
        EXPECT_EQ(got.data, ref.data) << i;
    }
    EXPECT_EQ(weight_cache_stats().hits, 2u);
}

}  // namespace
}  // namespace tconv::test
