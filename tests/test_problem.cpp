#include <functional>
// The problem description: output sizes, the canonical string, PyTorch's output_size, and every error
// of invalid input with its message.
#include <random>

#include "test_util.hpp"

namespace tconv::test {
namespace {

TEST(Problem, OutputSizeFormula) {
    // o = (i-1)*s - 2p + d*(k-1) + op + 1, PyTorch's documented formula.
    EXPECT_EQ(pytorch_problem(1, 1, 1, {4}, {3}, {2}, {1}, {1}).o(), Dims{8});
    EXPECT_EQ(pytorch_problem(1, 1, 1, {5}, {3}, {1}, {0}, {1}, 1, {2}).o(), Dims{10});
    EXPECT_EQ(pytorch_problem(1, 1, 1, {56, 56}, {2}, {2}).o(), (Dims{112, 112}));
    EXPECT_EQ(pytorch_problem(1, 1, 1, {64, 64}, {16}, {8}, {4}).o(), (Dims{512, 512}));
    EXPECT_EQ(pytorch_problem(1, 1, 1, {400}, {16}, {8}, {4}).o(), Dims{3200});
    // Regular convolution: floor((i + pb + pe - k_eff)/s) + 1, and its adjoint maps the size back.
    Problem c = Problem::parse("conv_mb1_ic1_oc1_i8_k3_s2_p1");
    EXPECT_EQ(c.o(), Dims{4});
    EXPECT_EQ(c.adjoint().str(), "mb1_ic1_oc1_i4_k3_s2_p1_op1");
    EXPECT_EQ(c.adjoint().o(), Dims{8});
    EXPECT_EQ(c.adjoint().adjoint(), c);
}

TEST(Problem, CanonicalStringRoundTrip) {
    const char* fixed[] = {"mb1_ic1_oc1_i2x2_k3_s2_p1", "mb16_ic1024_oc512_i4x4_k4_s2_p1",
                           "mb2_g4_ic4_oc8_i5x6x7_k3x1x2_s2x1x3_d1x2x1_pb0x1x2_pe2x1x0_op1x0x2_bias",
                           "conv_mb3_g2_ic4_oc6_i9_k3_s2_d2_p1_bias", "mb1_ic1_oc1_i3_k3_s3_pb0_pe-2"};
    for (const char* s : fixed) {
        EXPECT_EQ(Problem::parse(s).str(), s);
        Problem::parse(s).validate();
    }
    // Non-canonical spellings parse to the same problem.
    EXPECT_EQ(Problem::parse("ic1_oc1_k3x3_i2x2_p1x1_s2x2_g1_mb1_d1").str(), "mb1_ic1_oc1_i2x2_k3_s2_p1");
    EXPECT_EQ(Problem::parse("mb1_ic1_oc1_i4x4_k3_pb1_pe1").str(), "mb1_ic1_oc1_i4x4_k3_p1");
    // Random valid problems: parse(str(p)) == p.
    std::mt19937_64 rng(20261121);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    int checked = 0;
    for (int t = 0; t < 2000; ++t) {
        Problem p;
        p.kind = pick(0, 3) == 0 ? Kind::conv : Kind::transposed;
        const int r = static_cast<int>(pick(1, 4));
        p.mb = pick(1, 9);
        p.g = pick(1, 4);
        p.ic = p.g * pick(1, 5);
        p.oc = p.g * pick(1, 5);
        for (int a = 0; a < r; ++a) {
            p.i.push_back(pick(1, 20));
            p.k.push_back(pick(1, 5));
            p.s.push_back(pick(1, 4));
            p.d.push_back(pick(1, 3));
            p.pb.push_back(pick(p.kind == Kind::conv ? 0 : -2, 4));
            p.pe.push_back(pick(p.kind == Kind::conv ? 0 : -2, 4));
            p.op.push_back(p.kind == Kind::conv ? 0 : pick(0, std::max(p.s[a], p.d[a]) - 1));
        }
        p.bias = pick(0, 1);
        try {
            p.validate();
        } catch (const Error&) {
            continue;  // e.g. an empty output
        }
        ASSERT_EQ(Problem::parse(p.str()), p) << p.str();
        ++checked;
    }
    EXPECT_GT(checked, 1000);
}

TEST(Problem, ParseErrors) {
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2_k3_zz3"), "unknown field 'zz' in 'zz3'");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2_k3_k4"), "field 'k' given twice");
    EXPECT_ERROR(Problem::parse("mb1_oc1_i2_k3"), "missing field 'ic'");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_k3"), "missing field 'i'");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2x_k3"), "field 'i' has a malformed value '2x'");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2_k3_p1_pb1_pe1"), "either 'p' (symmetric) or 'pb' and 'pe'");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2x2_k3x3x3"), "k has 3 values (3,3,3) but the problem has 2 spatial axes");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2__k3"), "empty field");
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2_k3_bias2"), "field 'bias' takes no value");
    EXPECT_ERROR(Problem::parse("mb1x2_ic1_oc1_i2_k3"), "field 'mb' takes one value");
    EXPECT_ERROR(Problem::parse("mb99999999999999999999_ic1_oc1_i2_k3"), "malformed value");
}

TEST(Problem, PyTorchOutputSize) {
    const Problem p = pytorch_problem(1, 1, 1, {4, 4}, {3}, {2}, {1});
    EXPECT_EQ(with_output_size(p, {7, 8}).op, (Dims{0, 1}));
    EXPECT_EQ(with_output_size(p, {8, 8}).o(), (Dims{8, 8}));
    EXPECT_ERROR(with_output_size(p, {9, 8}), "output_size[0]=9 is out of range: with stride s[0]=2 the valid sizes are 7 to 8");
    EXPECT_ERROR(with_output_size(p, {6, 8}), "output_size[0]=6 is out of range");
    EXPECT_ERROR(with_output_size(p, {8}), "output_size has 1 values (8) but the problem has 2 spatial axes");
    // Stride 1 admits one size only.
    EXPECT_ERROR(with_output_size(pytorch_problem(1, 1, 1, {4}, {3}), {7}), "valid sizes are 6 to 6");
}

// Point 6 of the issue: every invalid problem names the parameter, its value and the rule.
TEST(Problem, Errors) {
    EXPECT_ERROR(pytorch_problem(0, 1, 1, {4}, {3}), "mb=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 0, 1, {4}, {3}), "ic=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, -2, {4}, {3}), "oc=-2 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4, 0}, {3}), "input size i[1]=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {0}), "kernel k[0]=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {3}, {0}), "stride s[0]=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {3}, {1}, {0}, {0}, 1, {0}), "dilation d[0]=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {3}, {1}, {0}, {0}, 0), "groups g=0 must be positive");
    EXPECT_ERROR(pytorch_problem(1, 6, 8, {4}, {3}, {1}, {0}, {0}, 4), "ic=6 must be divisible by groups g=4");
    EXPECT_ERROR(pytorch_problem(1, 4, 6, {4}, {3}, {1}, {0}, {0}, 4), "oc=6 must be divisible by groups g=4");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4, 4}, {3}, {2}, {1}, {0, 2}),
                 "output_padding op[1]=2 must be smaller than stride s[1]=2 or dilation d[1]=1");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {3}, {1}, {0}, {-1}), "output_padding op[0]=-1 must not be negative");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {4}, {3}, {1}, {-1}), "padding[0]=-1 must not be negative");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {1}, {1}, {1}, {1}), "output size o[0]=-1 must be positive");
    EXPECT_EQ(pytorch_problem(1, 1, 1, {2}, {2}, {1}, {1}).o(), Dims{1});  // the smallest valid output
    EXPECT_ERROR(Problem::parse("mb1_ic1_oc1_i2_k2_p2").validate(), "output size o[0]=-1 must be positive");
    EXPECT_ERROR(Problem::parse("conv_mb1_ic1_oc1_i2_k3").validate(),
                 "convolution input size i[0]=2 padded by pb+pe=0 is smaller than the effective kernel");
    EXPECT_ERROR(Problem::parse("conv_mb1_ic1_oc1_i4_k3_op1").validate(), "a regular convolution has no output padding");
    EXPECT_ERROR(Problem::parse("conv_mb1_ic1_oc1_i4_k3_pb-1_pe0").validate(),
                 "padding begin pb[0]=-1 must not be negative for a convolution");
    Problem bad = pytorch_problem(1, 1, 1, {4}, {3});
    bad.k = {3, 3};
    EXPECT_ERROR(bad.validate(), "kernel k has 2 values but the input sizes i have 1 axes");
    bad = Problem{};
    EXPECT_ERROR(bad.validate(), "input sizes i are empty");
    // Sizes whose arithmetic or element counts overflow 64 bits.
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {int64_t(1) << 40}, {3}, {int64_t(1) << 40}), "overflows 64-bit integers");
    EXPECT_ERROR(pytorch_problem(1, 1 << 20, 1, {int64_t(1) << 22, int64_t(1) << 22}, {1}), "overflows 64-bit integers");
    EXPECT_ERROR(pytorch_problem(int64_t(1) << 62, 4, 1, {1}, {1}), "the element count of src");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {int64_t(1) << 61}, {1}), "the byte size of src overflows");
    EXPECT_ERROR(pytorch_problem(1, 1, 1, {1}, {int64_t(1) << 62}, {1}, {0}, {0}, 1, {4}), "overflows 64-bit integers");
}

// Tensor shape checks of the operations, and the algorithm choice.
TEST(Problem, OperationErrors) {
    const Problem p = pytorch_problem(1, 2, 3, {2, 2}, {3}, {2}, {1}, {0}, 1, {1}, true);
    Tensor<float> src(p.src_shape()), wei(p.wei_shape()), bia({3}), dst(p.dst_shape());
    Tensor<float> wrong({1, 2, 3, 3});
    EXPECT_ERROR(conv_transpose<float>(p, wrong.view(), wei.view(), bia.view(), dst.view()),
                 "src has shape (1,2,3,3) but the problem needs (1,2,2,2)");
    EXPECT_ERROR(conv_transpose<float>(p, src.view(), src.view(), bia.view(), dst.view()), "wei has shape (1,2,2,2)");
    EXPECT_ERROR(conv_transpose<float>(p, src.view(), wei.view(), {}, dst.view()), "bia is missing: expected a tensor of shape (3)");
    EXPECT_ERROR(conv_transpose<float>(p, src.view(), wei.view(), bia.view(), wrong.view()), "dst has shape");
    EXPECT_ERROR(conv_transpose<float>(p, src.view(), wei.view(), bia.view(), View<float>(src.data.data(), p.dst_shape())),
                 "dst overlaps src");
    const Problem nb = pytorch_problem(1, 2, 3, {2, 2}, {3}, {2}, {1});
    EXPECT_ERROR(conv_transpose<float>(nb, src.view(), wei.view(), bia.view(), dst.view()), "bia was given but the problem has no bias");
    Options o;
    o.algorithm = "fft";
    EXPECT_ERROR(conv_transpose<float>(p, src.view(), wei.view(), bia.view(), dst.view(), o),
                 "algorithm='fft' is unknown: choose auto or one of rows, dense, period, winograd, phase, col2im, conv_grad, gather, matrix, scatter");
    o.algorithm = "conv_grad";
    const Problem dil = pytorch_problem(1, 1, 1, {4}, {3}, {1}, {0}, {1}, 1, {2});
    Tensor<float> s1(dil.src_shape()), w1(dil.wei_shape()), d1(dil.dst_shape());
    EXPECT_ERROR(conv_transpose<float>(dil, s1.view(), w1.view(), {}, d1.view(), o),
                 "algorithm 'conv_grad' refuses mb1_ic1_oc1_i4_k3_d2_op1 (forward): output_padding op[0]=1 is not smaller than stride s[0]=1");
    o.algorithm = "gather";
    Tensor<float> dw(dil.wei_shape());
    EXPECT_ERROR(conv_transpose_backward_weights<float>(dil, s1.view(), d1.view(), dw.view(), {}, o),
                 "algorithm 'gather' refuses mb1_ic1_oc1_i4_k3_d2_op1 (backward_weights): does not implement backward_weights");
    // winograd, requested by name, refuses what it cannot compute with the rule it breaks (a speed preference
    // only steers auto: the 1-channel layer above runs when requested).
    o.algorithm = "winograd";
    const Problem grp = pytorch_problem(1, 4, 4, {5, 5}, {3}, {2}, {1}, {0}, 2);
    Tensor<float> sg(grp.src_shape()), wg(grp.wei_shape()), dg(grp.dst_shape());
    EXPECT_NO_THROW(conv_transpose<float>(grp, sg.view(), wg.view(), {}, dg.view(), o));  // (groups: any)
    const Problem five = pytorch_problem(1, 1, 1, {9}, {5}, {1}, {2});
    Tensor<float> sb(five.src_shape()), wb(five.wei_shape()), db(five.dst_shape());
    EXPECT_ERROR(conv_transpose<float>(five, sb.view(), wb.view(), {}, db.view(), o),
                 "algorithm 'winograd' refuses " + five.str() + " (forward): a phase has more than 3 taps along an axis");
    EXPECT_NO_THROW(conv_transpose<float>(dil, s1.view(), w1.view(), {}, d1.view(), o));
    const Problem r4 = Problem::parse("mb1_ic1_oc2_i2x2x2x2_k2_s2");
    Tensor<float> s4(r4.src_shape()), w4(r4.wei_shape()), d4(r4.dst_shape());
    EXPECT_ERROR(conv_transpose<float>(r4, s4.view(), w4.view(), {}, d4.view(), o),
                 "algorithm 'winograd' refuses mb1_ic1_oc2_i2x2x2x2_k2_s2 (forward): ranks 1 to 3 only (here 4)");
    const Problem r3 = Problem::parse("mb1_ic2_oc2_i3x2x3_k3_s2_p1_op1");  // rank 3: 2-D tiles, depth taps as segments
    Tensor<float> s3(r3.src_shape()), w3(r3.wei_shape()), d3(r3.dst_shape());
    EXPECT_NO_THROW(conv_transpose<float>(r3, s3.view(), w3.view(), {}, d3.view(), o));
    EXPECT_ERROR(conv<float>(dil, s1.view(), w1.view(), {}, d1.view()), "is a transposed convolution; use tconv::conv_transpose");
    // explain_choice names every algorithm with its verdict; the reference takes everything.
    const auto verdicts = explain_choice(dil, Direction::forward);
    ASSERT_EQ(verdicts.size(), 10u);
    EXPECT_EQ(verdicts[1].name, "dense");
    EXPECT_EQ(verdicts[1].refusal, "made for inputs of one position (1x1); this one has i[0]=4");
    EXPECT_EQ(verdicts[2].name, "period");
    EXPECT_EQ(verdicts[2].refusal, "needs dilation 1 (here d[0]=2)");
    EXPECT_EQ(verdicts[3].name, "winograd");
    EXPECT_TRUE(verdicts[3].supported());  // capability; auto passes it (one channel: not worth the transforms)
    EXPECT_EQ(verdicts[6].name, "conv_grad");
    EXPECT_FALSE(verdicts[6].supported());
    EXPECT_TRUE(verdicts.back().supported());
    EXPECT_EQ(choose_algorithm(dil, Direction::forward), "rows");  // one output channel: the small-channel path
    EXPECT_EQ(choose_algorithm(dil, Direction::backward_data), "col2im");
    // A matrix too large to build is refused with its size.
    const Problem big = pytorch_problem(1, 64, 64, {64, 64}, {4}, {2}, {1});
    EXPECT_NE(explain_choice(big, Direction::forward)[8].refusal.find("C would hold up to 268435456 entries"), std::string::npos);
}

// period's refusals name the parameter, its value and the rule; asked by name, it refuses with them.
TEST(Problem, PeriodRefusals) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"mb1_ic1_oc1_i4_k3_s2", "needs kernels a whole number of strides long (here k[0]=3, s[0]=2)"},
        {"mb1_g2_ic2_oc2_i4_k4_s2", "made for one group; this layer has g=2"},
        {"mb1_ic1_oc2_i2x2x2x2_k2_s2", "ranks 1 to 3 only (here 4)"},
        {"mb1_ic1_oc1_i4_k4_s2_op1", "the output along axis 0 reaches past the last tap (pe - op = -1 < 0)"},
        {"mb1_ic1_oc1_i4x5_k4x3_s2x1_d1x2", "needs dilation 1 (here d[1]=2)"}};
    for (const auto& [prob, why] : cases) {
        const Problem p = Problem::parse(prob);
        const auto verdicts = explain_choice(p, Direction::forward);
        ASSERT_EQ(verdicts[2].name, "period");
        EXPECT_EQ(verdicts[2].refusal, why) << prob;
        Options o;
        o.algorithm = "period";
        Tensor<float> src(p.src_shape()), wei(p.wei_shape()), dst(p.dst_shape());
        EXPECT_ERROR(conv_transpose<float>(p, src.view(), wei.view(), {}, dst.view(), o),
                     "algorithm 'period' refuses " + p.str() + " (forward): " + why);
    }
    // The gradients: not implemented (the operation names the direction).
    const Problem ok = Problem::parse("mb1_ic2_oc2_i4_k4_s2");
    EXPECT_EQ(explain_choice(ok, Direction::backward_data)[2].refusal, "does not implement backward_data");
}

}  // namespace
}  // namespace tconv::test
