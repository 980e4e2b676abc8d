// The identities that tie the mental models together, on every conformance problem they apply to:
//   <T x, y> = <x, T^T y> with T^T the regular convolution (seed 001);
//   the transposed convolution's input gradient IS that convolution, and the convolution's input gradient
//   IS the transposed convolution; weight, bias and input gradients against float64 finite differences.
#include <cmath>

#include "test_util.hpp"

namespace tconv::test {
namespace {

template <class T>
double dot(const Tensor<T>& a, const Tensor<T>& b) {
    double s = 0;
    for (size_t j = 0; j < a.data.size(); ++j) s += double(a.data[j]) * double(b.data[j]);
    return s;
}

// The regular convolution computed by conv_grad, whose loops are the convolution's own definition
// (y[j] = sum_k w[k] x[j*s - pb + k*d]), independent of the scatter reference used on the other side.
Options literal_conv() {
    Options o;
    o.algorithm = "conv_grad";
    return o;
}

// Problems whose adjoint is a regular convolution with the same parameters (op < s, pads >= 0).
std::vector<Problem> adjointable() {
    std::vector<Problem> r;
    for (const auto& s : read_shapes("conformance.txt")) {
        Problem p = Problem::parse(s);
        bool ok = true;
        for (int a = 0; a < p.rank(); ++a) ok = ok && p.op[a] < p.s[a] && p.pb[a] >= 0 && p.pe[a] >= 0;
        if (ok) r.push_back(p);
    }
    return r;
}

TEST(Identities, AdjointInnerProduct) {
    const auto problems = adjointable();
    ASSERT_GT(problems.size(), 20u);
    for (const Problem& p : problems) {
        Problem nb = p;
        nb.bias = false;  // the bias is affine, not linear
        const Problem q = nb.adjoint();
        ASSERT_EQ(q.kind, Kind::conv);
        const auto x = uniform<double>(nb.src_shape(), 1), w = uniform<double>(nb.wei_shape(), 2);
        const auto y = uniform<double>(nb.dst_shape(), 3);
        const auto tx = forward<double>(nb, x, w, nullptr, "scatter");
        Tensor<double> cy(q.dst_shape());
        conv<double>(q, y.view(), w.view(), {}, cy.view(), literal_conv());
        const double lhs = dot(tx, y), rhs = dot(x, cy);
        EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::fabs(lhs))) << nb.str();
    }
}

TEST(Identities, GradientIsTheConvolution) {
    for (const Problem& p0 : adjointable()) {
        Problem p = p0;
        p.bias = false;
        const Problem q = p.adjoint();
        const auto w = small_ints<float>(p.wei_shape(), 5);
        // T's input gradient == conv forward of the output gradient.
        const auto dy = small_ints<float>(p.dst_shape(), 6);
        Tensor<float> cy(q.dst_shape());
        conv<float>(q, dy.view(), w.view(), {}, cy.view(), literal_conv());
        EXPECT_EQ(backward_data<float>(p, dy, w, "scatter").data, cy.data) << p.str();
        // conv's input gradient == T forward.
        const auto x = small_ints<float>(p.src_shape(), 7);
        Tensor<float> cx(q.src_shape());
        conv_backward_data<float>(q, x.view(), w.view(), cx.view(), literal_conv());
        EXPECT_EQ(forward<float>(p, x, w, nullptr, "scatter").data, cx.data) << p.str();
        // conv's weight gradient == T's weight gradient with the roles of the tensors exchanged.
        Tensor<float> cw(q.wei_shape());
        conv_backward_weights<float>(q, dy.view(), x.view(), cw.view(), {});
        EXPECT_EQ(backward_weights<float>(p, x, dy, "scatter").first.data, cw.data) << p.str();
    }
}

// L = sum(f(...)^2) / 2 for a forward f; dL/d(out) = out. Central differences are exact for a quadratic up
// to rounding, so float64 gradients must agree to ~1e-8 relative.
template <class Fwd>
double loss(Fwd&& f) {
    const Tensor<double> out = f();
    double s = 0;
    for (double v : out.data) s += v * v / 2;
    return s;
}

template <class Fwd>
void expect_fd(std::vector<double>& param, const std::vector<double>& grad, Fwd&& f, const std::string& what) {
    ASSERT_EQ(param.size(), grad.size());
    const double h = 1e-3;
    for (size_t j = 0; j < param.size(); ++j) {
        const double keep = param[j];
        param[j] = keep + h;
        const double up = loss(f);
        param[j] = keep - h;
        const double down = loss(f);
        param[j] = keep;
        const double fd = (up - down) / (2 * h);
        ASSERT_NEAR(grad[j], fd, 1e-7 * (1 + std::fabs(fd))) << what << " element " << j;
    }
}

TEST(Identities, FiniteDifferencesTransposed) {
    int checked = 0;
    for (const auto& s : read_shapes("conformance.txt")) {
        Problem p = Problem::parse(s);
        if (p.wei_elems() > 300 || p.src_elems() > 300) continue;
        p.bias = true;
        auto x = uniform<double>(p.src_shape(), 11), w = uniform<double>(p.wei_shape(), 12), b = uniform<double>({p.oc}, 13);
        auto f = [&] { return forward<double>(p, x, w, &b, "scatter"); };
        const auto y = f();  // dL/dy for L = |y|^2/2
        const auto [dw, db] = backward_weights<double>(p, x, y, "auto");
        expect_fd(w.data, dw.data, f, p.str() + " diff_wei");
        expect_fd(b.data, db.data, f, p.str() + " diff_bia");
        expect_fd(x.data, backward_data<double>(p, y, w, "auto").data, f, p.str() + " diff_src");
        ++checked;
    }
    EXPECT_GT(checked, 15);
}

TEST(Identities, FiniteDifferencesConvolution) {
    for (const Problem& p0 : adjointable()) {
        Problem q = p0.adjoint();
        if (q.wei_elems() > 300 || q.src_elems() > 300) continue;
        q.bias = true;
        auto x = uniform<double>(q.src_shape(), 21), w = uniform<double>(q.wei_shape(), 22), b = uniform<double>({q.oc}, 23);
        auto f = [&] {
            Tensor<double> y(q.dst_shape());
            conv<double>(q, x.view(), w.view(), b.view(), y.view());
            return y;
        };
        const auto y = f();
        Tensor<double> dx(q.src_shape()), dw(q.wei_shape()), db({q.oc});
        conv_backward_data<double>(q, y.view(), w.view(), dx.view());
        conv_backward_weights<double>(q, x.view(), y.view(), dw.view(), db.view());
        expect_fd(w.data, dw.data, f, q.str() + " diff_wei");
        expect_fd(b.data, db.data, f, q.str() + " diff_bia");
        expect_fd(x.data, dx.data, f, q.str() + " diff_src");
    }
}

}  // namespace
}  // namespace tconv::test
