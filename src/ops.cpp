// The public operations: check every tensor against the problem, pick the algorithm, run it. The regular
// convolution runs through its adjoint transposed problem with the directions exchanged.
#include "tconv/ops.hpp"

#include <memory>

#include "tconv/plan.hpp"

#include <algorithm>

#include "algo/algo.hpp"
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


namespace {

using detail::cat;

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
        algo::call_context() = {opt.simd, epi};
    }
    ~Scope() { algo::call_context() = saved_; }

private:
    parallel::ThreadsScope threads_;
    algo::CallContext saved_;
};

bool has_epilogue(const Options& opt) { return opt.epilogue.kind != Epilogue::Kind::none; }

template <class T>
void run_forward(const Problem& t, const T* src, const T* wei, const T* bia, T* dst, const Options& opt,
                 bool epilogue = false) {
    const Epilogue* epi = epilogue && has_epilogue(opt) ? &opt.epilogue : nullptr;
    Scope scope(opt, epi);
    const algo::Algorithm& a = algo::find(t, Direction::forward, opt.algorithm, opt.log);
    a.template kernels<T>().fwd(t, src, wei, bia, dst);
    if (epi && !a.fused_epilogue) apply_epilogue(*epi, dst, detail::prod(t.dst_shape()));
}
template <class T>
void run_backward_data(const Problem& t, const T* diff_dst, const T* wei, T* diff_src, const Options& opt) {
    Scope scope(opt, nullptr);
    algo::find(t, Direction::backward_data, opt.algorithm, opt.log).template kernels<T>().bwd_data(t, diff_dst, wei, diff_src);
}
template <class T>
void run_backward_weights(const Problem& t, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia, const Options& opt) {
    Scope scope(opt, nullptr);
    algo::find(t, Direction::backward_weights, opt.algorithm, opt.log)
        .template kernels<T>()
        .bwd_wei(t, src, diff_dst, diff_wei, diff_bia);
}

}  // namespace

template <class T>
void conv_transpose(const Problem& p, View<const T> src, View<const T> wei, View<const T> bia, View<T> dst,
                    const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose");
    check("src", src, p.src_shape());
    check("wei", wei, p.wei_shape());
    check_bias("bia", bia, p);
    check("dst", dst, p.dst_shape());
    check_disjoint<T>("dst", dst, {{"src", src}, {"wei", wei}, {"bia", bia}});
    run_forward(p, src.data, wei.data, bia.data, dst.data, opt, true);
}

template <class T>
void conv_transpose_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                                  const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose_backward_data");
    check("diff_dst", diff_dst, p.dst_shape());
    check("wei", wei, p.wei_shape());
    check("diff_src", diff_src, p.src_shape());
    check_disjoint<T>("diff_src", diff_src, {{"diff_dst", diff_dst}, {"wei", wei}});
    run_backward_data(p, diff_dst.data, wei.data, diff_src.data, opt);
}

template <class T>
void conv_transpose_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst, View<T> diff_wei,
                                     View<T> diff_bia, const Options& opt) {
    require_kind(p, Kind::transposed, "conv_transpose_backward_weights");
    check("src", src, p.src_shape());
    check("diff_dst", diff_dst, p.dst_shape());
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
    check("src", src, p.src_shape());
    check("wei", wei, p.wei_shape());
    check_bias("bia", bia, p);
    check("dst", dst, p.dst_shape());
    check_disjoint<T>("dst", dst, {{"src", src}, {"wei", wei}, {"bia", bia}});
    const Problem t = p.adjoint();
    run_backward_data(t, src.data, wei.data, dst.data, opt);
    if (!p.bias) {
        if (has_epilogue(opt)) apply_epilogue(opt.epilogue, dst.data, detail::prod(p.dst_shape()));
        return;
    }
    const int64_t sp = detail::prod(p.dst_shape()) / (p.mb * p.oc);
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t c = 0; c < p.oc; ++c)
            for (int64_t x = 0; x < sp; ++x) dst.data[(n * p.oc + c) * sp + x] += bia.data[c];
    if (has_epilogue(opt)) apply_epilogue(opt.epilogue, dst.data, detail::prod(p.dst_shape()));
}

// conv backward_data = forward of the adjoint transposed problem (no bias).
template <class T>
void conv_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                        const Options& opt) {
    require_kind(p, Kind::conv, "conv_backward_data");
    check("diff_dst", diff_dst, p.dst_shape());
    check("wei", wei, p.wei_shape());
    check("diff_src", diff_src, p.src_shape());
    check_disjoint<T>("diff_src", diff_src, {{"diff_dst", diff_dst}, {"wei", wei}});
    run_forward<T>(p.adjoint(), diff_dst.data, wei.data, nullptr, diff_src.data, opt);
}

// conv backward_weights = backward_weights of the adjoint, whose "src" is the conv's diff_dst and whose
// "diff_dst" is the conv's src; the bias gradient sums the conv's diff_dst.
template <class T>
void conv_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst, View<T> diff_wei,
                           View<T> diff_bia, const Options& opt) {
    require_kind(p, Kind::conv, "conv_backward_weights");
    check("src", src, p.src_shape());
    check("diff_dst", diff_dst, p.dst_shape());
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
            for (int64_t x = 0; x < sp; ++x) acc += diff_dst.data[(n * p.oc + c) * sp + x];
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
    if (a.template kernels<T>().prepare) {
        impl->prepared = a.template kernels<T>().prepare(p, wei.data, bia.data, epi ? *epi : Epilogue{}, opt.simd);
    } else {
        impl->wei.assign(wei.data, wei.data + detail::prod(wei.shape));
        if (bia.data) impl->bia.assign(bia.data, bia.data + p.oc);
    }
    impl_ = std::move(impl);
}

template <class T>
void Plan<T>::run(View<const T> src, View<T> dst) const {
    const Impl& m = *impl_;
    check("src", src, m.p.src_shape());
    check("dst", dst, m.p.dst_shape());
    check_disjoint<T>("dst", dst, {{"src", src}});
    const Epilogue* epi = has_epilogue(m.opt) ? &m.opt.epilogue : nullptr;
    Scope scope(m.opt, epi);
    if (m.prepared) {
        m.prepared->run(src.data, dst.data);
        return;
    }
    m.a->template kernels<T>().fwd(m.p, src.data, m.wei.data(), m.bia.empty() ? nullptr : m.bia.data(), dst.data);
    if (epi && !m.a->fused_epilogue) apply_epilogue(*epi, dst.data, detail::prod(m.p.dst_shape()));
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
