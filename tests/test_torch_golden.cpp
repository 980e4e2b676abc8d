// PyTorch's own results (forward and autograd gradients, float64), frozen by tests/data/make_torch_cases.py:
// every algorithm must reproduce them, which pins the conventions (weight layout, padding, output padding,
// output_size, dilation, groups) to PyTorch's.
#include <cmath>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace tconv::test {
namespace {

Tensor<double> load(const std::string& prefix, const std::string& what) {
    const auto a = npy::load(data_path("data/torch/" + prefix + "." + what + ".npy"));
    EXPECT_EQ(a.dtype, npy::DType::f64);
    Tensor<double> t;
    t.shape = a.shape;
    t.data = a.f64;
    return t;
}

void expect_close(const Tensor<double>& got, const Tensor<double>& want, const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    for (size_t j = 0; j < want.data.size(); ++j)
        ASSERT_NEAR(got.data[j], want.data[j], 1e-12 * (1 + std::fabs(want.data[j]))) << what << " element " << j;
}

TEST(TorchGolden, ForwardAndGradientsThroughEveryAlgorithm) {
    std::ifstream f(data_path("data/torch/manifest.txt"));
    std::string line;
    int cases = 0;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::stringstream ss(line);
        std::string prob, osize, prefix;
        std::getline(ss, prob, '|');
        std::getline(ss, osize, '|');
        std::getline(ss, prefix, '|');
        Problem p = Problem::parse(prob);
        if (!osize.empty()) {
            Dims sizes;
            std::stringstream os(osize);
            std::string v;
            while (std::getline(os, v, ',')) sizes.push_back(std::stoll(v));
            p = with_output_size(p, sizes);
        }
        const auto x = load(prefix, "x"), w = load(prefix, "w"), y = load(prefix, "y"), gy = load(prefix, "gy");
        Tensor<double> b, gb;
        if (p.bias) b = load(prefix, "b"), gb = load(prefix, "gb");
        const std::string name = prefix + " " + p.str();
        for (const auto& a : supporting(p, Direction::forward))
            expect_close(forward<double>(p, x, w, p.bias ? &b : nullptr, a), y, name + " forward " + a);
        for (const auto& a : supporting(p, Direction::backward_data))
            expect_close(backward_data<double>(p, gy, w, a), load(prefix, "gx"), name + " grad_input " + a);
        for (const auto& a : supporting(p, Direction::backward_weights)) {
            const auto [gw, gbias] = backward_weights<double>(p, x, gy, a);
            expect_close(gw, load(prefix, "gw"), name + " grad_weight " + a);
            if (p.bias) expect_close(gbias, gb, name + " grad_bias " + a);
        }
        ++cases;
    }
    EXPECT_GE(cases, 8);
}

}  // namespace
}  // namespace tconv::test
