// The public operations: check every tensor against the problem, pick the algorithm, run it. The regular
// convolution runs through its adjoint transposed problem with the directions exchanged.
#include "tconv/ops.hpp"

#include <memory>

#include "tconv/plan.hpp"

#include <algorithm>

#include "algo/algo.hpp"
#include "kernels/digest.hpp"
#include "parallel/parallel.hpp"
#include <cmath>
#include <algorithm>
#include "tconv/error.hpp"
#include "util.hpp"

namespace tconv {

template <class T>
void apply_epilogue(const Epilogue& e, T* data, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
        const T v = data[j];
        switch (e.kind) {
            case Epilogue::Kind::none: break;
            case Epilogue::Kind::relu: data[j] = v > T(0) ? v : T(0); break;
            case Epilogue::Kind::leaky_relu: data[j] = v >= T(0) ? v : static_cast<T>(e.alpha) * v; break;
            case Epilogue::Kind::tanh: data[j] = std::tanh(v); break;
            case Epilogue::Kind::sigmoid: data[j] = T(1) / (T(1) + std::exp(-v)); break;
            case Epilogue::Kind::clamp: data[j] = std::min(std::max(v, static_cast<T>(e.lo)), static_cast<T>(e.hi)); break;
        }
    }
}
template void apply_epilogue<float>(const Epilogue&, float*, int64_t);
template void apply_epilogue<double>(const Epilogue&, double*, int64_t);


Dims data_shape(const Dims& nc_shape, Layout layout) {
    if (layout == Layout::channels_first || nc_shape.size() < 3) return nc_shape;
    Dims r(nc_shape.begin(), nc_shape.end());
    std::rotate(r.begin() + 1, r.begin() + 2, r.end());
    return r;
}

namespace {

using detail::cat;

// Moves the channel axis of a (mb, c, sp) tensor last, (mb, sp, c), or back. Tiles of 32 x 32 keep both
// sides' accesses within cache lines; threads take whole tiles.
template <class T>
void move_channels(const T* in, T* out, int64_t mb, int64_t c, int64_t sp, bool to_last) {
    constexpr int64_t B = 32;
    const int64_t rows = to_last ? c : sp, cols = to_last ? sp : c;  // in is (mb, rows, cols)
    const int64_t rb = (rows + B - 1) / B, cb = (cols + B - 1) / B;
    parallel::parallel_for(mb * rb * cb, [&](int64_t b, int64_t e, int) {
        for (int64_t task = b; task < e; ++task) {
            const int64_t n = task / (rb * cb), r0 = task / cb % rb * B, c0 = task % cb * B;
            const T* src = in + n * rows * cols;
            T* dst = out + n * rows * cols;
            const int64_t r1 = std::min(rows, r0 + B), c1 = std::min(cols, c0 + B);
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t x = c0; x < c1; ++x) dst[x * rows + r] = src[r * cols + x];
        }
    });
}

}  // namespace

template <class T>
void convert_layout(View<const T> in, Layout from, View<T> out, Layout to) {
    if (in.data == nullptr || out.data == nullptr) throw Error("convert_layout: in and out must both be given");
    if (in.shape.size() < 3)
        throw Error(cat("convert_layout: in has shape (", dims_str(in.shape, ','), "); a data tensor has at least 3 axes (mb, c, spatial...)"));
    Dims nc = in.shape;
    if (from == Layout::channels_last) std::rotate(nc.begin() + 1, nc.end() - 1, nc.end());
    const Dims want = data_shape(nc, to);
    if (out.shape != want)
        throw Error(cat("convert_layout: out has shape (", dims_str(out.shape, ','), ") but in (", dims_str(in.shape, ','),
                        ") converted needs (", dims_str(want, ','), ")"));
    const int64_t n = shape_elems(nc, "in");
    const auto* ib = reinterpret_cast<const char*>(in.data);
    const auto* ob = reinterpret_cast<const char*>(out.data);
    if (ib < ob + n * sizeof(T) && ob < ib + n * sizeof(T)) throw Error("convert_layout: out overlaps in");
    if (from == to) {
        std::copy(in.data, in.data + n, out.data);
        return;
    }
    const int64_t sp = n == 0 ? 0 : n / (nc[0] * nc[1]);
    move_channels(in.data, out.data, nc[0], nc[1], sp, to == Layout::channels_last);
}
template void convert_layout<float>(View<const float>, Layout, View<float>, Layout);
template void convert_layout<double>(View<const double>, Layout, View<double>, Layout);

namespace {

// A (mb, c, spatial...) tensor held channels-first for an algorithm that needs it.
template <class T>
struct FirstCopy {
    std::vector<T> data;
    int64_t mb, c, sp;
    FirstCopy(const Dims& nc_shape) : mb(nc_shape[0]), c(nc_shape[1]) {
        sp = detail::prod(nc_shape) / std::max<int64_t>(1, mb * c);
        data.resize(static_cast<size_t>(detail::prod(nc_shape)));
    }
    FirstCopy(const Dims& nc_shape, const T* last) : FirstCopy(nc_shape) {
        move_channels(last, data.data(), mb, c, sp, false);
    }
    void store(T* last) const { move_channels(data.data(), last, mb, c, sp, true); }
};

template <class T>
void check(const char* name, const View<T>& v, const Dims& expected) {
    if (v.data == nullptr) throw Error(cat(name, " is missing: expected a tensor of shape (", dims_str(expected, ','), ")"));
    if (v.shape != expected)
        throw Error(cat(name, " has shape (", dims_str(v.shape, ','), ") but the problem needs (", dims_str(expected, ','),
                        ")"));
}

template <class T>
void check_bias(const char* name, const View<T>& v, const Problem& p) {
    if (p.bias) {
        check(name, v, Dims{p.oc});
    } else if (v.data != nullptr) {
        throw Error(cat(name, " was given but the problem has no bias (set bias=true, or '_bias' in the problem string)"));
    }
}

void require_kind(const Problem& p, Kind kind, const char* fn) {
    p.validate();
    if (p.kind != kind)
        throw Error(cat(fn, ": the problem ", p.str(), " is a ", p.kind == Kind::conv ? "regular" : "transposed",
                        " convolution; use ", p.kind == Kind::conv ? "tconv::conv" : "tconv::conv_transpose",
                        " and its gradients"));
}

// Inputs and outputs must not overlap: the algorithms write outputs while still reading inputs.
template <class T>
void check_disjoint(const char* out_name, const View<T>& out, std::initializer_list<std::pair<const char*, View<const T>>> ins) {
    const auto* ob = reinterpret_cast<const char*>(out.data);
    const auto* oe = ob + detail::prod(out.shape) * sizeof(T);
    for (const auto& [name, in] : ins) {
        if (!in.data) continue;
        const auto* ib = reinterpret_cast<const char*>(in.data);
        const auto* ie = ib + detail::prod(in.shape) * sizeof(T);
        if (ib < oe && ob < ie) throw Error(cat(out_name, " overlaps ", name, ": outputs must not share memory with inputs"));
    }
}

// Sets the thread count, SIMD target and epilogue for the driver called in this scope.
class Scope {
public:
    Scope(const Options& opt, const Epilogue* epi) : threads_(opt.threads) {
        if (opt.threads < 0) throw Error(cat("threads=", opt.threads, " must be 0 (every core) or positive"));
        saved_ = algo::call_context();
        algo::call_context() = {opt.simd, epi, Layout::channels_first, opt.layout};
    }
    ~Scope() { algo::call_context() = saved_; }

private:
    parallel::ThreadsScope threads_;
    algo::CallContext saved_;
};

bool has_epilogue(const Options& opt) { return opt.epilogue.kind != Epilogue::Kind::none; }

bool last(const Options& opt) { return opt.layout == Layout::channels_last; }

// The one-call forward's kept plans (Options::reuse_weights): per thread, the prepared plans (packed weights)
// of the last layers it ran, each with the digest of the weights and bias it was built from. A call whose
// layer (problem, algorithm, layout, SIMD target, epilogue) and digest match one of them runs it instead of
// packing the weights again; the digest reads the weights once (at about memory speed), where packing reads
// them and writes and reads back the packed copy. A layer whose weights (at the same address) changed on two
// calls in a row, as in training, runs the driver's own one-call path, without a digest, for its next 16
// calls, then is digested again.
template <class T>
class WeightCache {
public:
    struct Key {
        const algo::Algorithm* a = nullptr;
        Problem p;
        Layout layout = Layout::channels_first;
        std::string simd;
        Epilogue epi;  // (kind none when there is none)
        bool operator==(const Key& o) const {
            return a == o.a && layout == o.layout && epi.kind == o.epi.kind &&
                   (epi.kind == Epilogue::Kind::none ||
                    (epi.alpha == o.epi.alpha && epi.lo == o.epi.lo && epi.hi == o.epi.hi)) &&
                   simd == o.simd && p == o.p;
        }
    };
    static constexpr size_t kEntries = 8;                   // plans kept per thread
    static constexpr size_t kBytes = size_t(256) << 20;     // their packed bytes, in all
    static constexpr size_t kRecords = 32;                  // layers (by weight address) whose misses are counted
    static constexpr int kSkip = 16;

    static WeightCache& mine() {
        thread_local WeightCache c;
        return c;
    }

    // Runs the layer through a kept plan, or through one it prepares and keeps; false when the caller should
    // run the driver's one-call path (a layer whose weights keep changing).
    bool run(const Key& k, const T* wei, const T* bia, const T* src, T* dst) {
        ++clock_;
        Record& r = record(k, wei);
        if (r.skip > 0) {
            if (--r.skip == 0) r.misses = 0;
            ++stats_.skipped;
            return false;
        }
        const size_t wbytes = static_cast<size_t>(k.p.wei_elems()) * sizeof(T);
        if (wbytes > kBytes / 4) {  // (too large to keep with others: packed as without reuse)
            ++stats_.skipped;
            return false;
        }
        const kernels::Digest dw = kernels::digest(wei, wbytes);
        const kernels::Digest db = bia ? kernels::digest(bia, static_cast<size_t>(k.p.oc) * sizeof(T)) : kernels::Digest{};
        for (Entry& e : entries_)
            if (e.dw == dw && e.db == db && e.key == k) {
                e.used = clock_;
                r.misses = 0;
                ++stats_.hits;
                e.plan->run(src, dst);
                return true;
            }
        if (++r.misses >= 2) {
            r.skip = kSkip;
            std::erase_if(entries_, [&](const Entry& e) { return e.key == k; });
            ++stats_.skipped;
            return false;
        }
        ++stats_.misses;
        std::unique_ptr<algo::Prepared<T>> plan = k.a->template kernels<T>().prepare(k.p, wei, bia, k.epi, k.simd, k.layout);
        const size_t bytes = plan->packed_bytes();
        if (bytes > kBytes) {  // (run once, not kept)
            plan->run(src, dst);
            return true;
        }
        size_t total = bytes;
        for (const Entry& e : entries_) total += e.bytes;
        while (!entries_.empty() && (entries_.size() >= kEntries || total > kBytes)) {
            const auto lru = std::min_element(entries_.begin(), entries_.end(),
                                              [](const Entry& x, const Entry& y) { return x.used < y.used; });
            total -= lru->bytes;
            entries_.erase(lru);
        }
        entries_.push_back(Entry{k, dw, db, std::move(plan), clock_, bytes});
        entries_.back().plan->run(src, dst);
        return true;
    }

    void clear() {
        entries_.clear();
        records_.clear();
        stats_ = {};
    }

    WeightCacheStats stats() const {
        WeightCacheStats r = stats_;
        r.plans = entries_.size();
        for (const Entry& e : entries_) r.bytes += e.bytes;
        return r;
    }

private:
    struct Entry {
        Key key;
        kernels::Digest dw, db;
        std::unique_ptr<algo::Prepared<T>> plan;
        uint64_t used = 0;
        size_t bytes = 0;
    };
    struct Record {
        Key key;
        const T* wei = nullptr;
        int misses = 0, skip = 0;
        uint64_t used = 0;
    };

    Record& record(const Key& k, const T* wei) {
        for (Record& r : records_)
            if (r.wei == wei && r.key == k) {
                r.used = clock_;
                return r;
            }
        if (records_.size() >= kRecords)
            records_.erase(std::min_element(records_.begin(), records_.end(),
                                            [](const Record& x, const Record& y) { return x.used < y.used; }));
        records_.push_back(Record{k, wei, 0, 0, clock_});
        return records_.back();
    }

    std::vector<Entry> entries_;
    std::vector<Record> records_;
    uint64_t clock_ = 0;
    WeightCacheStats stats_;
};

// The drivers run on the transposed problem t. Channels-last data goes straight to a driver that handles
// it (Algorithm::channels_last, every direction); otherwise it is copied channels-first around the call.
template <class T>
void run_forward(const Problem& t, const T* src, const T* wei, const T* bia, T* dst, const Options& opt,
                 bool epilogue = false) {
    const Epilogue* epi = epilogue && has_epilogue(opt) ? &opt.epilogue : nullptr;
    Scope scope(opt, epi);
    // (With reuse, a layer called again with its weights unchanged runs its kept plan: auto chooses as for a
    // plan. Without, it counts the packing that every call then does.)
    algo::call_context().one_call = !opt.reuse_weights;
    const algo::Algorithm& a = algo::find(t, Direction::forward, opt.algorithm, opt.log);
    const bool convert = last(opt) && !a.channels_last;
    // A driver's one-call path, or the kept plan of the layer (as Plan prepares it).
    const auto go = [&](const T* s, T* d) {
        const Layout layout = convert ? Layout::channels_first : opt.layout;
        if (opt.reuse_weights && a.template kernels<T>().prepare &&
            !(a.one_call_in_place && a.one_call_in_place(t, layout, sizeof(T)))) {
            const typename WeightCache<T>::Key k{&a, t, layout, opt.simd, epi ? *epi : Epilogue{}};
            if (WeightCache<T>::mine().run(k, wei, bia, s, d)) return;
        }
        a.template kernels<T>().fwd(t, s, wei, bia, d);
    };
    if (convert) {
        const FirstCopy<T> s(t.src_shape(), src);
        FirstCopy<T> d(t.dst_shape());
        go(s.data.data(), d.data.data());
        if (epi && !a.fused_epilogue) apply_epilogue(*epi, d.data.data(), detail::prod(t.dst_shape()));
        d.store(dst);
        return;
    }
    algo::call_context().layout = opt.layout;
    go(src, dst);
    if (epi && !a.fused_epilogue) apply_epilogue(*epi, dst, detail::prod(t.dst_shape()));
}
template <class T>
void run_backward_data(const Problem& t, const T* diff_dst, const T* wei, T* diff_src, const Options& opt) {
    Scope scope(opt, nullptr);
    const algo::Algorithm& a = algo::find(t, Direction::backward_data, opt.algorithm, opt.log);
    if (last(opt) && !a.channels_last) {
        const FirstCopy<T> dd(t.dst_shape(), diff_dst);
        FirstCopy<T> ds(t.src_shape());
        a.template kernels<T>().bwd_data(t, dd.data.data(), wei, ds.data.data());
        ds.store(diff_src);
        return;
    }
    algo::call_context().layout = opt.layout;
    a.template kernels<T>().bwd_data(t, diff_dst, wei, diff_src);
}
template <class T>
void run_backward_weights(const Problem& t, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia, const Options& opt) {
    Scope scope(opt, nullptr);
    const algo::Algorithm& a = algo::find(t, Direction::backward_weights, opt.algorithm, opt.log);
    if (last(opt) && !a.channels_last) {
        const FirstCopy<T> s(t.src_shape(), src), dd(t.dst_shape(), diff_dst);
        a.template kernels<T>().bwd_wei(t, s.data.data(), dd.data.data(), diff_wei, diff_bia);
        return;
    }
    algo::call_context().layout = opt.layout;
    a.template kernels<T>().bwd_wei(t, src, diff_dst, diff_wei, diff_bia);
}

// dst (mb, c, sp) or (mb, sp, c) += bias (c).
template <class T>
void add_bias(T* dst, const T* bia, const Problem& p, Layout layout) {
    const int64_t sp = detail::prod(p.dst_shape()) / (p.mb * p.oc);
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t c = 0; c < p.oc; ++c)
            for (int64_t x = 0; x < sp; ++x)
                dst[layout == Layout::channels_last ? (n * sp + x) * p.oc + c : (n * p.oc + c) * sp + x] += bia[c];
}

}  // namespace

template <class T>
void conv_transpose(const Problem& p, View<const T> src, View<const T> wei, View<const T> bia, View<T> dst,
                    const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose");
    check("src", src, data_shape(p.src_shape(), opt.layout));
    check("wei", wei, p.wei_shape());
    check_bias("bia", bia, p);
    check("dst", dst, data_shape(p.dst_shape(), opt.layout));
    check_disjoint<T>("dst", dst, {{"src", src}, {"wei", wei}, {"bia", bia}});
    run_forward(p, src.data, wei.data, bia.data, dst.data, opt, true);
}

template <class T>
void conv_transpose_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                                  const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose_backward_data");
    check("diff_dst", diff_dst, data_shape(p.dst_shape(), opt.layout));
    check("wei", wei, p.wei_shape());
    check("diff_src", diff_src, data_shape(p.src_shape(), opt.layout));
    check_disjoint<T>("diff_src", diff_src, {{"diff_dst", diff_dst}, {"wei", wei}});
    run_backward_data(p, diff_dst.data, wei.data, diff_src.data, opt);
}

template <class T>
void conv_transpose_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst, View<T> diff_wei,
                                     View<T> diff_bia, const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose_backward_weights");
    check("src", src, data_shape(p.src_shape(), opt.layout));
    check("diff_dst", diff_dst, data_shape(p.dst_shape(), opt.layout));
    check("diff_wei", diff_wei, p.wei_shape());
    check_bias("diff_bia", diff_bia, p);
    check_disjoint<T>("diff_wei", diff_wei, {{"src", src}, {"diff_dst", diff_dst}});
    if (diff_bia.data) check_disjoint<T>("diff_bia", diff_bia, {{"src", src}, {"diff_dst", diff_dst}, {"diff_wei", diff_wei}});
    run_backward_weights(p, src.data, diff_dst.data, diff_wei.data, diff_bia.data, opt);
}

// conv forward = backward_data of the adjoint transposed problem, plus the bias.
template <class T>
void conv(const Problem& p, View<const T> src, View<const T> wei, View<const T> bia, View<T> dst, const Options& opt) {
    require_kind(p, Kind::conv, "conv");
    check("src", src, data_shape(p.src_shape(), opt.layout));
    check("wei", wei, p.wei_shape());
    check_bias("bia", bia, p);
    check("dst", dst, data_shape(p.dst_shape(), opt.layout));
    check_disjoint<T>("dst", dst, {{"src", src}, {"wei", wei}, {"bia", bia}});
    const Problem t = p.adjoint();
    run_backward_data(t, src.data, wei.data, dst.data, opt);
    if (p.bias) add_bias(dst.data, bia.data, p, opt.layout);
    if (has_epilogue(opt)) apply_epilogue(opt.epilogue, dst.data, detail::prod(p.dst_shape()));
}

// conv backward_data = forward of the adjoint transposed problem (no bias).
template <class T>
void conv_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                        const Options& opt) {
    require_kind(p, Kind::conv, "conv_backward_data");
    check("diff_dst", diff_dst, data_shape(p.dst_shape(), opt.layout));
    check("wei", wei, p.wei_shape());
    check("diff_src", diff_src, data_shape(p.src_shape(), opt.layout));
    check_disjoint<T>("diff_src", diff_src, {{"diff_dst", diff_dst}, {"wei", wei}});
    run_forward<T>(p.adjoint(), diff_dst.data, wei.data, nullptr, diff_src.data, opt);
}

// conv backward_weights = backward_weights of the adjoint, whose "src" is the conv's diff_dst and whose
// "diff_dst" is the conv's src; the bias gradient sums the conv's diff_dst.
template <class T>
void conv_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst, View<T> diff_wei,
                           View<T> diff_bia, const Options& opt) {
    require_kind(p, Kind::conv, "conv_backward_weights");
    check("src", src, data_shape(p.src_shape(), opt.layout));
    check("diff_dst", diff_dst, data_shape(p.dst_shape(), opt.layout));
    check("diff_wei", diff_wei, p.wei_shape());
    check_bias("diff_bia", diff_bia, p);
    check_disjoint<T>("diff_wei", diff_wei, {{"src", src}, {"diff_dst", diff_dst}});
    if (diff_bia.data) check_disjoint<T>("diff_bia", diff_bia, {{"src", src}, {"diff_dst", diff_dst}, {"diff_wei", diff_wei}});
    run_backward_weights<T>(p.adjoint(), diff_dst.data, src.data, diff_wei.data, nullptr, opt);
    if (!p.bias) return;
    const int64_t sp = detail::prod(p.dst_shape()) / (p.mb * p.oc);
    for (int64_t c = 0; c < p.oc; ++c) {
        T acc = 0;
        for (int64_t n = 0; n < p.mb; ++n)
            for (int64_t x = 0; x < sp; ++x)
                acc += diff_dst.data[last(opt) ? (n * sp + x) * p.oc + c : (n * p.oc + c) * sp + x];
        diff_bia.data[c] = acc;
    }
}

// Plan: the drivers that pack (rows, phase) prepare once; the others keep a copy of the weights and run
// their one-call function.
template <class T>
struct Plan<T>::Impl {
    Problem p;
    Options opt;
    std::string name;
    std::unique_ptr<algo::Prepared<T>> prepared;
    std::vector<T> wei, bia;
    const algo::Algorithm* a = nullptr;
    bool convert = false;  // channels_last data, copied channels-first around an algorithm without it
};

template <class T>
Plan<T>::Plan(const Problem& p, View<const T> wei, View<const T> bia, const Options& opt) {
    require_kind(p, Kind::transposed, "Plan");
    check("wei", wei, p.wei_shape());
    check_bias("bia", bia, p);
    auto impl = std::make_shared<Impl>();
    impl->p = p;
    impl->opt = opt;
    impl->opt.log = nullptr;
    const Epilogue* epi = has_epilogue(opt) ? &opt.epilogue : nullptr;
    Scope scope(opt, epi);
    const algo::Algorithm& a = algo::find(p, Direction::forward, opt.algorithm, opt.log);
    impl->a = &a;
    impl->name = a.name;
    impl->convert = last(opt) && !a.channels_last;
    if (a.template kernels<T>().prepare) {
        impl->prepared = a.template kernels<T>().prepare(p, wei.data, bia.data, epi ? *epi : Epilogue{}, opt.simd,
                                                         impl->convert ? Layout::channels_first : opt.layout);
    } else {
        impl->wei.assign(wei.data, wei.data + detail::prod(wei.shape));
        if (bia.data) impl->bia.assign(bia.data, bia.data + p.oc);
    }
    impl_ = std::move(impl);
}

template <class T>
void Plan<T>::run(View<const T> src, View<T> dst) const {
    const Impl& m = *impl_;
    check("src", src, data_shape(m.p.src_shape(), m.opt.layout));
    check("dst", dst, data_shape(m.p.dst_shape(), m.opt.layout));
    check_disjoint<T>("dst", dst, {{"src", src}});
    const Epilogue* epi = has_epilogue(m.opt) ? &m.opt.epilogue : nullptr;
    Scope scope(m.opt, epi);
    auto go = [&](const T* s, T* d) {
        if (m.prepared) {
            m.prepared->run(s, d);
            return;
        }
        if (!m.convert) algo::call_context().layout = m.opt.layout;
        m.a->template kernels<T>().fwd(m.p, s, m.wei.data(), m.bia.empty() ? nullptr : m.bia.data(), d);
        if (epi && !m.a->fused_epilogue) apply_epilogue(*epi, d, detail::prod(m.p.dst_shape()));
    };
    if (!m.convert) return go(src.data, dst.data);
    const FirstCopy<T> s(m.p.src_shape(), src.data);
    FirstCopy<T> d(m.p.dst_shape());
    go(s.data.data(), d.data.data());
    d.store(dst.data);
}

template <class T>
const Problem& Plan<T>::problem() const { return impl_->p; }
template <class T>
const std::string& Plan<T>::algorithm() const { return impl_->name; }
template <class T>
std::string Plan<T>::simd() const { return impl_->prepared ? impl_->prepared->target() : std::string(); }
template <class T>
size_t Plan<T>::packed_bytes() const {
    return impl_->prepared ? impl_->prepared->packed_bytes() : (impl_->wei.size() + impl_->bia.size()) * sizeof(T);
}
template <class T>
size_t Plan<T>::workspace_bytes() const { return impl_->prepared ? impl_->prepared->workspace_bytes() : 0; }

template class Plan<float>;
template class Plan<double>;

void clear_weight_cache() {
    WeightCache<float>::mine().clear();
    WeightCache<double>::mine().clear();
}

WeightCacheStats weight_cache_stats() {
    const WeightCacheStats f = WeightCache<float>::mine().stats(), d = WeightCache<double>::mine().stats();
    return {f.plans + d.plans, f.bytes + d.bytes, f.hits + d.hits, f.misses + d.misses, f.skipped + d.skipped};
}

#define TCONV_INSTANTIATE(T)                                                                                       \
    template void conv_transpose<T>(const Problem&, View<const T>, View<const T>, View<const T>, View<T>,          \
                                    const Options&);                                                               \
    template void conv_transpose_backward_data<T>(const Problem&, View<const T>, View<const T>, View<T>,           \
                                                  const Options&);                                                 \
    template void conv_transpose_backward_weights<T>(const Problem&, View<const T>, View<const T>, View<T>,        \
                                                     View<T>, const Options&);                                     \
    template void conv<T>(const Problem&, View<const T>, View<const T>, View<const T>, View<T>, const Options&);   \
    template void conv_backward_data<T>(const Problem&, View<const T>, View<const T>, View<T>, const Options&);    \
    template void conv_backward_weights<T>(const Problem&, View<const T>, View<const T>, View<T>, View<T>,         \
                                           const Options&);
TCONV_INSTANTIATE(float)
TCONV_INSTANTIATE(double)
#undef TCONV_INSTANTIATE

}  // namespace tconv
