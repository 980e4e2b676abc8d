// Every worked example of the seeds whose inputs are given in full, through every algorithm that
// supports it, in float32 and float64.
#include <algorithm>

#include "test_util.hpp"

namespace tconv::test {
namespace {

template <class T>
void expect_all_algorithms(const Problem& p, const Tensor<T>& src, const Tensor<T>& wei, const std::vector<T>& expected) {
    // Every algorithm supports a seed example, except dense, which is made for 1x1 inputs only, and period,
    // which needs kernels a whole number of strides long.
    const auto names = supporting(p, Direction::forward);
    bool periods = true;
    for (int a = 0; a < p.rank(); ++a) periods = periods && p.k[a] % p.s[a] == 0;
    const size_t general = algorithms().size() - (std::all_of(p.i.begin(), p.i.end(), [](int64_t x) { return x == 1; }) ? 0 : 1) -
                           (periods ? 0 : 1);
    ASSERT_EQ(names.size(), general) << p.str() << ": every algorithm should support a seed example";
    for (const auto& name : names) {
        const Tensor<T> dst = forward<T>(p, src, wei, nullptr, name);
        EXPECT_EQ(dst.data, expected) << p.str() << " algorithm=" << name;
    }
}

template <class T>
class Seeds : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Seeds, Types);

// Seed 000, 1-D: [2,3] distributed by [1,2,3] with stride 2 -> [2,4,9,6,9].
TYPED_TEST(Seeds, Seed000_1D) {
    using T = TypeParam;
    const Problem p = pytorch_problem(1, 1, 1, {2}, {3}, {2});
    EXPECT_EQ(p.o(), Dims{5});
    expect_all_algorithms<T>(p, make<T>({1, 1, 2}, {2, 3}), make<T>({1, 1, 3}, {1, 2, 3}), {2, 4, 9, 6, 9});
}

// Seed 000, 2-D: stride 2, padding 1. The full 5x5 output, then carved to 3x3.
TYPED_TEST(Seeds, Seed000_2D) {
    using T = TypeParam;
    const auto src = make<T>({1, 1, 2, 2}, {1, 2, 3, 4});
    const auto wei = make<T>({1, 1, 3, 3}, {1, 1, 1, 0, 0, 0, -1, -1, -1});
    const Problem full = pytorch_problem(1, 1, 1, {2, 2}, {3}, {2}, {0});
    expect_all_algorithms<T>(full, src, wei,
                             {1, 1, 3, 2, 2,      //
                              0, 0, 0, 0, 0,      //
                              2, 2, 4, 2, 2,      //
                              0, 0, 0, 0, 0,      //
                              -3, -3, -7, -4, -4});
    const Problem carved = pytorch_problem(1, 1, 1, {2, 2}, {3}, {2}, {1});
    EXPECT_EQ(carved.str(), "mb1_ic1_oc1_i2x2_k3_s2_p1");
    expect_all_algorithms<T>(carved, src, wei, {0, 0, 0, 2, 4, 2, 0, 0, 0});
}

// Seed 003: a 4x4 input of ones and a 3x3 kernel of ones give the overlap counts (edges get less).
TYPED_TEST(Seeds, Seed003_OnesOverlap) {
    using T = TypeParam;
    const Problem p = pytorch_problem(1, 1, 1, {4, 4}, {3});
    expect_all_algorithms<T>(p, Tensor<T>({1, 1, 4, 4}, T(1)), Tensor<T>({1, 1, 3, 3}, T(1)),
                             {1, 2, 3, 3, 2, 1,  //
                              2, 4, 6, 6, 4, 2,  //
                              3, 6, 9, 9, 6, 3,  //
                              3, 6, 9, 9, 6, 3,  //
                              2, 4, 6, 6, 4, 2,  //
                              1, 2, 3, 3, 2, 1});
}

// Seed 003's padding table: padding 0, 1, 2 give 6x6, 4x4, 2x2, each the centre of the unpadded output.
TYPED_TEST(Seeds, Seed003_PaddingTable) {
    using T = TypeParam;
    const auto src = small_ints<T>({1, 1, 4, 4}, 3);
    const auto wei = small_ints<T>({1, 1, 3, 3}, 4);
    const Tensor<T> full = forward<T>(pytorch_problem(1, 1, 1, {4, 4}, {3}), src, wei, nullptr, "scatter");
    const int64_t sizes[] = {6, 4, 2};
    for (int64_t pad = 0; pad <= 2; ++pad) {
        const Problem p = pytorch_problem(1, 1, 1, {4, 4}, {3}, {1}, {pad});
        ASSERT_EQ(p.o(), (Dims{sizes[pad], sizes[pad]}));
        std::vector<T> centre;
        for (int64_t r = pad; r < 6 - pad; ++r)
            for (int64_t c = pad; c < 6 - pad; ++c) centre.push_back(full.data[r * 6 + c]);
        expect_all_algorithms<T>(p, src, wei, centre);
    }
    // Too much padding empties the output: an error, not an empty tensor.
    EXPECT_THROW(pytorch_problem(1, 1, 1, {4, 4}, {3}, {1}, {3}), Error);
}

// Seed 003, stride 2 on a 2x2 input with a 3x3 kernel gives a 5x5 output (its 'SEDIRTS' figure).
TEST(Seeds, Seed003_StrideShape) {
    EXPECT_EQ(pytorch_problem(1, 1, 1, {2, 2}, {3}, {2}).o(), (Dims{5, 5}));
    // Its multi-channel figure: 3 input channels of 5x5 and a 3x3 kernel per channel give 7x7.
    EXPECT_EQ(pytorch_problem(1, 3, 1, {5, 5}, {3}).o(), (Dims{7, 7}));
}

}  // namespace
}  // namespace tconv::test
