// tconv::nn for Python (tconv/nn.py wraps it): a sequential model built from a list of (kind, settings),
// in float32 or float64, with forward, backward, parameters by state_dict name, optimisers and losses.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "tconv/error.hpp"
#include "tconv/nn.hpp"

namespace py = pybind11;
using tconv::Dims;

namespace {

template <class T>
tconv::Tensor<T> tensor_of(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
    tconv::Tensor<T> t;
    t.shape.assign(a.shape(), a.shape() + a.ndim());
    t.data.assign(a.data(), a.data() + a.size());
    return t;
}

template <class T>
py::array_t<T> array_of(const tconv::Tensor<T>& t) {
    py::array_t<T> a(std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
    std::copy(t.data.begin(), t.data.end(), a.mutable_data());
    return a;
}

Dims dims(const py::dict& d, const char* key, Dims dflt) {
    if (!d.contains(key)) return dflt;
    py::object v = d[key];
    if (py::isinstance<py::int_>(v)) return {v.cast<int64_t>()};
    return v.cast<Dims>();
}

tconv::nn::ConvSpec spec_of(const py::dict& d, int rank) {
    tconv::nn::ConvSpec s;
    s.rank = rank;
    s.in_channels = py::cast<int64_t>(d["in_channels"]);
    s.out_channels = py::cast<int64_t>(d["out_channels"]);
    s.kernel_size = dims(d, "kernel_size", {3});
    s.stride = dims(d, "stride", {1});
    s.padding = dims(d, "padding", {0});
    s.output_padding = dims(d, "output_padding", {0});
    s.dilation = dims(d, "dilation", {1});
    s.groups = d.contains("groups") ? py::cast<int64_t>(d["groups"]) : 1;
    s.bias = d.contains("bias") ? py::cast<bool>(d["bias"]) : true;
    return s;
}

template <class T>
struct Model {
    tconv::nn::Sequential<T> seq;
    std::mt19937_64 rng;
    std::vector<tconv::nn::ConvTranspose<T>*> tconvs;  // by layer index (nullptr elsewhere)

    Model(const std::vector<std::pair<std::string, py::dict>>& layers, int rank, uint64_t seed) : rng(seed) {
        namespace nn = tconv::nn;
        for (const auto& [kind, d] : layers) {
            nn::ConvTranspose<T>* tc = nullptr;
            if (kind == "conv_transpose") tc = &seq.template emplace<nn::ConvTranspose<T>>(spec_of(d, rank), rng);
            else if (kind == "conv") seq.template emplace<nn::Conv<T>>(spec_of(d, rank), rng);
            else if (kind == "relu") seq.template emplace<nn::Activation<T>>(nn::ActKind::relu);
            else if (kind == "leaky_relu")
                seq.template emplace<nn::Activation<T>>(nn::ActKind::leaky_relu, d.contains("negative_slope") ? py::cast<double>(d["negative_slope"]) : 0.01);
            else if (kind == "tanh") seq.template emplace<nn::Activation<T>>(nn::ActKind::tanh);
            else if (kind == "sigmoid") seq.template emplace<nn::Activation<T>>(nn::ActKind::sigmoid);
            else if (kind == "upsample")
                seq.template emplace<nn::Upsample<T>>(py::cast<int64_t>(d["scale_factor"]),
                                                      tconv::upsample::mode(d.contains("mode") ? py::cast<std::string>(d["mode"]) : "nearest"),
                                                      d.contains("align_corners") && py::cast<bool>(d["align_corners"]));
            else if (kind == "pixel_shuffle") seq.template emplace<nn::PixelShuffle<T>>(py::cast<int64_t>(d["upscale_factor"]));
            else
                throw tconv::Error("unknown layer kind '" + kind +
                                   "': use conv_transpose, conv, relu, leaky_relu, tanh, sigmoid, upsample or pixel_shuffle");
            tconvs.push_back(tc);
        }
    }
    tconv::nn::Param<T>& param(const std::string& name) {
        for (auto& [n, p] : seq.named_params())
            if (n == name) return *p;
        throw tconv::Error("the model has no parameter '" + name + "'");
    }
};

template <class T>
void bind_model(py::module_& m, const char* name, const char* sgd, const char* adam, const std::string& sfx) {
    using M = Model<T>;
    using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;
    py::class_<M>(m, name)
        .def(py::init<const std::vector<std::pair<std::string, py::dict>>&, int, uint64_t>())
        .def("forward", [](M& self, const Arr& x) {
            tconv::Tensor<T> xt = tensor_of<T>(x), y;
            {
                py::gil_scoped_release r;
                y = self.seq.forward(xt);
            }
            return array_of(y);
        })
        .def("backward", [](M& self, const Arr& dy) {
            tconv::Tensor<T> g = tensor_of<T>(dy), dx;
            {
                py::gil_scoped_release r;
                dx = self.seq.backward(g);
            }
            return array_of(dx);
        })
        .def("zero_grad", [](M& self) { self.seq.zero_grad(); })
        .def("names", [](M& self) {
            std::vector<std::string> r;
            for (auto& [n, p] : self.seq.named_params()) r.push_back(n);
            return r;
        })
        .def("get", [](M& self, const std::string& n) { return array_of(self.param(n).value); })
        .def("grad", [](M& self, const std::string& n) { return array_of(self.param(n).grad); })
        .def("set", [](M& self, const std::string& n, const Arr& v) {
            auto& p = self.param(n);
            tconv::Tensor<T> t = tensor_of<T>(v);
            if (t.shape != p.value.shape)
                throw tconv::Error(n + " has shape (" + tconv::dims_str(p.value.shape, ',') + "); the array given has (" +
                                   tconv::dims_str(t.shape, ',') + ")");
            p.value = t;
        })
        .def("init_bilinear", [](M& self, size_t index) {
            if (index >= self.tconvs.size() || !self.tconvs[index]) throw tconv::Error("layer " + std::to_string(index) + " is not a conv_transpose");
            self.tconvs[index]->init_bilinear();
        })
        .def("describe", [](M& self) { return self.seq.describe(); })
        .def("save", [](M& self, const std::string& path) { tconv::nn::save_weights(path, self.seq); })
        .def("load", [](M& self, const std::string& path) { tconv::nn::load_weights(path, self.seq); });
    py::class_<tconv::nn::SGD<T>>(m, sgd)
        .def(py::init([](M& model, double lr, double momentum, double dampening, double wd, bool nesterov) {
                 return std::make_unique<tconv::nn::SGD<T>>(tconv::nn::parameters(model.seq), lr, momentum, dampening, wd, nesterov);
             }),
             py::keep_alive<1, 2>())
        .def("step", &tconv::nn::SGD<T>::step)
        .def("zero_grad", &tconv::nn::SGD<T>::zero_grad);
    py::class_<tconv::nn::Adam<T>>(m, adam)
        .def(py::init([](M& model, double lr, double b1, double b2, double eps, double wd) {
                 return std::make_unique<tconv::nn::Adam<T>>(tconv::nn::parameters(model.seq), lr, b1, b2, eps, wd);
             }),
             py::keep_alive<1, 2>())
        .def("step", &tconv::nn::Adam<T>::step)
        .def("zero_grad", &tconv::nn::Adam<T>::zero_grad);
    m.def(("mse_loss" + sfx).c_str(), [](const Arr& p, const Arr& t) {
        auto l = tconv::nn::mse_loss(tensor_of<T>(p), tensor_of<T>(t));
        return py::make_tuple(l.value, array_of(l.grad));
    });
    m.def(("l1_loss" + sfx).c_str(), [](const Arr& p, const Arr& t) {
        auto l = tconv::nn::l1_loss(tensor_of<T>(p), tensor_of<T>(t));
        return py::make_tuple(l.value, array_of(l.grad));
    });
}

}  // namespace

void bind_nn(py::module_& parent) {
    py::module_ m = parent.def_submodule("nn", "tconv::nn: layers, losses, optimisers");
    bind_model<float>(m, "ModelF32", "SGDF32", "AdamF32", "_f32");
    bind_model<double>(m, "ModelF64", "SGDF64", "AdamF64", "_f64");
    m.def("npz_names", [](const std::string& path) {
        std::vector<std::string> r;
        for (const auto& [k, v] : tconv::nn::read_npz(path)) r.push_back(k);
        return r;
    });
}
