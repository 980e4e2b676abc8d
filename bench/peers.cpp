// Peer comparison in one run: tconv (a prepared Plan for channels-first data and one for channels-last data,
// and the one-call function, with its kept plan of the weights and without: packing on every call) against oneDNN's
// deconvolution (its own blocked layouts, timed without and with the reorders from and to plain NCHW) and
// XNNPACK's NHWC deconvolution, on the suite of bench/suite.txt, at 1 and 2 threads, plus the machine's
// measured FMA ceiling and copy bandwidth. PyTorch is timed by bench/torch_peer.py through the Python package. Every timed result is checked against tconv's
// reference-checked output first. Medians of alternating repetitions. Prints a Markdown table.
//   build/bin/tconv_peers [--suite bench/suite.txt] [--threads 1,2] [--min-time 0.2] [--only NAME]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "tconv/tconv.hpp"
#include "bench/suite.hpp"
#ifdef TCONV_HAVE_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

using Buf = tconv::bench::Buf;
using tconv::Dims;
using tconv::Problem;

double seconds(const std::function<void()>& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Times several functions alternately (so drift hits all of them), returning each one's median.
// settle[j], where given and set, runs after each of fs[j]'s timed runs, untimed (XNNPACK's workers sent to sleep).
std::vector<double> time_alternating(const std::vector<std::function<void()>>& fs, double min_time,
                                     const std::vector<std::function<void()>>& settle = {}) {
    auto after = [&](size_t j) {
        if (j < settle.size() && settle[j]) settle[j]();
    };
    for (size_t j = 0; j < fs.size(); ++j) {  // warm-up
        fs[j]();
        after(j);
    }
    std::vector<std::vector<double>> t(fs.size());
    double total = 0;
    int reps = 0;
    // The order is a fresh permutation every repetition (fixed seed), so whatever one contender leaves behind
    // (spinning worker threads, a cold cache) falls on each of the others in turn, and the medians see it
    // rarely. (A rotation would keep the cyclic order: the same contender would always follow XNNPACK,
    // whose pthreadpool workers spin past the pause below and take a core from a 2-thread run.)
    std::vector<size_t> order(fs.size());
    for (size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::mt19937 shuffle_rng(12345);
    while ((total < min_time * static_cast<double>(fs.size()) || reps < 5) && reps < 300) {
        std::shuffle(order.begin(), order.end(), shuffle_rng);
        for (size_t jj = 0; jj < fs.size(); ++jj) {
            const size_t j = order[jj];
            // A pause first: the previous contender's worker threads spin for a while after a run and would
            // take a core from this one (libgomp's, shared by tconv and oneDNN, for about 3.5 ms here).
            // XNNPACK's pthreadpool workers spin for about 20 ms; its settle step sends them to sleep.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            const double s = seconds(fs[j]);
            after(j);
            t[j].push_back(s);
            total += s;
        }
        ++reps;
    }
    std::vector<double> r;
    for (auto& v : t) r.push_back(median(v));
    return r;
}

// 16 independent AVX-512 FMA chains: register-only, so this is the arithmetic ceiling of one core.
__attribute__((target("avx512f,fma"), noinline)) float fma_loop(int64_t iters) {
    __m512 acc[16];
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_set1_ps(1.0f + j * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
    __m512 s = acc[0];
    for (int j = 1; j < 16; ++j) s = _mm512_add_ps(s, acc[j]);
    return _mm512_reduce_add_ps(s);
}

double fma_ceiling_avx512(int threads) {
    double best = 0;
    for (int trial = 0; trial < 3; ++trial) {
        const int64_t iters = 20'000'000;
        float sink = 0;
        const double t = seconds([&] {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
            sink += fma_loop(iters);
        });
        if (sink == 12345.f) std::puts("");
        best = std::max(best, iters * 16.0 * 16 * 2 * threads / t / 1e9);
    }
    return best;
}

double copy_bandwidth() {
    const size_t n = size_t(1) << 27;  // 128 MiB each way
    std::vector<char> a(n, 1), b(n, 2);
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) t.push_back(seconds([&] { std::memcpy(b.data(), a.data(), n); }));
    return 2.0 * n / median(t) / 1e9;  // bytes read + written
}

using tconv::bench::gflop;

dnnl::memory::dims dd(const Dims& v) { return dnnl::memory::dims(v.begin(), v.end()); }

dnnl::memory::format_tag plain(int ndims) {
    using ft = dnnl::memory::format_tag;
    switch (ndims) {
        case 3: return ft::abc;
        case 4: return ft::abcd;
        case 5: return ft::abcde;
        default: return ft::abcdef;
    }
}

// oneDNN set-up for one problem: the primitive with format `any`, and the reorders to and from plain layouts.
struct OneDnn {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::stream strm{eng};
    dnnl::deconvolution_forward prim;
    dnnl::memory src_plain, dst_plain, src_m, wei_m, dst_m;
    dnnl::reorder src_in, dst_out;
    bool src_reorder = false, dst_reorder = false;

    OneDnn(const Problem& p, const Buf& src, const Buf& wei) {
        using tag = dnnl::memory::format_tag;
        using dt = dnnl::memory::data_type;
        const int r = p.rank();
        Dims sd = p.src_shape(), od = p.dst_shape();
        Dims wd;  // oneDNN: ([G,] OC, IC, k...)
        const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
        if (p.g > 1) wd = {p.g, ocg, icg};
        else wd = {p.oc, p.ic};
        wd.insert(wd.end(), p.k.begin(), p.k.end());
        Dims dil(r), pr(r);
        for (int a = 0; a < r; ++a) dil[a] = p.d[a] - 1, pr[a] = p.pe[a] - p.op[a];
        auto src_any = dnnl::memory::desc(dd(sd), dt::f32, tag::any);
        auto wei_any = dnnl::memory::desc(dd(wd), dt::f32, tag::any);
        auto dst_any = dnnl::memory::desc(dd(od), dt::f32, tag::any);
        auto d = dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                                   src_any, wei_any, dst_any, dd(p.s), dd(dil), dd(p.pb), dd(pr));
        auto pd = dnnl::deconvolution_forward::primitive_desc(d, eng);
        prim = dnnl::deconvolution_forward(pd);
        src_plain = dnnl::memory({dd(sd), dt::f32, plain(r + 2)}, eng);
        dst_plain = dnnl::memory({dd(od), dt::f32, plain(r + 2)}, eng);
        std::memcpy(src_plain.get_data_handle(), src.data(), src.size() * 4);
        // weights: canonical (g*icg, ocg, k) -> plain oneDNN ([g,] ocg, icg, k), reordered once (not timed)
        auto wplain = dnnl::memory({dd(wd), dt::f32, plain(static_cast<int>(wd.size()))}, eng);
        float* w = static_cast<float*>(wplain.get_data_handle());
        int64_t ksz = 1;
        for (auto x : p.k) ksz *= x;
        for (int64_t g = 0; g < p.g; ++g)
            for (int64_t ic = 0; ic < icg; ++ic)
                for (int64_t oc = 0; oc < ocg; ++oc)
                    for (int64_t k = 0; k < ksz; ++k)
                        w[((g * ocg + oc) * icg + ic) * ksz + k] = wei[((g * icg + ic) * ocg + oc) * ksz + k];
        wei_m = dnnl::memory(pd.weights_desc(), eng);
        dnnl::reorder(wplain, wei_m).execute(strm, wplain, wei_m);
        src_m = dnnl::memory(pd.src_desc(), eng);
        dst_m = dnnl::memory(pd.dst_desc(), eng);
        src_reorder = pd.src_desc() != src_plain.get_desc();
        dst_reorder = pd.dst_desc() != dst_plain.get_desc();
        if (src_reorder) src_in = dnnl::reorder(src_plain, src_m);
        if (dst_reorder) dst_out = dnnl::reorder(dst_m, dst_plain);
        if (src_reorder) src_in.execute(strm, src_plain, src_m);
        else src_m = src_plain;
        strm.wait();
    }
    void run() {
        prim.execute(strm, {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_DST, dst_m}});
        strm.wait();
    }
    void run_with_reorders() {
        if (src_reorder) src_in.execute(strm, src_plain, src_m);
        run();
        if (dst_reorder) dst_out.execute(strm, dst_m, dst_plain);
        strm.wait();
    }
    const float* result() {
        if (dst_reorder) {
            dst_out.execute(strm, dst_m, dst_plain);
            strm.wait();
            return static_cast<const float*>(dst_plain.get_data_handle());
        }
        return static_cast<const float*>(dst_m.get_data_handle());
    }
};

#ifdef TCONV_HAVE_XNNPACK
// XNNPACK's 2-D deconvolution in its native NHWC layout (a 1-D case runs as height 1). Weights are
// reordered to its (g, oc/g, kh, kw, ic/g) layout once, untimed; the input is transposed to NHWC once.
struct Xnn {
    xnn_operator_t op = nullptr;
    pthreadpool_t pool = nullptr;
    Buf in, out, wei, bias;
    Dims od;
    bool ok = false;

    static bool supports(const Problem& p) {
        if (p.rank() > 2) return false;
        for (int a = 0; a < p.rank(); ++a)
            if (p.pb[a] < 0 || p.pe[a] < 0 || p.op[a] >= p.s[a]) return false;
        return true;
    }
    Xnn(const Problem& p, const Buf& src, const Buf& w, int threads) {
        static const bool init = xnn_initialize(nullptr) == xnn_status_success;
        if (!init || !supports(p)) return;
        const bool one = p.rank() == 1;
        auto ax = [&](const Dims& v, int a, int64_t dflt) { return one ? (a == 0 ? dflt : v[0]) : v[a]; };
        const int64_t ih = ax(p.i, 0, 1), iw = ax(p.i, 1, 1), kh = ax(p.k, 0, 1), kw = ax(p.k, 1, 1);
        const Dims o = p.o();
        const int64_t oh = ax(o, 0, 1), ow = ax(o, 1, 1);
        const int64_t icg = p.ic / p.g, ocg = p.oc / p.g, ksz = kh * kw;
        in.resize(p.mb * ih * iw * p.ic);
        for (int64_t n = 0; n < p.mb; ++n)
            for (int64_t c = 0; c < p.ic; ++c)
                for (int64_t x = 0; x < ih * iw; ++x) in[(n * ih * iw + x) * p.ic + c] = src[(n * p.ic + c) * ih * iw + x];
        wei.resize(p.g * ocg * ksz * icg);
        for (int64_t g = 0; g < p.g; ++g)
            for (int64_t c = 0; c < icg; ++c)
                for (int64_t oc = 0; oc < ocg; ++oc)
                    for (int64_t k = 0; k < ksz; ++k)
                        wei[((g * ocg + oc) * ksz + k) * icg + c] = w[((g * icg + c) * ocg + oc) * ksz + k];
        bias.assign(p.oc, 0.f);
        out.resize(p.mb * oh * ow * p.oc);
        od = {p.mb, oh, ow, p.oc};
        const uint32_t pt = one ? 0 : p.pb[0], pbm = one ? 0 : p.pe[0], pl = p.pb[p.rank() - 1], pr = p.pe[p.rank() - 1];
        const uint32_t sh = one ? 1 : p.s[0], sw = p.s[p.rank() - 1], dh = one ? 1 : p.d[0], dw = p.d[p.rank() - 1];
        if (xnn_create_deconvolution2d_nhwc_f32(pt, pr, pbm, pl, kh, kw, sh, sw, dh, dw, p.g, icg, ocg, p.ic, p.oc,
                                                wei.data(), bias.data(), -INFINITY, INFINITY, 0, &op) != xnn_status_success)
            return;
        if (threads > 1) pool = pthreadpool_create(threads);
        const uint32_t adj_h = one ? 0 : p.op[0], adj_w = p.op[p.rank() - 1];
        ok = xnn_setup_deconvolution2d_nhwc_f32(op, p.mb, ih, iw, adj_h, adj_w, in.data(), out.data(), pool) ==
             xnn_status_success;
    }
    ~Xnn() {
        if (op) xnn_delete_operator(op);
        if (pool) pthreadpool_destroy(pool);
    }
    void run() { xnn_run_operator(op, pool); }
    // After a run the pool's workers spin for about 20 ms (this XNNPACK does not pass XNN_FLAG_YIELD_WORKERS
    // on to the pool) and take a core from whatever runs next; an empty job of two items with the yield flag
    // (one item would run on the caller alone) sends them to sleep at once. Untimed.
    void settle() {
        if (pool) pthreadpool_parallelize_1d(pool, [](void*, size_t) {}, nullptr, 2, PTHREADPOOL_FLAG_YIELD_WORKERS);
    }
    Buf result_nchw() const {  // (n, h, w, c) -> (n, c, h, w)
        Buf r(out.size());
        const int64_t hw = od[1] * od[2];
        for (int64_t n = 0; n < od[0]; ++n)
            for (int64_t x = 0; x < hw; ++x)
                for (int64_t c = 0; c < od[3]; ++c) r[(n * od[3] + c) * hw + x] = out[(n * hw + x) * od[3] + c];
        return r;
    }
};
#endif

double max_rel_diff(const float* a, const float* b, size_t n) {
    double m = 0, scale = 1e-30;
    for (size_t j = 0; j < n; ++j) scale = std::max(scale, std::abs(double(b[j])));
    for (size_t j = 0; j < n; ++j) m = std::max(m, std::abs(double(a[j]) - b[j]));
    return m / scale;
}

}  // namespace

int main(int argc, char** argv) {
    std::string suite = "bench/suite.txt", only;
    std::vector<int> threads = {1, 2};
    double min_time = 0.2;
    for (int j = 1; j < argc; ++j) {
        std::string a = argv[j];
        if (a == "--suite" && j + 1 < argc) suite = argv[++j];
        else if (a == "--only" && j + 1 < argc) only = argv[++j];
        else if (a == "--min-time" && j + 1 < argc) min_time = std::stod(argv[++j]);
        else if (a == "--threads" && j + 1 < argc) {
            threads.clear();
            std::stringstream ss(argv[++j]);
            std::string t;
            while (std::getline(ss, t, ',')) threads.push_back(std::stoi(t));
        } else {
            std::fprintf(stderr, "usage: %s [--suite FILE] [--threads 1,2] [--min-time S] [--only NAME]\n", argv[0]);
            return 2;
        }
    }
    const auto cases = tconv::bench::read_suite(suite, only);
    const double ceil1 = fma_ceiling_avx512(1), ceil2 = fma_ceiling_avx512(2);
    std::printf("SIMD target: %s; FMA ceiling (f32): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s; copy %.1f GB/s\n\n",
                tconv::simd_targets().front().c_str(), ceil1, ceil2, copy_bandwidth());
#ifdef TCONV_HAVE_XNNPACK
    const bool have_xnn = true;
#else
    const bool have_xnn = false;
#endif
    for (int nt : threads) {
        omp_set_num_threads(nt);
        const double ceil = nt == 1 ? ceil1 : ceil2;
        std::printf("### %d thread%s\n\n", nt, nt > 1 ? "s" : "");
        std::printf("| case | GFLOP | tconv plan | tconv one-call | one-call, no reuse | tconv plan NHWC | oneDNN | oneDNN+reorders | "
                    "XNNPACK (NHWC) | plan / best peer | NHWC plan / best peer | %% of ceiling | algorithm (NHWC) | packed MiB | "
                    "scratch KiB/thread |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (const auto& c : cases) {
            const Problem& p = c.p;
            std::mt19937 rng(1);
            std::uniform_real_distribution<float> u(-1, 1);
            Buf src(p.src_elems()), wei(p.wei_elems()), dst(p.dst_elems()), dst2(p.dst_elems()),
                ref(p.dst_elems());
            for (auto& v : src) v = u(rng);
            for (auto& v : wei) v = u(rng);
            tconv::Options opt;
            opt.threads = nt;
            tconv::View<const float> nob;
            const tconv::Plan<float> plan(p, {wei.data(), p.wei_shape()}, nob, opt);
            auto run_plan = [&] { plan.run({src.data(), p.src_shape()}, {dst.data(), p.dst_shape()}); };
            // The same plan for channels-last data (tconv::Options::layout), XNNPACK's layout.
            tconv::Options lopt = opt;
            lopt.layout = tconv::Layout::channels_last;
            const tconv::Plan<float> lplan(p, {wei.data(), p.wei_shape()}, nob, lopt);
            const Dims ls = tconv::data_shape(p.src_shape(), lopt.layout), ld = tconv::data_shape(p.dst_shape(), lopt.layout);
            Buf lsrc(src.size()), ldst(dst.size()), ldst_first(dst.size());
            tconv::convert_layout<float>({src.data(), p.src_shape()}, tconv::Layout::channels_first, {lsrc.data(), ls},
                                         lopt.layout);
            auto run_lplan = [&] { lplan.run({lsrc.data(), ls}, {ldst.data(), ld}); };
            // The one-call function: with the same weights every call, its kept plan (Options::reuse_weights,
            // each call digesting the weights); without reuse, packing them on every call (as when they change).
            auto run_call = [&] {
                tconv::conv_transpose<float>(p, {src.data(), p.src_shape()}, {wei.data(), p.wei_shape()}, nob,
                                             {dst2.data(), p.dst_shape()}, opt);
            };
            tconv::Options fresh = opt;
            fresh.reuse_weights = false;
            auto run_fresh = [&] {
                tconv::conv_transpose<float>(p, {src.data(), p.src_shape()}, {wei.data(), p.wei_shape()}, nob,
                                             {dst2.data(), p.dst_shape()}, fresh);
            };
            // Reference for the checks: col2im (itself conformance-tested against scatter).
            tconv::Options ro;
            ro.algorithm = "col2im";
            tconv::conv_transpose<float>(p, {src.data(), p.src_shape()}, {wei.data(), p.wei_shape()}, nob,
                                         {ref.data(), p.dst_shape()}, ro);
            run_plan();
            run_fresh();
            const double fresh_err = max_rel_diff(dst2.data(), ref.data(), ref.size());
            run_call();
            run_lplan();
            tconv::convert_layout<float>({ldst.data(), ld}, lopt.layout, {ldst_first.data(), p.dst_shape()},
                                         tconv::Layout::channels_first);
            OneDnn dn(p, src, wei);
            dn.run();
            std::vector<std::pair<const char*, double>> errs = {{"tconv plan", max_rel_diff(dst.data(), ref.data(), ref.size())},
                                                                {"tconv one-call", max_rel_diff(dst2.data(), ref.data(), ref.size())},
                                                                {"tconv one-call without reuse", fresh_err},
                                                                {"tconv plan NHWC", max_rel_diff(ldst_first.data(), ref.data(), ref.size())},
                                                                {"oneDNN", max_rel_diff(dn.result(), ref.data(), ref.size())}};
            std::vector<std::function<void()>> fns = {run_plan, run_call, [&] { dn.run(); }, [&] { dn.run_with_reorders(); },
                                                      run_lplan, run_fresh};
            std::vector<std::function<void()>> settle;
#ifdef TCONV_HAVE_XNNPACK
            Xnn xn(p, src, wei, nt);
            if (xn.ok) {
                xn.run();
                const auto r = xn.result_nchw();
                errs.push_back({"XNNPACK", max_rel_diff(r.data(), ref.data(), ref.size())});
                fns.push_back([&] { xn.run(); });
                settle.resize(fns.size());
                settle.back() = [&] { xn.settle(); };
            }
            const bool xok = xn.ok;
#else
            const bool xok = false;
#endif
            bool bad = false;
            for (const auto& [who, e] : errs)
                if (e > 1e-4) {
                    std::printf("| %s | CHECK FAILED: %s differs from the reference by %.2e |\n", c.name.c_str(), who, e);
                    bad = true;
                }
            if (bad) continue;
            const auto t = time_alternating(fns, min_time, settle);
            const double g = gflop(p);
            double best = std::min(t[2], t[3]);
            if (xok) best = std::min(best, t[6]);
            char xs[32] = "n/a";
            if (xok) std::snprintf(xs, sizeof xs, "%.1f", g / t[6]);
            else if (have_xnn) std::snprintf(xs, sizeof xs, "n/a (3-D)");
            std::printf("| %s | %.3f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %.2f | %.2f | %.0f%% | %s (%s) | %.2f | %.0f |\n",
                        c.name.c_str(), g, g / t[0], g / t[1], g / t[5], g / t[4], g / t[2], g / t[3], xs, best / t[0], best / t[4],
                        100.0 * g / std::min(t[0], t[4]) / ceil, plan.algorithm().c_str(), lplan.algorithm().c_str(),
                        plan.packed_bytes() / 1048576.0, plan.workspace_bytes() / 1024.0);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
}
