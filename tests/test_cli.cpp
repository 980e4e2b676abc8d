// The command-line program, run as a user runs it.
#include <unistd.h>
#include <fstream>
#include <filesystem>

#include "test_util.hpp"

namespace tconv::test {
namespace {

const std::string kCli = TCONV_CLI;

std::string tmpdir() {
    const auto d = std::filesystem::temp_directory_path() / ("tconv_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
}

TEST(Cli, DefaultRunsSeed000) {
    std::string out;
    ASSERT_EQ(run_command(kCli + " run", out), 0) << out;
    EXPECT_NE(out.find("problem mb1_ic1_oc1_i2x2_k3_s2_p1"), std::string::npos) << out;
    EXPECT_NE(out.find("output (1,1,3,3)\n  [0,0]\n    0 0 0\n    2 4 2\n    0 0 0\n"), std::string::npos) << out;
    // Parameter options apply to the example: without padding, the full 5x5 output of the seed.
    ASSERT_EQ(run_command(kCli + " run --padding 0", out), 0) << out;
    EXPECT_NE(out.find("     1  1  3  2  2\n     0  0  0  0  0\n     2  2  4  2  2\n"), std::string::npos) << out;
}

TEST(Cli, NpyFilesInAndOut) {
    const std::string d = tmpdir();
    const std::vector<double> x = {2, 3}, w = {1, 2, 3}, b = {10};
    npy::save(d + "/x.npy", {1, 1, 2}, x.data());
    npy::save(d + "/w.npy", {1, 1, 3}, w.data());
    npy::save(d + "/b.npy", {1}, b.data());
    std::string out;
    ASSERT_EQ(run_command(kCli + " run -q --input " + d + "/x.npy --weight " + d + "/w.npy --bias " + d +
                              "/b.npy --stride 2 --output " + d + "/y.npy",
                          out), 0) << out;
    const auto y = npy::load(d + "/y.npy");
    EXPECT_EQ(y.dtype, npy::DType::f64);
    EXPECT_EQ(y.shape, (Dims{1, 1, 5}));
    EXPECT_EQ(y.f64, (std::vector<double>{12, 14, 19, 16, 19}));  // seed 000's [2,4,9,6,9] plus the bias
    // output_size derives the output padding as PyTorch does.
    ASSERT_EQ(run_command(kCli + " run -q -i " + d + "/x.npy -w " + d + "/w.npy --stride 2 --output-size 6 -o " + d + "/y6.npy", out), 0) << out;
    EXPECT_EQ(npy::load(d + "/y6.npy").f64, (std::vector<double>{2, 4, 9, 6, 9, 0}));
    // Every algorithm by name gives the same file (dense takes 1x1 inputs only, period kernels a whole number of
    // strides long).
    for (const auto& a : algorithms()) {
        if (a.name == "dense" || a.name == "period") continue;
        ASSERT_EQ(run_command(kCli + " run -q -i " + d + "/x.npy -w " + d + "/w.npy --stride 2 --algorithm " + a.name + " -o " + d + "/ya.npy", out), 0) << out;
        EXPECT_EQ(npy::load(d + "/ya.npy").f64, (std::vector<double>{2, 4, 9, 6, 9})) << a.name;
    }
    std::filesystem::remove_all(d);
}

TEST(Cli, ProblemStringWithCheck) {
    std::string out;
    ASSERT_EQ(run_command(kCli + " run -q --problem mb2_g2_ic4_oc6_i3x5_k3_s2_p1_bias --algorithm gather --check", out), 0) << out;
    EXPECT_NE(out.find("check against scatter: max |difference| = 0"), std::string::npos) << out;
    for (const char* dir : {"backward_data", "backward_weights"}) {
        ASSERT_EQ(run_command(kCli + " run -q --problem mb2_g2_ic4_oc6_i3x5_k3_s2_p1_bias --algorithm col2im --check --dtype f64 --direction " + dir, out), 0) << out;
        EXPECT_NE(out.find(std::string("check ") + dir + " against scatter: max |difference| = 0"), std::string::npos) << out;
    }
    EXPECT_EQ(run_command(kCli + " run --direction sideways --problem mb1_ic1_oc1_i2_k3 --check", out), 2);
    EXPECT_NE(out.find("--direction=sideways must be forward, backward_data or backward_weights"), std::string::npos) << out;
    ASSERT_EQ(run_command(kCli + " algorithms --problem mb1_ic1_oc1_i4_k3_d2_op1", out), 0) << out;
    EXPECT_NE(out.find("conv_grad: refuses: output_padding op[0]=1 is not smaller than stride s[0]=1"), std::string::npos) << out;
}

// The conformance test's repro lines: --layout, --simd and --threads.
TEST(Cli, LayoutSimdThreads) {
    std::string out;
    const std::string prob = " run -q --problem mb2_g2_ic4_oc6_i3x5_k3_s2_p1_bias --check --layout channels_last";
    ASSERT_EQ(run_command(kCli + prob + " --algorithm phase --simd " + simd_targets().back() + " --threads 2", out), 0) << out;
    EXPECT_NE(out.find("check against scatter: max |difference| = 0"), std::string::npos) << out;
    for (const char* dir : {"backward_data", "backward_weights"}) {
        ASSERT_EQ(run_command(kCli + prob + " --direction " + dir, out), 0) << out;
        EXPECT_NE(out.find(std::string("check ") + dir + " against scatter: max |difference| = 0"), std::string::npos) << out;
    }
    EXPECT_EQ(run_command(kCli + " run --layout nhwc", out), 2);
    EXPECT_NE(out.find("--layout=nhwc must be channels_first or channels_last"), std::string::npos) << out;
    // .npy files in channels-last order: x (N, W, C) gives y (N, W', C'), the channels-first result moved.
    const std::string d = tmpdir();
    const std::vector<double> xl = {1, 2, 3, 4, 5, 6}, xf = {1, 3, 5, 2, 4, 6}, w = {1, -1, 2, 0, 1, 3};
    npy::save(d + "/xl.npy", {1, 3, 2}, xl.data());  // (N=1, W=3, C=2)
    npy::save(d + "/xf.npy", {1, 2, 3}, xf.data());  // the same tensor channels-first
    npy::save(d + "/w.npy", {2, 1, 3}, w.data());
    ASSERT_EQ(run_command(kCli + " run -q -i " + d + "/xl.npy -w " + d + "/w.npy --stride 2 --layout channels_last -o " + d + "/yl.npy", out), 0) << out;
    ASSERT_EQ(run_command(kCli + " run -q -i " + d + "/xf.npy -w " + d + "/w.npy --stride 2 -o " + d + "/yf.npy", out), 0) << out;
    const auto yl = npy::load(d + "/yl.npy"), yf = npy::load(d + "/yf.npy");
    EXPECT_EQ(yl.shape, (Dims{1, 7, 1}));
    EXPECT_EQ(yf.shape, (Dims{1, 1, 7}));
    EXPECT_EQ(yl.f64, yf.f64);  // one output channel: the same order
}

TEST(Cli, ClearErrors) {
    const std::string d = tmpdir();
    const std::vector<float> x = {1, 2, 3, 4}, w = {1, 2, 3};
    npy::save(d + "/x.npy", {1, 1, 2, 2}, x.data());
    npy::save(d + "/w.npy", {1, 1, 3}, w.data());
    // Each bad invocation exits 2 and names what is wrong.
    auto expect_error = [](const std::string& args, const std::string& text) {
        std::string out;
        EXPECT_EQ(run_command(kCli + " run " + args, out), 2) << args << "\n" << out;
        EXPECT_NE(out.find("tconv: error: "), std::string::npos) << out;
        EXPECT_NE(out.find(text), std::string::npos) << args << "\n" << out;
    };
    const std::string files = "-i " + d + "/x.npy -w " + d + "/w.npy";
    expect_error(files, "weight must have shape (C_in, C_out/groups, k...) with 2 kernel axes");
    expect_error("--output-padding 2", "output_padding op[0]=2 must be smaller than stride s[0]=2 or dilation d[0]=1");
    expect_error("--padding 9", "output size o[0]=-13 must be positive");
    expect_error("-i " + d + "/missing.npy -w " + d + "/w.npy", "cannot open");
    {
        std::ofstream f(d + "/bad.npy");
        f << "not numpy";
    }
    expect_error("-i " + d + "/bad.npy -w " + d + "/w.npy", "bad.npy: not a .npy file");
    expect_error("--problem mb1_ic1_oc1_i2_k3_q1", "unknown field 'q'");
    expect_error("--algorithm nope", "algorithm='nope' is unknown");
    std::string out;
    EXPECT_NE(run_command(kCli + " run --stride x", out), 0);
    std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace tconv::test
