// Small neural networks on tconv: layers with forward and backward passes, a sequential model, losses and
// optimisers with PyTorch's update rules, and weights in .npz files under PyTorch's state_dict names, so
// the same model loads into torch.nn.Sequential. T is float or double (double for gradient checks).
//
// Layers take (N, C, spatial...) tensors of any rank. forward() keeps what backward() needs; backward()
// takes dL/dy, adds dL/dparameter into each parameter's grad (as PyTorch accumulates) and returns dL/dx.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tconv/npy.hpp"
#include "tconv/ops.hpp"
#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"
#include "tconv/upsample.hpp"

namespace tconv::nn {

template <class T>
struct Param {
    std::string name;   // "weight" or "bias"
    Tensor<T> value, grad;
};

template <class T>
class Layer {
public:
    virtual ~Layer() = default;
    virtual std::string describe() const = 0;  // e.g. "ConvTranspose2d(16, 1, kernel_size=(3, 3), stride=(2, 2))"
    virtual Tensor<T> forward(const Tensor<T>& x) = 0;
    virtual Tensor<T> backward(const Tensor<T>& dy) = 0;
    virtual std::vector<Param<T>*> params() { return {}; }
};

// A convolution layer's settings, as torch.nn.Conv{1,2,3}d / ConvTranspose{1,2,3}d take them. Per-axis
// fields hold one value (every axis) or `rank` values. padding is symmetric; output_padding is for the
// transposed convolution only.
struct ConvSpec {
    int rank = 2;
    int64_t in_channels = 1, out_channels = 1;
    Dims kernel_size{3}, stride{1}, padding{0}, output_padding{0}, dilation{1};
    int64_t groups = 1;
    bool bias = true;
};

// PyTorch's default initialisation of both convolutions (kaiming_uniform_ with a = sqrt(5)): weights and
// bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = weight.shape[1] * prod(kernel_size).
template <class T>
class ConvTranspose : public Layer<T> {
public:
    ConvTranspose(const ConvSpec& spec, std::mt19937_64& rng, Options opt = {});
    std::string describe() const override;
    Tensor<T> forward(const Tensor<T>& x) override;
    Tensor<T> backward(const Tensor<T>& dy) override;
    std::vector<Param<T>*> params() override;
    // FCN's initialisation: the bilinear upsampling kernel (upsample::bilinear_kernel of factor `stride`)
    // from each input channel to the output channel of the same index within its group, zeros elsewhere
    // (needs in_channels/groups == out_channels/groups); bias zero.
    void init_bilinear();
    Problem problem(const Dims& x_shape) const;
    const ConvSpec& spec() const { return spec_; }
    Param<T> weight, bias;  // weight (in, out/groups, k...), bias (out) when spec.bias

private:
    ConvSpec spec_;
    Options opt_;
    Tensor<T> x_;
};

template <class T>
class Conv : public Layer<T> {
public:
    Conv(const ConvSpec& spec, std::mt19937_64& rng, Options opt = {});
    std::string describe() const override;
    Tensor<T> forward(const Tensor<T>& x) override;
    Tensor<T> backward(const Tensor<T>& dy) override;
    std::vector<Param<T>*> params() override;
    Problem problem(const Dims& x_shape) const;
    const ConvSpec& spec() const { return spec_; }
    Param<T> weight, bias;  // weight (out, in/groups, k...), bias (out)

private:
    ConvSpec spec_;
    Options opt_;
    Tensor<T> x_;
};

enum class ActKind { relu, leaky_relu, tanh, sigmoid };

template <class T>
class Activation : public Layer<T> {
public:
    explicit Activation(ActKind kind, double negative_slope = 0.01) : kind_(kind), slope_(negative_slope) {}
    std::string describe() const override;
    Tensor<T> forward(const Tensor<T>& x) override;
    Tensor<T> backward(const Tensor<T>& dy) override;

private:
    ActKind kind_;
    double slope_;
    Tensor<T> x_, y_;
};

// nn.Upsample(scale_factor=factor, mode=nearest | bilinear/linear/trilinear, align_corners).
template <class T>
class Upsample : public Layer<T> {
public:
    Upsample(int64_t factor, upsample::Mode mode, bool align_corners = false);
    std::string describe() const override;
    Tensor<T> forward(const Tensor<T>& x) override;
    Tensor<T> backward(const Tensor<T>& dy) override;

private:
    int64_t factor_;
    upsample::Mode mode_;
    bool align_;
    Dims in_, out_;  // the last forward's input and output shapes
};

// nn.PixelShuffle(r).
template <class T>
class PixelShuffle : public Layer<T> {
public:
    explicit PixelShuffle(int64_t r);
    std::string describe() const override;
    Tensor<T> forward(const Tensor<T>& x) override;
    Tensor<T> backward(const Tensor<T>& dy) override;

private:
    int64_t r_;
    Dims out_;  // the last forward's output shape
};

// nn.Sequential: parameter names are "<index>.weight" and "<index>.bias", as PyTorch names them.
template <class T>
class Sequential {
public:
    Sequential& add(std::unique_ptr<Layer<T>> layer);
    template <class L, class... A>
    L& emplace(A&&... a) {
        auto l = std::make_unique<L>(std::forward<A>(a)...);
        L& ref = *l;
        add(std::move(l));
        return ref;
    }
    Tensor<T> forward(const Tensor<T>& x);
    Tensor<T> backward(const Tensor<T>& dy);
    void zero_grad();
    // (name, parameter) in PyTorch's state_dict order.
    std::vector<std::pair<std::string, Param<T>*>> named_params();
    int64_t param_count();
    size_t size() const { return layers_.size(); }
    Layer<T>& operator[](size_t i) { return *layers_[i]; }
    std::string describe() const;  // one line per layer, like print(model)

private:
    std::vector<std::unique_ptr<Layer<T>>> layers_;
};

// Losses (mean over every element, as PyTorch's default reduction): the value and dL/dprediction.
template <class T>
struct Loss {
    double value = 0;
    Tensor<T> grad;
};
template <class T>
Loss<T> mse_loss(const Tensor<T>& prediction, const Tensor<T>& target);
template <class T>
Loss<T> l1_loss(const Tensor<T>& prediction, const Tensor<T>& target);  // gradient sign(p - t), 0 at 0

// torch.optim.SGD: g = grad + weight_decay * p; with momentum, buf = g on the first step, then
// buf = momentum * buf + (1 - dampening) * g, and g = buf (or g + momentum * buf with nesterov); p -= lr * g.
template <class T>
class SGD {
public:
    SGD(std::vector<Param<T>*> params, double lr, double momentum = 0, double dampening = 0, double weight_decay = 0,
        bool nesterov = false);
    void step();
    void zero_grad();

private:
    std::vector<Param<T>*> params_;
    double lr_, momentum_, dampening_, weight_decay_;
    bool nesterov_;
    std::vector<std::vector<T>> buf_;
    bool started_ = false;
};

// torch.optim.Adam (amsgrad off): g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
template <class T>
class Adam {
public:
    Adam(std::vector<Param<T>*> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
         double weight_decay = 0);
    void step();
    void zero_grad();
    int64_t steps() const { return t_; }

private:
    std::vector<Param<T>*> params_;
    double lr_, b1_, b2_, eps_, wd_;
    std::vector<std::vector<T>> m_, v_;
    int64_t t_ = 0;
};

template <class T>
std::vector<Param<T>*> parameters(Sequential<T>& model);

// .npz files: a zip of .npy arrays, as numpy.savez writes them (stored; deflated archives from
// numpy.savez_compressed are read too). Names carry no ".npy" here. read_npz throws tconv::Error for
// anything that is not such an archive (truncated, bad CRC, unsupported compression, a member that is not
// a float32/float64 .npy), naming the file and what is wrong.
std::map<std::string, npy::Array> read_npz(const std::string& path);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, std::string>>& npy_members);

// The model's parameters as an .npz under state_dict names ("0.weight", ...), in T's dtype; torch loads it
// with model.load_state_dict({k: torch.from_numpy(v) for k, v in numpy.load(path).items()}).
template <class T>
void save_weights(const std::string& path, Sequential<T>& model);
// Loads every parameter; a missing or unexpected name, or a shape that differs, is an error naming it
// (and nothing is changed).
template <class T>
void load_weights(const std::string& path, Sequential<T>& model);

}  // namespace tconv::nn
