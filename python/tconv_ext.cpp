// The Python extension `tconv._tconv`: numpy arrays in, new numpy arrays out, the GIL released while
// computing, tconv::Error raised as ValueError. The Pythonic argument handling lives in tconv/__init__.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "tconv/tconv.hpp"

namespace py = pybind11;
using tconv::Dims;
using tconv::Problem;

namespace {

enum class DT { f32, f64 };

DT dtype_of(const py::array& a, const char* name) {
    if (a.dtype().is(py::dtype::of<float>())) return DT::f32;
    if (a.dtype().is(py::dtype::of<double>())) return DT::f64;
    throw tconv::Error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                       ": tconv computes in float32 or float64 (convert with .astype(numpy.float32))");
}

// A C-contiguous view of a numpy array of dtype T (the Python layer passes contiguous arrays).
template <class T>
tconv::View<const T> view(const py::array& a, const char* name) {
    if (!(a.flags() & py::array::c_style)) throw tconv::Error(std::string(name) + " must be C-contiguous");
    return {static_cast<const T*>(a.data()), Dims(a.shape(), a.shape() + a.ndim())};
}

template <class T>
py::array_t<T> empty(const Dims& shape) {
    return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

template <class T>
tconv::View<T> out_view(py::array_t<T>& a) {
    return {a.mutable_data(), Dims(a.shape(), a.shape() + a.ndim())};
}

DT common_dtype(std::initializer_list<std::pair<const char*, const py::array*>> arrays) {
    std::optional<DT> dt;
    std::string first;
    for (const auto& [name, a] : arrays) {
        if (!a) continue;
        const DT d = dtype_of(*a, name);
        if (dt && *dt != d)
            throw tconv::Error(std::string(name) + " has dtype " + std::string(py::str(a->dtype())) + " but " + first +
                               " has another: pass all tensors in one dtype (float32 or float64)");
        if (!dt) first = name;
        dt = d;
    }
    return *dt;
}

tconv::Options options(const std::string& algorithm, int threads, bool channels_last) {
    tconv::Options o;
    o.algorithm = algorithm;
    o.threads = threads;
    o.layout = channels_last ? tconv::Layout::channels_last : tconv::Layout::channels_first;
    return o;
}

// Forward of a transposed (or regular) convolution problem: returns dst.
template <class T>
py::array forward_t(const Problem& p, const py::array& x, const py::array& w, const std::optional<py::array>& b,
                    const std::string& algorithm, int threads, bool channels_last) {
    auto dst = empty<T>(tconv::data_shape(p.dst_shape(), options(algorithm, threads, channels_last).layout));
    auto xv = view<T>(x, "input"), wv = view<T>(w, "weight");
    tconv::View<const T> bv = b ? view<T>(*b, "bias") : tconv::View<const T>{};
    auto dv = out_view(dst);
    {
        py::gil_scoped_release release;
        if (p.kind == tconv::Kind::transposed) tconv::conv_transpose<T>(p, xv, wv, bv, dv, options(algorithm, threads, channels_last));
        else tconv::conv<T>(p, xv, wv, bv, dv, options(algorithm, threads, channels_last));
    }
    return std::move(dst);
}

py::array forward(const Problem& p, const py::array& x, const py::array& w, const std::optional<py::array>& b,
                  const std::string& algorithm, int threads, bool channels_last) {
    const DT dt = common_dtype({{"input", &x}, {"weight", &w}, {"bias", b ? &*b : nullptr}});
    return dt == DT::f32 ? forward_t<float>(p, x, w, b, algorithm, threads, channels_last)
                         : forward_t<double>(p, x, w, b, algorithm, threads, channels_last);
}

// Gradients: (grad_input, grad_weight, grad_bias), None where not asked for (want_input, want_weights: the
// weight and bias gradients come from one call; grad_bias also needs p.bias).
template <class T>
py::tuple backward_t(const Problem& p, const py::array& dy, const py::array& x, const py::array& w,
                     const std::string& algorithm, int threads, bool channels_last, bool want_input, bool want_weights) {
    const tconv::Options opt = options(algorithm, threads, channels_last);
    const bool want_bias = want_weights && p.bias;
    py::object none = py::none(), dx = none, dw = none, db = none;  // only the wanted arrays are made
    tconv::View<T> dxv, dwv, dbv;
    if (want_input) {
        auto a = empty<T>(tconv::data_shape(p.src_shape(), opt.layout));
        dxv = out_view(a), dx = std::move(a);
    }
    if (want_weights) {
        auto a = empty<T>(p.wei_shape());
        dwv = out_view(a), dw = std::move(a);
    }
    if (want_bias) {
        auto a = empty<T>(Dims{p.oc});
        dbv = out_view(a), db = std::move(a);
    }
    auto dyv = view<T>(dy, "grad_output"), xv = view<T>(x, "input"), wv = view<T>(w, "weight");
    {
        py::gil_scoped_release release;
        if (p.kind == tconv::Kind::transposed) {
            if (want_input) tconv::conv_transpose_backward_data<T>(p, dyv, wv, dxv, opt);
            if (want_weights) tconv::conv_transpose_backward_weights<T>(p, xv, dyv, dwv, dbv, opt);
        } else {
            if (want_input) tconv::conv_backward_data<T>(p, dyv, wv, dxv, opt);
            if (want_weights) tconv::conv_backward_weights<T>(p, xv, dyv, dwv, dbv, opt);
        }
    }
    return py::make_tuple(dx, dw, db);
}

py::tuple backward(const Problem& p, const py::array& dy, const py::array& x, const py::array& w,
                   const std::string& algorithm, int threads, bool channels_last, bool want_input, bool want_weights) {
    const DT dt = common_dtype({{"grad_output", &dy}, {"input", &x}, {"weight", &w}});
    return dt == DT::f32 ? backward_t<float>(p, dy, x, w, algorithm, threads, channels_last, want_input, want_weights)
                         : backward_t<double>(p, dy, x, w, algorithm, threads, channels_last, want_input, want_weights);
}

tconv::Direction direction(const std::string& d) {
    if (d == "forward") return tconv::Direction::forward;
    if (d == "backward_data") return tconv::Direction::backward_data;
    if (d == "backward_weights") return tconv::Direction::backward_weights;
    throw tconv::Error("direction='" + d + "' must be forward, backward_data or backward_weights");
}


namespace tr = tconv::translate;

tr::Layer make_layer(const std::string& fw, const tr::Attrs& attrs, const Dims& input_shape, const Dims& weight_shape,
                     bool bias) {
    return tr::Layer{tr::framework(fw), attrs, input_shape, weight_shape, bias};
}

py::dict layout_dict(const tr::WeightLayout& l) {
    py::dict d;
    d["axes"] = l.axes;
    d["flipped"] = l.flipped;
    d["text"] = l.str();
    return d;
}

py::dict translation_dict(const tr::Translation& t) {
    py::dict d;
    d["framework"] = tr::name(t.layer.framework);
    d["attrs"] = t.layer.attrs;
    d["input_shape"] = t.layer.input_shape;
    d["weight_shape"] = t.layer.weight_shape;
    d["bias"] = t.layer.bias;
    d["output_shape"] = t.output_shape;
    d["final_shape"] = t.final_shape;
    d["channels_last"] = t.channels_last;
    d["weight_layout"] = layout_dict(t.weights);
    d["exact"] = t.exact;
    d["representable"] = t.representable;
    d["crop_begin"] = t.crop_begin;
    d["crop_end"] = t.crop_end;
    d["bias_after"] = t.bias_after;
    d["notes"] = t.notes;
    d["code"] = t.code;
    return d;
}

template <class T>
py::array convert_weights_t(const py::array& w, const tr::WeightLayout& from, const tr::WeightLayout& to, int64_t g) {
    auto wv = view<T>(w, "weight");
    tconv::Tensor<T> r = tr::convert_weights<T>(wv, from, to, g);
    auto out = empty<T>(r.shape);
    std::copy(r.data.begin(), r.data.end(), out.mutable_data());
    return std::move(out);
}

}  // namespace

void bind_nn(py::module_& parent);  // nn_ext.cpp
void bind_args(py::module_& m);     // args_ext.cpp

// A prepared forward pass (tconv::Plan) for float32 or float64, chosen by the weights' dtype.
class PyPlan {
public:
    PyPlan(const Problem& p, const py::array& w, const std::optional<py::array>& b, const std::string& algorithm,
           int threads, bool channels_last) {
        layout_ = options(algorithm, threads, channels_last).layout;
        const DT dt = common_dtype({{"weight", &w}, {"bias", b ? &*b : nullptr}});
        if (dt == DT::f32) f32_ = make<float>(p, w, b, algorithm, threads, channels_last);
        else f64_ = make<double>(p, w, b, algorithm, threads, channels_last);
    }
    py::array run(const py::array& x) const {
        return f32_ ? run_t<float>(*f32_, x, layout_) : run_t<double>(*f64_, x, layout_);
    }
    std::string algorithm() const { return f32_ ? f32_->algorithm() : f64_->algorithm(); }
    std::string simd() const { return f32_ ? f32_->simd() : f64_->simd(); }
    size_t packed_bytes() const { return f32_ ? f32_->packed_bytes() : f64_->packed_bytes(); }
    size_t workspace_bytes() const { return f32_ ? f32_->workspace_bytes() : f64_->workspace_bytes(); }

private:
    template <class T>
    static std::shared_ptr<tconv::Plan<T>> make(const Problem& p, const py::array& w, const std::optional<py::array>& b,
                                                const std::string& algorithm, int threads, bool channels_last) {
        auto wv = view<T>(w, "weight");
        tconv::View<const T> bv = b ? view<T>(*b, "bias") : tconv::View<const T>{};
        return std::make_shared<tconv::Plan<T>>(p, wv, bv, options(algorithm, threads, channels_last));
    }
    template <class T>
    static py::array run_t(const tconv::Plan<T>& plan, const py::array& x, tconv::Layout layout) {
        const DT dt = common_dtype({{"input", &x}});
        if ((dt == DT::f32) != (sizeof(T) == 4))
            throw tconv::Error(std::string("input has dtype ") + (dt == DT::f32 ? "float32" : "float64") +
                               " but the plan's weights are " + (sizeof(T) == 4 ? "float32" : "float64"));
        auto dst = empty<T>(tconv::data_shape(plan.problem().dst_shape(), layout));
        auto xv = view<T>(x, "input");
        auto dv = out_view(dst);
        {
            py::gil_scoped_release release;
            plan.run(xv, dv);
        }
        return std::move(dst);
    }
    std::shared_ptr<tconv::Plan<float>> f32_;
    std::shared_ptr<tconv::Plan<double>> f64_;
    tconv::Layout layout_ = tconv::Layout::channels_first;
};

PYBIND11_MODULE(_tconv, m) {
    m.doc() = "tconv core: the transposed convolution, exactly as PyTorch and ONNX define it";
    py::register_exception<tconv::Error>(m, "Error", PyExc_ValueError);
    bind_nn(m);
    bind_args(m);

    py::enum_<tconv::Kind>(m, "Kind").value("transposed", tconv::Kind::transposed).value("conv", tconv::Kind::conv);
    py::class_<Problem>(m, "Problem")
        .def(py::init<>())
        .def_readwrite("kind", &Problem::kind)
        .def_readwrite("mb", &Problem::mb)
        .def_readwrite("g", &Problem::g)
        .def_readwrite("ic", &Problem::ic)
        .def_readwrite("oc", &Problem::oc)
        .def_readwrite("i", &Problem::i)
        .def_readwrite("k", &Problem::k)
        .def_readwrite("s", &Problem::s)
        .def_readwrite("d", &Problem::d)
        .def_readwrite("pb", &Problem::pb)
        .def_readwrite("pe", &Problem::pe)
        .def_readwrite("op", &Problem::op)
        .def_readwrite("bias", &Problem::bias)
        .def("validate", &Problem::validate)
        .def("o", &Problem::o)
        .def("adjoint", &Problem::adjoint)
        .def("src_shape", &Problem::src_shape)
        .def("wei_shape", &Problem::wei_shape)
        .def("dst_shape", &Problem::dst_shape)
        .def("__str__", &Problem::str)
        .def("__repr__", [](const Problem& p) { return "Problem('" + p.str() + "')"; })
        .def("__eq__", [](const Problem& a, const Problem& b) { return a == b; })
        .def_static("parse", &Problem::parse);

    m.def("with_output_size", &tconv::with_output_size);
    // The whole problem in one call, validated (setting its fields one by one from Python costs more than a
    // small layer's computation).
    m.def("make_problem", [](bool transposed, int64_t mb, int64_t ic, int64_t oc, int64_t g, Dims i, Dims k, Dims s,
                             Dims d, Dims pb, Dims pe, Dims op, bool bias) {
        Problem p;
        p.kind = transposed ? tconv::Kind::transposed : tconv::Kind::conv;
        p.mb = mb, p.ic = ic, p.oc = oc, p.g = g, p.bias = bias;
        p.i = std::move(i), p.k = std::move(k), p.s = std::move(s), p.d = std::move(d);
        p.pb = std::move(pb), p.pe = std::move(pe), p.op = std::move(op);
        p.validate();
        return p;
    });
    m.def("onnx_problem", [](const Dims& x, const Dims& w, bool has_bias, const std::string& auto_pad, const Dims& dilations,
                             int64_t group, const Dims& kernel_shape, const Dims& output_padding, const Dims& output_shape,
                             const Dims& pads, const Dims& strides) {
        tconv::onnx::Attributes a{auto_pad, dilations, group, kernel_shape, output_padding, output_shape, pads, strides};
        return tconv::onnx::problem(x, w, has_bias, a);
    });
    py::class_<PyPlan>(m, "Plan")
        .def(py::init<const Problem&, const py::array&, const std::optional<py::array>&, const std::string&, int, bool>(),
             py::arg("problem"), py::arg("weight"), py::arg("bias"), py::arg("algorithm") = "auto", py::arg("threads") = 0,
             py::arg("channels_last") = false)
        .def("run", &PyPlan::run, py::arg("input"))
        .def_property_readonly("algorithm", &PyPlan::algorithm)
        .def_property_readonly("simd", &PyPlan::simd)
        .def_property_readonly("packed_bytes", &PyPlan::packed_bytes)
        .def_property_readonly("workspace_bytes", &PyPlan::workspace_bytes);
    m.def("forward", &forward, py::arg("problem"), py::arg("input"), py::arg("weight"), py::arg("bias"),
          py::arg("algorithm") = "auto", py::arg("threads") = 0, py::arg("channels_last") = false);
    m.def("backward", &backward, py::arg("problem"), py::arg("grad_output"), py::arg("input"), py::arg("weight"),
          py::arg("algorithm") = "auto", py::arg("threads") = 0, py::arg("channels_last") = false,
          py::arg("want_input") = true, py::arg("want_weights") = true);
    m.def("clear_weight_cache", &tconv::clear_weight_cache);
    m.def("weight_cache_stats", [] {
        const tconv::WeightCacheStats s = tconv::weight_cache_stats();
        py::dict d;
        d["plans"] = s.plans, d["bytes"] = s.bytes, d["hits"] = s.hits, d["misses"] = s.misses, d["skipped"] = s.skipped;
        return d;
    });
    m.def("algorithms", [] {
        std::vector<std::pair<std::string, std::string>> r;
        for (const auto& a : tconv::algorithms()) r.emplace_back(a.name, a.summary);
        return r;
    });
    m.def("explain_choice", [](const Problem& p, const std::string& dir) {
        std::vector<std::pair<std::string, std::string>> r;
        for (const auto& v : tconv::explain_choice(p, direction(dir))) r.emplace_back(v.name, v.refusal);
        return r;
    });
    m.def("frameworks", [] { return tr::framework_names(); });
    m.def("layer_problem", [](const std::string& fw, const tr::Attrs& attrs, const Dims& x, const Dims& w, bool bias) {
        return tr::to_problem(make_layer(fw, attrs, x, w, bias));
    });
    m.def("layer_layout", [](const std::string& fw, const tr::Attrs& attrs, const Dims& x, const Dims& w, bool bias) {
        const tr::Layer l = make_layer(fw, attrs, x, w, bias);
        py::dict d = layout_dict(tr::weight_layout(l));
        d["channels_last"] = tr::channels_last(l);
        return d;
    });
    m.def("translate", [](const std::string& fw, const tr::Attrs& attrs, const Dims& x, const Dims& w, bool bias,
                          const std::string& to, const tr::Attrs& options) {
        return translation_dict(tr::translate(make_layer(fw, attrs, x, w, bias), tr::framework(to), options));
    });
    m.def("convert_weights", [](const py::array& w, const std::vector<std::string>& from_axes, bool from_flipped,
                                const std::vector<std::string>& to_axes, bool to_flipped, int64_t groups) {
        const tr::WeightLayout from{from_axes, from_flipped}, to{to_axes, to_flipped};
        return dtype_of(w, "weight") == DT::f32 ? convert_weights_t<float>(w, from, to, groups)
                                                : convert_weights_t<double>(w, from, to, groups);
    });
}
