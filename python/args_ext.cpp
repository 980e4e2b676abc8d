// PyTorch-style layer arguments (stride=2, padding=(1, 2), padding=((1, 0), (0, 1)), groups=...) turned into a
// validated tconv::Problem in one call. This is tconv/__init__.py's argument handling, in C++ because a small
// layer's computation takes less time than interpreting those checks in Python (see BENCHMARKS.md's seed case).
// Every message names the argument, its value (as Python's repr shows it) and the rule.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "tconv/tconv.hpp"

namespace py = pybind11;
using tconv::Dims;
using tconv::Error;
using tconv::Problem;

namespace {

std::string rep(py::handle v) { return std::string(py::repr(v)); }

// "(1, 2)" or "(5,)": a shape as Python prints a tuple.
std::string tuple_str(const Dims& d) {
    std::string s = "(";
    for (size_t a = 0; a < d.size(); ++a) s += (a ? ", " : "") + std::to_string(d[a]);
    return s + (d.size() == 1 ? ",)" : ")");
}

// An int in Python's sense (int, numpy integer, any numbers.Integral), but not a bool.
bool is_int(py::handle v) {
    if (PyBool_Check(v.ptr())) return false;
    if (PyLong_Check(v.ptr())) return true;
    static PyObject* integral = [] {  // kept for the interpreter's lifetime
        return py::object(py::module_::import("numbers").attr("Integral")).release().ptr();
    }();
    const int r = PyObject_IsInstance(v.ptr(), integral);
    if (r < 0) throw py::error_already_set();
    return r == 1;
}

int64_t to_i64(py::handle v, const std::string& name) {
    py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
    if (!i) throw py::error_already_set();
    int overflow = 0;
    const long long r = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow) throw Error(name + "=" + rep(v) + " does not fit in 64 bits");
    return r;
}

// One int per spatial axis from an int or a sequence of ints (one value is repeated on every axis).
Dims per_axis(py::handle v, int rank, const std::string& name) {
    if (is_int(v)) return Dims(rank, to_i64(v, name));
    const auto bad = [&] { return Error(name + "=" + rep(v) + " must be an int or a sequence of " + std::to_string(rank) + " ints"); };
    if (!PySequence_Check(v.ptr()) || PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr())) throw bad();
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(v);
    Dims vals;
    for (py::handle x : seq) {
        if (!is_int(x) && !PyBool_Check(x.ptr())) throw bad();
        vals.push_back(to_i64(x, name));
    }
    if (vals.size() == 1) return Dims(rank, vals[0]);
    if (static_cast<int>(vals.size()) != rank)
        throw Error(name + "=" + tuple_str(vals) + " has " + std::to_string(vals.size()) +
                    " values but the input has " + std::to_string(rank) + " spatial axes");
    return vals;
}

bool int_like(py::handle v) { return is_int(v) || PyBool_Check(v.ptr()); }

// padding: an int, one int per axis (symmetric), or one (begin, end) pair per axis.
void padding(py::handle v, int rank, Dims& pb, Dims& pe) {
    if (!int_like(v) && PySequence_Check(v.ptr()) && !PyUnicode_Check(v.ptr()) && py::len(v) > 0) {
        const py::sequence seq = py::reinterpret_borrow<py::sequence>(v);
        bool pairs = true;
        for (py::handle x : seq) pairs = pairs && !int_like(x);
        if (pairs) {
            const auto bad = [&] {
                return Error("padding=" + rep(v) + " must hold one (begin, end) pair per spatial axis (" +
                             std::to_string(rank) + ")");
            };
            if (static_cast<int>(py::len(seq)) != rank) throw bad();
            for (py::handle x : seq) {
                if (!PySequence_Check(x.ptr()) || PyUnicode_Check(x.ptr()) || py::len(x) != 2) throw bad();
                const py::sequence pr = py::reinterpret_borrow<py::sequence>(x);
                if (!int_like(pr[0]) || !int_like(pr[1])) throw bad();
                pb.push_back(to_i64(pr[0], "padding")), pe.push_back(to_i64(pr[1], "padding"));
            }
            return;
        }
    }
    pb = per_axis(v, rank, "padding");
    pe = pb;
}

Dims array_shape(const py::array& a) { return Dims(a.shape(), a.shape() + a.ndim()); }

// The Problem of a layer call: input_shape as the caller's array has it ((N, spatial..., C) when
// channels_last), weight and bias numpy arrays (bias may be None).
Problem problem_from_args(py::handle input_shape, const py::array& weight, py::handle bias, py::handle stride,
                          py::handle pad, py::handle output_padding, py::handle groups, py::handle dilation,
                          bool transposed, py::handle output_size, bool channels_last) {
    Dims shape;
    for (py::handle n : py::reinterpret_borrow<py::sequence>(input_shape)) shape.push_back(to_i64(n, "input_shape"));
    if (shape.size() < 3)
        throw Error("input has shape " + tuple_str(shape) + ": it needs " +
                    (channels_last ? "(N, spatial..., C)" : "(N, C, spatial...)") + " with at least 1 spatial axis");
    if (channels_last) {  // seen channels-first: (N, C, spatial...)
        const int64_t c = shape.back();
        shape.pop_back();
        shape.insert(shape.begin() + 1, c);
    }
    const int rank = static_cast<int>(shape.size()) - 2;
    const Dims wshape = array_shape(weight);
    if (weight.ndim() != rank + 2)
        throw Error("weight has shape " + tuple_str(wshape) + " but input has " + std::to_string(rank) +
                    " spatial axes: weight must be " + (transposed ? "(C_in, C_out/groups" : "(C_out, C_in/groups") +
                    ", k1..k" + std::to_string(rank) + ")");
    if (!is_int(groups) || to_i64(groups, "groups") <= 0) throw Error("groups=" + rep(groups) + " must be a positive int");
    Problem p;
    p.kind = transposed ? tconv::Kind::transposed : tconv::Kind::conv;
    p.g = to_i64(groups, "groups");
    p.mb = shape[0], p.ic = shape[1];
    if (transposed) {
        if (wshape[0] != p.ic)
            throw Error("weight has " + std::to_string(wshape[0]) + " input channels (axis 0) but input has C=" +
                        std::to_string(p.ic));
        if (__builtin_mul_overflow(wshape[1], p.g, &p.oc))
            throw Error("weight's C_out/groups=" + std::to_string(wshape[1]) + " times groups=" + std::to_string(p.g) +
                        " overflows 64 bits");
    } else {
        p.oc = wshape[0];
        int64_t icw = 0;
        if (__builtin_mul_overflow(wshape[1], p.g, &icw) || icw != p.ic)
            throw Error("weight has " + std::to_string(wshape[1]) + " input channels per group (axis 1) but input has C=" +
                        std::to_string(p.ic) + " in " + std::to_string(p.g) + " groups");
    }
    padding(pad, rank, p.pb, p.pe);
    if (transposed) {
        for (int a = 0; a < rank; ++a)
            if (p.pb[a] < 0 || p.pe[a] < 0) throw Error("padding=" + rep(pad) + " must not be negative");
        p.op = per_axis(output_padding, rank, "output_padding");
    } else {
        p.op.assign(rank, 0);
    }
    if (!bias.is_none()) {
        const py::array b = py::reinterpret_borrow<py::array>(bias);
        if (b.ndim() != 1 || b.shape(0) != p.oc)
            throw Error("bias has shape " + tuple_str(array_shape(b)) + " but the layer has " + std::to_string(p.oc) +
                        " output channels: it must be (" + std::to_string(p.oc) + ",)");
        p.bias = true;
    }
    p.i.assign(shape.begin() + 2, shape.end());
    p.k.assign(wshape.begin() + 2, wshape.end());
    p.s = per_axis(stride, rank, "stride");
    p.d = per_axis(dilation, rank, "dilation");
    p.validate();
    if (!output_size.is_none()) {
        if (!PySequence_Check(output_size.ptr()))
            throw Error("output_size=" + rep(output_size) + " must be a sequence of ints");
        Dims sizes;
        for (py::handle n : py::reinterpret_borrow<py::sequence>(output_size)) {
            if (!int_like(n)) throw Error("output_size=" + rep(output_size) + " must be a sequence of ints");
            sizes.push_back(to_i64(n, "output_size"));
        }
        if (static_cast<int>(sizes.size()) == rank + 2) sizes.erase(sizes.begin(), sizes.begin() + 2);  // the full shape, as PyTorch accepts
        p = tconv::with_output_size(p, sizes);
    }
    return p;
}

}  // namespace

void bind_args(py::module_& m) {
    m.def("problem_from_args", &problem_from_args, py::arg("input_shape"), py::arg("weight"), py::arg("bias"),
          py::arg("stride"), py::arg("padding"), py::arg("output_padding"), py::arg("groups"), py::arg("dilation"),
          py::arg("transposed"), py::arg("output_size"), py::arg("channels_last"));
}
