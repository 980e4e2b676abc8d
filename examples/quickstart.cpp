// The README's library example, compiled and run by ctest so it stays true: a PyTorch-style layer,
// forward and both gradients, and the error a user gets for a bad parameter.
#include <tconv/tconv.hpp>

#include <iostream>
#include <vector>

int main() {
    // torch.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
    const tconv::Problem p = tconv::pytorch_problem(/*mb*/ 1, /*ic*/ 4, /*oc*/ 2, /*in*/ {5, 5}, /*k*/ {3}, /*s*/ {2},
                                                    /*padding*/ {1}, /*output_padding*/ {1}, /*groups*/ 1,
                                                    /*dilation*/ {1}, /*bias*/ true);
    std::vector<float> x(p.src_elems(), 1.f), w(p.wei_elems(), 0.5f), b(p.oc, 0.25f), y(p.dst_elems());
    tconv::conv_transpose<float>(p, {x.data(), p.src_shape()}, {w.data(), p.wei_shape()}, {b.data(), {p.oc}},
                                 {y.data(), p.dst_shape()});
    std::cout << p.str() << " -> output " << tconv::dims_str(p.o()) << ", y[0] = " << y[0] << "\n";

    // Gradients: dy has the output's shape.
    std::vector<float> dy(p.dst_elems(), 1.f), dx(p.src_elems()), dw(p.wei_elems()), db(p.oc);
    tconv::conv_transpose_backward_data<float>(p, {dy.data(), p.dst_shape()}, {w.data(), p.wei_shape()},
                                               {dx.data(), p.src_shape()});
    tconv::conv_transpose_backward_weights<float>(p, {x.data(), p.src_shape()}, {dy.data(), p.dst_shape()},
                                                  {dw.data(), p.wei_shape()}, {db.data(), {p.oc}});
    std::cout << "db[0] = " << db[0] << " (the output has " << p.dst_elems() / p.oc << " positions per channel)\n";

    try {
        tconv::pytorch_problem(1, 4, 2, {5, 5}, {3}, {2}, {1}, {2});
    } catch (const tconv::Error& e) {
        std::cout << "error: " << e.what() << "\n";
    }
    // Output 0 is full position 1 (padding 1), reached only by input 0 through tap 1: 4 channels x 0.5, plus bias.
    return (y[0] == 4 * 0.5f + 0.25f && db[0] == float(p.dst_elems() / p.oc)) ? 0 : 1;
}
