// Training: the nn layers' gradients against float64 finite differences (here under the sanitizers too),
// weight files (round trip, corrupt and mismatched files), the image metrics, and `tconv train` itself: the
// loss falls, the learned x2 upsampler beats bilinear on held-out images, and a run is deterministic for a
// seed whatever the thread count.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tconv/error.hpp"
#include "tconv/nn.hpp"
#include "test_util.hpp"
#include "train.hpp"

namespace tconv::test {
namespace {

namespace nn = tconv::nn;
namespace train = tconv::cli::train;
using Net = nn::Sequential<double>;
const std::string kCli = TCONV_CLI;

std::string tmpdir() {
    const auto d = std::filesystem::temp_directory_path() / ("tconv_train_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
}

Tensor<double> random_tensor(const Dims& shape, std::mt19937_64& rng) {
    Tensor<double> t(shape);
    std::normal_distribution<double> n(0, 1);
    for (auto& v : t.data) v = n(rng);
    return t;
}

// L = <c, model(x)>: backward's input and parameter gradients against central differences.
void check_gradients(Net& m, const Dims& x_shape, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Tensor<double> x = random_tensor(x_shape, rng);
    const Tensor<double> y = m.forward(x);
    const Tensor<double> c = random_tensor(y.shape, rng);
    m.zero_grad();
    const Tensor<double> dx = m.backward(c);
    auto loss = [&] {
        const auto out = m.forward(x);
        double s = 0;
        for (size_t i = 0; i < out.data.size(); ++i) s += c.data[i] * out.data[i];
        return s;
    };
    const double eps = 1e-6;
    auto check = [&](double& v, double analytic, const std::string& what) {
        const double old = v;
        v = old + eps;
        const double lp = loss();
        v = old - eps;
        const double lm = loss();
        v = old;
        EXPECT_NEAR((lp - lm) / (2 * eps), analytic, 1e-5 * std::max(1.0, std::fabs(analytic))) << what;
    };
    for (int k = 0; k < 8; ++k) {
        const size_t i = std::uniform_int_distribution<size_t>(0, x.data.size() - 1)(rng);
        check(x.data[i], dx.data[i], "input " + std::to_string(i));
    }
    for (auto& [name, p] : m.named_params())
        for (int k = 0; k < 5; ++k) {
            const size_t i = std::uniform_int_distribution<size_t>(0, p->value.data.size() - 1)(rng);
            check(p->value.data[i], p->grad.data[i], name + "[" + std::to_string(i) + "]");
        }
}

TEST(NnGradients, EveryLayerAgainstFiniteDifferences) {
    std::mt19937_64 rng(1);
    {
        Net m;
        m.emplace<nn::ConvTranspose<double>>(nn::ConvSpec{2, 4, 6, {3, 2}, {2, 1}, {1, 0}, {1, 0}, {1, 2}, 2}, rng);
        m.emplace<nn::Activation<double>>(nn::ActKind::leaky_relu, 0.1);
        check_gradients(m, {2, 4, 3, 4}, 2);
    }
    {
        Net m;
        m.emplace<nn::Conv<double>>(nn::ConvSpec{1, 2, 4, {3}, {2}, {1}, {0}, {2}}, rng);
        m.emplace<nn::Activation<double>>(nn::ActKind::tanh);
        m.emplace<nn::ConvTranspose<double>>(nn::ConvSpec{1, 4, 2, {4}, {3}, {1}, {2}}, rng);
        m.emplace<nn::Activation<double>>(nn::ActKind::sigmoid);
        check_gradients(m, {3, 2, 9}, 3);
    }
    {
        Net m;
        m.emplace<nn::Upsample<double>>(2, upsample::Mode::linear);
        m.emplace<nn::Conv<double>>(nn::ConvSpec{2, 2, 8, {3}, {1}, {1}}, rng);
        m.emplace<nn::Activation<double>>(nn::ActKind::relu);
        m.emplace<nn::PixelShuffle<double>>(2);
        m.emplace<nn::Upsample<double>>(3, upsample::Mode::nearest);
        check_gradients(m, {1, 2, 3, 4}, 4);
    }
    {
        Net m;
        m.emplace<nn::ConvTranspose<double>>(nn::ConvSpec{3, 2, 2, {2}, {2}, {0}, {0}, {1}, 1, false}, rng);
        m.emplace<nn::Upsample<double>>(2, upsample::Mode::linear, true);
        check_gradients(m, {1, 2, 2, 3, 2}, 5);
    }
}

TEST(NnOptimisers, AdamAndSgdMinimiseAQuadratic) {
    // min (p - 3)^2 with p = a bias-only "layer": its gradient is 2(p - 3).
    for (int which = 0; which < 2; ++which) {
        nn::Param<double> p;
        p.value = Tensor<double>({1}, 0.0);
        p.grad = Tensor<double>({1}, 0.0);
        nn::SGD<double> sgd({&p}, 0.05, 0.9);
        nn::Adam<double> adam({&p}, 0.1);
        for (int s = 0; s < 300; ++s) {
            p.grad.data[0] = 2 * (p.value.data[0] - 3);
            which ? adam.step() : sgd.step();
        }
        EXPECT_NEAR(p.value.data[0], 3.0, 1e-2) << (which ? "adam" : "sgd");
    }
    nn::Param<double> p;
    EXPECT_THROW(nn::Adam<double>({&p}, 1e-3, 1.0), Error);
    EXPECT_THROW(nn::SGD<double>({&p}, 0.1, 0.0, 0.0, 0.0, true), Error);
}

TEST(NnWeights, RoundTripAndClearErrors) {
    const std::string d = tmpdir();
    std::mt19937_64 rng(7);
    Net a, b;
    a.emplace<nn::Conv<double>>(nn::ConvSpec{2, 1, 3, {3}}, rng);
    a.emplace<nn::Activation<double>>(nn::ActKind::relu);
    a.emplace<nn::ConvTranspose<double>>(nn::ConvSpec{2, 3, 1, {4}, {2}, {1}}, rng);
    b.emplace<nn::Conv<double>>(nn::ConvSpec{2, 1, 3, {3}}, rng);
    b.emplace<nn::Activation<double>>(nn::ActKind::relu);
    b.emplace<nn::ConvTranspose<double>>(nn::ConvSpec{2, 3, 1, {4}, {2}, {1}}, rng);
    nn::save_weights(d + "/a.npz", a);
    nn::load_weights(d + "/a.npz", b);
    for (size_t i = 0; i < a.named_params().size(); ++i)
        EXPECT_EQ(a.named_params()[i].second->value.data, b.named_params()[i].second->value.data);
    const auto names = nn::read_npz(d + "/a.npz");
    ASSERT_EQ(names.size(), 4u);
    EXPECT_EQ(names.begin()->first, "0.bias");
    auto refused = [&](const std::string& path, const std::string& text) {
        try {
            nn::load_weights(path, b);
            ADD_FAILURE() << path << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    };
    std::stringstream ss;
    ss << std::ifstream(d + "/a.npz", std::ios::binary).rdbuf();
    const std::string bytes = ss.str();
    std::ofstream(d + "/short.npz", std::ios::binary) << bytes.substr(0, bytes.size() - 30);
    refused(d + "/short.npz", "not a valid .npz archive");
    std::string flipped = bytes;
    flipped[bytes.size() / 3] = char(flipped[bytes.size() / 3] ^ 0x5a);
    std::ofstream(d + "/flip.npz", std::ios::binary) << flipped;
    refused(d + "/flip.npz", d + "/flip.npz");
    refused(d + "/missing.npz", "cannot open");
    Net c;  // a different architecture: names and shapes differ
    c.emplace<nn::Conv<double>>(nn::ConvSpec{2, 1, 5, {3}}, rng);
    nn::save_weights(d + "/c.npz", c);
    refused(d + "/c.npz", "0.weight has shape (5,1,3,3) but the model's is (3,1,3,3)");
    Net e;
    e.emplace<nn::Conv<double>>(nn::ConvSpec{2, 1, 3, {3}}, rng);
    nn::save_weights(d + "/e.npz", e);
    refused(d + "/e.npz", "2.weight are missing");
    std::filesystem::remove_all(d);
}

TEST(TrainMetrics, PsnrSsimDownsampleAndUnevenness) {
    using train::Gray;
    Gray a(32, 32, 0.5f), b = a;
    EXPECT_TRUE(std::isinf(train::psnr(a, b)));
    EXPECT_NEAR(train::ssim(a, b), 1.0, 1e-12);
    for (auto& v : b.v) v += 0.1f;  // MSE 0.01 -> 20 dB
    EXPECT_NEAR(train::psnr(a, b), 20.0, 1e-4);
    Gray n = a;
    std::mt19937_64 rng(1);
    std::normal_distribution<float> noise(0, 0.1f);
    for (auto& v : n.v) v += noise(rng);
    const Gray tex = train::procedural_image(32, 32, 3);
    EXPECT_LT(train::ssim(tex, n), 0.5);
    EXPECT_NEAR(train::ssim(tex, n), train::ssim(n, tex), 1e-12);
    Gray g(4, 2);
    for (int i = 0; i < 8; ++i) g.v[size_t(i)] = float(i);
    const Gray d = train::box_downsample(g, 2);
    ASSERT_EQ(d.w, 2);
    EXPECT_FLOAT_EQ(d.at(0, 0), (0 + 1 + 4 + 5) / 4.0f);
    EXPECT_FLOAT_EQ(d.at(1, 0), (2 + 3 + 6 + 7) / 4.0f);
    Gray checker(16, 16, 1.0f);  // phases 1, 1, 1, 0.5 -> unevenness 0.5
    for (int y = 1; y < 16; y += 2)
        for (int x = 1; x < 16; x += 2) checker.at(x, y) = 0.5f;
    EXPECT_NEAR(train::flat_unevenness(checker, 2, 2), 0.5, 1e-12);
    EXPECT_EQ(train::flat_unevenness(a, 2, 2), 0.0);
    EXPECT_EQ(train::procedural_image(40, 30, 9).v, train::procedural_image(40, 30, 9).v);
}

#ifndef TCONV_SANITIZED
nlohmann::json train_run(const std::string& dir, const std::string& env) {
    std::filesystem::create_directories(dir);
    const std::string cmd = env + " " + kCli + " train --models tconv-k4,tconv-k3 --steps 700 --test-size 192 --seed 3 -q -o " + dir + " --json " + dir +
                            "/r.json > " + dir + "/stdout.txt 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(dir + "/r.json");
    return nlohmann::json::parse(f);
}

TEST(TrainCommand, LearnsBeatsBilinearAndIsDeterministic) {
    const std::string d = tmpdir();
    const auto r1 = train_run(d + "/one", "OMP_NUM_THREADS=2");
    const auto r2 = train_run(d + "/two", "OMP_NUM_THREADS=1");
    std::map<std::string, nlohmann::json> m;
    for (const auto& x : r1["methods"]) m[x["slug"]] = x;
    for (const auto& x : r1["methods"]) {
        if (x["kind"] != "learned") continue;
        const auto& losses = x["losses"];
        double head = 0, tail = 0;
        for (int i = 0; i < 20; ++i) {
            head += losses[size_t(i)].get<double>();
            tail += losses[losses.size() - 1 - size_t(i)].get<double>();
        }
        EXPECT_LT(tail, 0.2 * head) << x["name"] << ": the loss must fall well below its start";
    }
    EXPECT_GT(m["tconv-k4"]["psnr"].get<double>(), m["bilinear"]["psnr"].get<double>()) << "the learned x2 transposed convolution beats bilinear";
    EXPECT_GT(m["tconv-k3"]["psnr"].get<double>(), m["bilinear"]["psnr"].get<double>());
    EXPECT_NEAR(m["fcn-bilinear"]["psnr"].get<double>(), m["bilinear"]["psnr"].get<double>(), 0.5);
    EXPECT_EQ(r1["test_images"], nlohmann::json({"camera", "coffee", "coins"})) << "scikit-image's photographs (scripts/install-deps.sh installs them)";
    // Same seed, same result, on 2 threads and on 1.
    for (size_t i = 0; i < r1["methods"].size(); ++i) {
        EXPECT_EQ(r1["methods"][i]["psnr"], r2["methods"][i]["psnr"]) << r1["methods"][i]["name"];
        EXPECT_EQ(r1["methods"][i].value("losses", nlohmann::json()), r2["methods"][i].value("losses", nlohmann::json())) << r1["methods"][i]["name"];
    }
    for (const char* f : {"/one/loss.png", "/one/compare.png", "/one/tconv-k4.npz", "/one/results.json"})
        EXPECT_TRUE(std::filesystem::exists(d + f)) << f;
    std::filesystem::remove_all(d);
}
#endif

TEST(TrainCommand, ClearErrors) {
    const std::string d = tmpdir();
    auto fails = [&](const std::string& args, const std::string& text) {
        const std::string cmd = kCli + " train " + args + " -o " + d + "/x > " + d + "/err.txt 2>&1";
        EXPECT_NE(std::system(cmd.c_str()), 0) << args;
        std::stringstream ss;
        ss << std::ifstream(d + "/err.txt").rdbuf();
        EXPECT_NE(ss.str().find(text), std::string::npos) << args << ": " << ss.str();
    };
    fails("--scale 3", "--scale=3 must be 2 or 4");
    fails("--task paint", "--task=paint must be sr or denoise");
    fails("--crop 31", "--crop=31 must be a multiple of 2");
    fails("--images /nonexistent", "is not a directory");
    fails("--steps -5", "--steps=-5 must be positive");
    fails("--batch 0", "--batch=0 must lie in [1, 256]");
    fails("--channels 500", "--channels=500 must lie in [1, 128]");
    fails("--lr 2", "--lr must lie in (0, 1)");
    fails("--task denoise --noise -1", "--noise must lie in [0, 1]");
    fails("--test-size 8", "--test-size must lie in [32, 1024]");
    fails("--models tconv-k9", "'tconv-k9' is not a learned model of this task; choose from tconv-k4, tconv-k3, resize-conv, subpixel");
    std::filesystem::create_directories(d + "/empty");
    fails("--images " + d + "/empty", "holds no .png files");
    std::filesystem::remove_all(d);
}

TEST(TrainCommand, ShortDenoiseRunWritesItsReport) {
    const std::string d = tmpdir();
    const std::string cmd = kCli + " train --task denoise --procedural --steps 3 --batch 2 --channels 4 --test-size 64 -q -o " + d + " > " + d + "/out.txt 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::stringstream ss;
    ss << std::ifstream(d + "/out.txt").rdbuf();
    EXPECT_NE(ss.str().find("autoencoder, transposed-conv decoder"), std::string::npos) << ss.str();
    EXPECT_TRUE(std::filesystem::exists(d + "/ae-tconv.npz"));
    EXPECT_TRUE(std::filesystem::exists(d + "/compare.png"));
    std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace tconv::test
