// Layers, losses and optimisers (include/tconv/nn.hpp).
#include "tconv/nn.hpp"

#include <cmath>
#include <sstream>

#include "tconv/error.hpp"
#include "util.hpp"

namespace tconv::nn {

using detail::cat;
using detail::prod;

namespace {

std::string tuple(const Dims& d) {
    std::string s = "(";
    for (size_t a = 0; a < d.size(); ++a) s += (a ? ", " : "") + std::to_string(d[a]);
    return s + (d.size() == 1 ? ",)" : ")");
}

void check_spec(const ConvSpec& s, const char* layer) {
    if (s.rank < 1 || s.rank > 3) throw Error(cat(layer, ": rank=", s.rank, " must be 1, 2 or 3"));
    if (s.in_channels <= 0 || s.out_channels <= 0)
        throw Error(cat(layer, ": in_channels=", s.in_channels, " and out_channels=", s.out_channels, " must be positive"));
    if (s.groups <= 0 || s.in_channels % s.groups || s.out_channels % s.groups)
        throw Error(cat(layer, ": groups=", s.groups, " must divide in_channels=", s.in_channels, " and out_channels=", s.out_channels));
}

void check_input(const Dims& x, const ConvSpec& s, const char* layer) {
    if (static_cast<int>(x.size()) != s.rank + 2)
        throw Error(cat(layer, ": the input has shape ", tuple(x), "; expected (N, C, ", s.rank, " spatial axes)"));
    if (x[1] != s.in_channels) throw Error(cat(layer, ": the input has ", x[1], " channels; the layer takes ", s.in_channels));
}

template <class T>
void uniform_fill(Tensor<T>& t, double bound, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-bound, bound);
    for (T& v : t.data) v = static_cast<T>(u(rng));
}

template <class T>
void accumulate(Tensor<T>& into, const Tensor<T>& add) {
    for (size_t i = 0; i < into.data.size(); ++i) into.data[i] += add.data[i];
}

template <class T>
void default_init(Param<T>& w, Param<T>* b, std::mt19937_64& rng) {
    // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
    int64_t fan_in = 1;
    for (size_t a = 1; a < w.value.shape.size(); ++a) fan_in *= w.value.shape[a];
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    uniform_fill(w.value, bound, rng);
    if (b) uniform_fill(b->value, bound, rng);
}

// The passes both convolution layers share. `run` is the library's forward of the layer's kind; `data` and
// `weights` its two gradients. backward gives dx and adds dW (and db) into the parameters' gradients.
template <class T, class Run>
Tensor<T> layer_forward(const Problem& p, const Tensor<T>& x, Tensor<T>& cache, Param<T>& weight, Param<T>* bias,
                        const Options& opt, Run run) {
    cache = x;
    Tensor<T> y(p.dst_shape());
    run(p, x.view(), weight.value.view(), bias ? View<const T>(bias->value.view()) : View<const T>{}, y.view(), opt);
    return y;
}

template <class T, class MakeProblem, class Data, class Weights>
Tensor<T> layer_backward(const std::string& layer, MakeProblem make_problem, const Tensor<T>& x, const Tensor<T>& dy,
                         Param<T>& weight, Param<T>* bias, const Options& opt, Data data, Weights weights) {
    if (x.data.empty()) throw Error(layer + ": backward() needs a forward() first");
    const Problem p = make_problem(x.shape);
    if (dy.shape != p.dst_shape())
        throw Error(cat(layer, ": the output gradient has shape ", tuple(dy.shape), "; the output has ", tuple(p.dst_shape())));
    Tensor<T> dx(x.shape), dw(weight.value.shape), db(bias ? bias->value.shape : Dims{0});
    data(p, dy.view(), weight.value.view(), dx.view(), opt);
    weights(p, x.view(), dy.view(), dw.view(), bias ? db.view() : View<T>{}, opt);
    accumulate(weight.grad, dw);
    if (bias) accumulate(bias->grad, db);
    return dx;
}

template <class T>
Param<T> make_param(const char* name, const Dims& shape) {
    Param<T> p;
    p.name = name;
    p.value = Tensor<T>(shape);
    p.grad = Tensor<T>(shape);
    return p;
}

std::string conv_describe(const char* kind, const ConvSpec& s, bool transposed) {
    std::ostringstream os;
    const auto full = [&](const Dims& d) { return tuple(broadcast(d, s.rank, "parameter")); };
    os << kind << s.rank << "d(" << s.in_channels << ", " << s.out_channels << ", kernel_size=" << full(s.kernel_size)
       << ", stride=" << full(s.stride);
    if (broadcast(s.padding, s.rank, "padding") != Dims(s.rank, 0)) os << ", padding=" << full(s.padding);
    if (transposed && broadcast(s.output_padding, s.rank, "output_padding") != Dims(s.rank, 0))
        os << ", output_padding=" << full(s.output_padding);
    if (broadcast(s.dilation, s.rank, "dilation") != Dims(s.rank, 1)) os << ", dilation=" << full(s.dilation);
    if (s.groups != 1) os << ", groups=" << s.groups;
    if (!s.bias) os << ", bias=False";
    os << ")";
    return os.str();
}

}  // namespace

// ---------------------------------------------------------------- ConvTranspose

template <class T>
ConvTranspose<T>::ConvTranspose(const ConvSpec& spec, std::mt19937_64& rng, Options opt) : spec_(spec), opt_(std::move(opt)) {
    check_spec(spec_, "ConvTranspose");
    Dims ws{spec_.in_channels, spec_.out_channels / spec_.groups};
    for (int64_t k : broadcast(spec_.kernel_size, spec_.rank, "kernel_size")) ws.push_back(k);
    weight = make_param<T>("weight", ws);
    if (spec_.bias) bias = make_param<T>("bias", {spec_.out_channels});
    Dims probe{1, spec_.in_channels};
    probe.resize(static_cast<size_t>(spec_.rank) + 2, 1);
    problem(probe);  // validates the settings once (stride, padding, output padding, dilation)
    default_init(weight, spec_.bias ? &bias : nullptr, rng);
}

template <class T>
Problem ConvTranspose<T>::problem(const Dims& x) const {
    check_input(x, spec_, "ConvTranspose");
    return pytorch_problem(x[0], spec_.in_channels, spec_.out_channels, Dims(x.begin() + 2, x.end()), spec_.kernel_size,
                           spec_.stride, spec_.padding, spec_.output_padding, spec_.groups, spec_.dilation, spec_.bias);
}

template <class T>
std::string ConvTranspose<T>::describe() const { return conv_describe("ConvTranspose", spec_, true); }

template <class T>
Tensor<T> ConvTranspose<T>::forward(const Tensor<T>& x) {
    return layer_forward(problem(x.shape), x, x_, weight, spec_.bias ? &bias : nullptr, opt_, conv_transpose<T>);
}

template <class T>
Tensor<T> ConvTranspose<T>::backward(const Tensor<T>& dy) {
    return layer_backward(std::string("ConvTranspose"), [this](const Dims& d) { return problem(d); }, x_, dy, weight,
                          spec_.bias ? &bias : nullptr, opt_, conv_transpose_backward_data<T>, conv_transpose_backward_weights<T>);
}

template <class T>
std::vector<Param<T>*> ConvTranspose<T>::params() {
    if (spec_.bias) return {&weight, &bias};
    return {&weight};
}

template <class T>
void ConvTranspose<T>::init_bilinear() {
    const int64_t icg = spec_.in_channels / spec_.groups, ocg = spec_.out_channels / spec_.groups;
    if (icg != ocg)
        throw Error(cat("ConvTranspose: the bilinear initialisation maps each input channel to one output channel; it needs "
                        "in_channels/groups (", icg, ") == out_channels/groups (", ocg, ")"));
    const Dims s = broadcast(spec_.stride, spec_.rank, "stride"), k = broadcast(spec_.kernel_size, spec_.rank, "kernel_size");
    for (int a = 0; a < spec_.rank; ++a)
        if (s[a] != s[0] || k[a] != 2 * s[0] - s[0] % 2)
            throw Error(cat("ConvTranspose: the bilinear initialisation needs one stride f on every axis and kernel_size 2f - f%2 = ",
                            2 * s[0] - s[0] % 2, "; the layer has stride ", tuple(s), ", kernel_size ", tuple(k)));
    const auto filt = upsample::bilinear_kernel(s[0], spec_.rank);
    std::fill(weight.value.data.begin(), weight.value.data.end(), T(0));
    const int64_t kp = static_cast<int64_t>(filt.size());
    for (int64_t c = 0; c < spec_.in_channels; ++c)
        for (size_t t = 0; t < filt.size(); ++t)
            weight.value.data[static_cast<size_t>((c * ocg + c % icg) * kp) + t] = static_cast<T>(filt[t]);
    if (spec_.bias) std::fill(bias.value.data.begin(), bias.value.data.end(), T(0));
}

// ---------------------------------------------------------------- Conv

template <class T>
Conv<T>::Conv(const ConvSpec& spec, std::mt19937_64& rng, Options opt) : spec_(spec), opt_(std::move(opt)) {
    check_spec(spec_, "Conv");
    Dims ws{spec_.out_channels, spec_.in_channels / spec_.groups};
    for (int64_t k : broadcast(spec_.kernel_size, spec_.rank, "kernel_size")) ws.push_back(k);
    weight = make_param<T>("weight", ws);
    if (spec_.bias) bias = make_param<T>("bias", {spec_.out_channels});
    default_init(weight, spec_.bias ? &bias : nullptr, rng);
}

template <class T>
Problem Conv<T>::problem(const Dims& x) const {
    check_input(x, spec_, "Conv");
    const int r = spec_.rank;
    Problem p;
    p.kind = Kind::conv;
    p.mb = x[0];
    p.ic = spec_.in_channels;
    p.oc = spec_.out_channels;
    p.g = spec_.groups;
    p.i = Dims(x.begin() + 2, x.end());
    p.k = broadcast(spec_.kernel_size, r, "kernel_size");
    p.s = broadcast(spec_.stride, r, "stride");
    p.pb = p.pe = broadcast(spec_.padding, r, "padding");
    p.d = broadcast(spec_.dilation, r, "dilation");
    p.op = Dims(r, 0);
    p.bias = spec_.bias;
    p.validate();
    return p;
}

template <class T>
std::string Conv<T>::describe() const { return conv_describe("Conv", spec_, false); }

template <class T>
Tensor<T> Conv<T>::forward(const Tensor<T>& x) {
    return layer_forward(problem(x.shape), x, x_, weight, spec_.bias ? &bias : nullptr, opt_, conv<T>);
}

template <class T>
Tensor<T> Conv<T>::backward(const Tensor<T>& dy) {
    return layer_backward(std::string("Conv"), [this](const Dims& d) { return problem(d); }, x_, dy, weight,
                          spec_.bias ? &bias : nullptr, opt_, conv_backward_data<T>, conv_backward_weights<T>);
}

template <class T>
std::vector<Param<T>*> Conv<T>::params() {
    if (spec_.bias) return {&weight, &bias};
    return {&weight};
}

// ---------------------------------------------------------------- activations, upsampling

template <class T>
std::string Activation<T>::describe() const {
    switch (kind_) {
        case ActKind::relu: return "ReLU()";
        case ActKind::leaky_relu: return "LeakyReLU(negative_slope=" + std::to_string(slope_) + ")";
        case ActKind::tanh: return "Tanh()";
        case ActKind::sigmoid: return "Sigmoid()";
    }
    return "?";
}

template <class T>
Tensor<T> Activation<T>::forward(const Tensor<T>& x) {
    x_ = x;
    Tensor<T> y = x;
    const T a = static_cast<T>(slope_);
    for (T& v : y.data) {
        switch (kind_) {
            case ActKind::relu: v = v > 0 ? v : T(0); break;
            case ActKind::leaky_relu: v = v > 0 ? v : a * v; break;
            case ActKind::tanh: v = std::tanh(v); break;
            case ActKind::sigmoid: v = T(1) / (T(1) + std::exp(-v)); break;
        }
    }
    y_ = y;
    return y;
}

template <class T>
Tensor<T> Activation<T>::backward(const Tensor<T>& dy) {
    if (dy.shape != y_.shape) throw Error(cat(describe(), ": the output gradient has shape ", tuple(dy.shape), "; the output has ", tuple(y_.shape)));
    Tensor<T> dx = dy;
    const T a = static_cast<T>(slope_);
    for (size_t i = 0; i < dx.data.size(); ++i) {
        const T x = x_.data[i], y = y_.data[i];
        switch (kind_) {  // PyTorch's derivatives: relu' = (x > 0), leaky' = (x > 0 ? 1 : slope)
            case ActKind::relu: dx.data[i] = x > 0 ? dx.data[i] : T(0); break;
            case ActKind::leaky_relu: dx.data[i] = x > 0 ? dx.data[i] : a * dx.data[i]; break;
            case ActKind::tanh: dx.data[i] *= T(1) - y * y; break;
            case ActKind::sigmoid: dx.data[i] *= y * (T(1) - y); break;
        }
    }
    return dx;
}

template <class T>
Upsample<T>::Upsample(int64_t factor, upsample::Mode mode, bool align) : factor_(factor), mode_(mode), align_(align) {
    if (factor <= 0) throw Error(cat("Upsample: scale_factor=", factor, " must be a positive integer"));
    if (mode == upsample::Mode::cubic) throw Error("Upsample: mode bicubic is not offered as a layer; use nearest or bilinear");
}

template <class T>
std::string Upsample<T>::describe() const {
    return cat("Upsample(scale_factor=", factor_, ".0, mode='", mode_ == upsample::Mode::nearest ? "nearest" : "bilinear", "'",
               align_ ? ", align_corners=True" : "", ")");
}

template <class T>
Tensor<T> Upsample<T>::forward(const Tensor<T>& x) {
    if (x.shape.size() < 3) throw Error(cat("Upsample: the input has shape ", tuple(x.shape), "; expected (N, C, spatial...)"));
    in_ = Dims(x.shape.begin() + 2, x.shape.end());
    Dims out = in_;
    for (auto& v : out) v = detail::mul(v, factor_, "Upsample output size");
    Tensor<T> y = upsample::interpolate<T>(x.view(), out, mode_, align_);
    out_ = y.shape;
    return y;
}

template <class T>
Tensor<T> Upsample<T>::backward(const Tensor<T>& dy) {
    if (in_.empty()) throw Error("Upsample: backward() needs a forward() first");
    if (dy.shape != out_) throw Error(cat("Upsample: the output gradient has shape ", tuple(dy.shape), "; the output has ", tuple(out_)));
    return upsample::interpolate_backward<T>(dy.view(), in_, mode_, align_);
}

template <class T>
PixelShuffle<T>::PixelShuffle(int64_t r) : r_(r) {
    if (r <= 0) throw Error(cat("PixelShuffle: upscale_factor=", r, " must be positive"));
}

template <class T>
std::string PixelShuffle<T>::describe() const { return cat("PixelShuffle(upscale_factor=", r_, ")"); }

template <class T>
Tensor<T> PixelShuffle<T>::forward(const Tensor<T>& x) {
    Tensor<T> y = upsample::pixel_shuffle<T>(x.view(), r_);
    out_ = y.shape;
    return y;
}

template <class T>
Tensor<T> PixelShuffle<T>::backward(const Tensor<T>& dy) {
    if (out_.empty()) throw Error("PixelShuffle: backward() needs a forward() first");
    if (dy.shape != out_) throw Error(cat("PixelShuffle: the output gradient has shape ", tuple(dy.shape), "; the output has ", tuple(out_)));
    return upsample::pixel_unshuffle<T>(dy.view(), r_);
}

// ---------------------------------------------------------------- Sequential

template <class T>
Sequential<T>& Sequential<T>::add(std::unique_ptr<Layer<T>> layer) {
    layers_.push_back(std::move(layer));
    return *this;
}

template <class T>
Tensor<T> Sequential<T>::forward(const Tensor<T>& x) {
    Tensor<T> h = x;
    for (auto& l : layers_) h = l->forward(h);
    return h;
}

template <class T>
Tensor<T> Sequential<T>::backward(const Tensor<T>& dy) {
    Tensor<T> g = dy;
    for (size_t i = layers_.size(); i-- > 0;) g = layers_[i]->backward(g);
    return g;
}

template <class T>
void Sequential<T>::zero_grad() {
    for (auto& [n, p] : named_params()) std::fill(p->grad.data.begin(), p->grad.data.end(), T(0));
}

template <class T>
std::vector<std::pair<std::string, Param<T>*>> Sequential<T>::named_params() {
    std::vector<std::pair<std::string, Param<T>*>> r;
    for (size_t i = 0; i < layers_.size(); ++i)
        for (Param<T>* p : layers_[i]->params()) r.emplace_back(std::to_string(i) + "." + p->name, p);
    return r;
}

template <class T>
int64_t Sequential<T>::param_count() {
    int64_t n = 0;
    for (auto& [name, p] : named_params()) n += p->value.size();
    return n;
}

template <class T>
std::string Sequential<T>::describe() const {
    std::string s = "Sequential(\n";
    for (size_t i = 0; i < layers_.size(); ++i) s += "  (" + std::to_string(i) + "): " + layers_[i]->describe() + "\n";
    return s + ")";
}

template <class T>
std::vector<Param<T>*> parameters(Sequential<T>& model) {
    std::vector<Param<T>*> r;
    for (auto& [n, p] : model.named_params()) r.push_back(p);
    return r;
}

// ---------------------------------------------------------------- losses

namespace {
template <class T>
void check_pair(const Tensor<T>& p, const Tensor<T>& t, const char* loss) {
    if (p.shape != t.shape) throw Error(cat(loss, ": the prediction has shape ", tuple(p.shape), " but the target ", tuple(t.shape)));
    if (p.data.empty()) throw Error(cat(loss, ": empty tensors"));
}
}  // namespace

template <class T>
Loss<T> mse_loss(const Tensor<T>& p, const Tensor<T>& t) {
    check_pair(p, t, "mse_loss");
    Loss<T> l;
    l.grad = Tensor<T>(p.shape);
    const double n = static_cast<double>(p.data.size());
    double sum = 0;
    for (size_t i = 0; i < p.data.size(); ++i) {
        const double d = static_cast<double>(p.data[i]) - static_cast<double>(t.data[i]);
        sum += d * d;
        l.grad.data[i] = static_cast<T>(2.0 * d / n);
    }
    l.value = sum / n;
    return l;
}

template <class T>
Loss<T> l1_loss(const Tensor<T>& p, const Tensor<T>& t) {
    check_pair(p, t, "l1_loss");
    Loss<T> l;
    l.grad = Tensor<T>(p.shape);
    const double n = static_cast<double>(p.data.size());
    double sum = 0;
    for (size_t i = 0; i < p.data.size(); ++i) {
        const double d = static_cast<double>(p.data[i]) - static_cast<double>(t.data[i]);
        sum += std::fabs(d);
        l.grad.data[i] = static_cast<T>((d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) / n);
    }
    l.value = sum / n;
    return l;
}

// ---------------------------------------------------------------- optimisers

template <class T>
SGD<T>::SGD(std::vector<Param<T>*> params, double lr, double momentum, double dampening, double weight_decay, bool nesterov)
    : params_(std::move(params)), lr_(lr), momentum_(momentum), dampening_(dampening), weight_decay_(weight_decay), nesterov_(nesterov) {
    if (!(lr >= 0)) throw Error(cat("SGD: lr=", lr, " must not be negative"));
    if (!(momentum >= 0)) throw Error(cat("SGD: momentum=", momentum, " must not be negative"));
    if (nesterov && (momentum <= 0 || dampening != 0)) throw Error("SGD: nesterov needs a momentum and zero dampening");
    for (auto* p : params_) buf_.emplace_back(p->value.data.size(), T(0));
}

template <class T>
void SGD<T>::step() {
    for (size_t k = 0; k < params_.size(); ++k) {
        auto& v = params_[k]->value.data;
        const auto& gr = params_[k]->grad.data;
        auto& b = buf_[k];
        for (size_t i = 0; i < v.size(); ++i) {
            T g = gr[i];
            if (weight_decay_ != 0) g += static_cast<T>(weight_decay_) * v[i];
            if (momentum_ != 0) {
                b[i] = started_ ? static_cast<T>(momentum_) * b[i] + static_cast<T>(1 - dampening_) * g : g;
                g = nesterov_ ? g + static_cast<T>(momentum_) * b[i] : b[i];
            }
            v[i] -= static_cast<T>(lr_) * g;
        }
    }
    started_ = true;
}

template <class T>
void SGD<T>::zero_grad() {
    for (auto* p : params_) std::fill(p->grad.data.begin(), p->grad.data.end(), T(0));
}

template <class T>
Adam<T>::Adam(std::vector<Param<T>*> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : params_(std::move(params)), lr_(lr), b1_(beta1), b2_(beta2), eps_(eps), wd_(weight_decay) {
    if (!(lr >= 0)) throw Error(cat("Adam: lr=", lr, " must not be negative"));
    if (!(beta1 >= 0 && beta1 < 1)) throw Error(cat("Adam: beta1=", beta1, " must lie in [0, 1)"));
    if (!(beta2 >= 0 && beta2 < 1)) throw Error(cat("Adam: beta2=", beta2, " must lie in [0, 1)"));
    if (!(eps >= 0)) throw Error(cat("Adam: eps=", eps, " must not be negative"));
    for (auto* p : params_) {
        m_.emplace_back(p->value.data.size(), T(0));
        v_.emplace_back(p->value.data.size(), T(0));
    }
}

template <class T>
void Adam<T>::step() {
    ++t_;
    const double bc1 = 1 - std::pow(b1_, static_cast<double>(t_)), bc2 = 1 - std::pow(b2_, static_cast<double>(t_));
    const T step_size = static_cast<T>(lr_ / bc1), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
    const T b1 = static_cast<T>(b1_), b2 = static_cast<T>(b2_), eps = static_cast<T>(eps_), wd = static_cast<T>(wd_);
    for (size_t k = 0; k < params_.size(); ++k) {
        auto& v = params_[k]->value.data;
        const auto& gr = params_[k]->grad.data;
        auto& m = m_[k];
        auto& s = v_[k];
        for (size_t i = 0; i < v.size(); ++i) {
            T g = gr[i];
            if (wd_ != 0) g += wd * v[i];
            m[i] = b1 * m[i] + (T(1) - b1) * g;
            s[i] = b2 * s[i] + (T(1) - b2) * g * g;
            const T denom = std::sqrt(s[i]) / bc2_sqrt + eps;
            v[i] -= step_size * m[i] / denom;
        }
    }
}

template <class T>
void Adam<T>::zero_grad() {
    for (auto* p : params_) std::fill(p->grad.data.begin(), p->grad.data.end(), T(0));
}

#define TCONV_NN_INSTANTIATE(T)                                                  \
    template class ConvTranspose<T>;                                             \
    template class Conv<T>;                                                      \
    template class Activation<T>;                                                \
    template class Upsample<T>;                                                  \
    template class PixelShuffle<T>;                                              \
    template class Sequential<T>;                                                \
    template class SGD<T>;                                                       \
    template class Adam<T>;                                                      \
    template Loss<T> mse_loss<T>(const Tensor<T>&, const Tensor<T>&);            \
    template Loss<T> l1_loss<T>(const Tensor<T>&, const Tensor<T>&);             \
    template std::vector<Param<T>*> parameters<T>(Sequential<T>&);
TCONV_NN_INSTANTIATE(float)
TCONV_NN_INSTANTIATE(double)

}  // namespace tconv::nn
