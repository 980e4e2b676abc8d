// `tconv train`: the seeds' claim put to a test. A transposed convolution is a learnable upsampler; nearest,
// bilinear and bicubic interpolation are fixed. Train small networks with tconv::nn on crops of real
// photographs (or procedural pictures), and compare them on held-out images: PSNR, SSIM and how striped each
// method leaves a flat region (the checkerboard). `--task denoise` trains a small convolutional autoencoder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

#include "commands.hpp"
#include "draw.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/error.hpp"
#include "tconv/nn.hpp"
#include "tconv/upsample.hpp"
#include "train.hpp"

#include <nlohmann/json.hpp>

namespace tconv::cli {

namespace train {

double psnr(const Gray& a, const Gray& b, int shave) {
    if (a.w != b.w || a.h != b.h) throw Error("psnr: the images differ in size");
    double se = 0;
    int64_t n = 0;
    for (int y = shave; y < a.h - shave; ++y)
        for (int x = shave; x < a.w - shave; ++x) {
            const double d = double(a.at(x, y)) - double(b.at(x, y));
            se += d * d;
            ++n;
        }
    if (n == 0) throw Error("psnr: nothing left after shaving the border");
    return se == 0 ? INFINITY : 10 * std::log10(1.0 / (se / double(n)));
}

double ssim(const Gray& a, const Gray& b, int shave) {
    if (a.w != b.w || a.h != b.h) throw Error("ssim: the images differ in size");
    constexpr int R = 5;
    double g[2 * R + 1], gs = 0;
    for (int i = -R; i <= R; ++i) gs += g[i + R] = std::exp(-(i * i) / (2 * 1.5 * 1.5));
    for (double& v : g) v /= gs;
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    double sum = 0;
    int64_t n = 0;
    for (int y = shave + R; y < a.h - shave - R; ++y)
        for (int x = shave + R; x < a.w - shave - R; ++x) {
            double ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
            for (int dy = -R; dy <= R; ++dy)
                for (int dx = -R; dx <= R; ++dx) {
                    const double w = g[dy + R] * g[dx + R], p = a.at(x + dx, y + dy), q = b.at(x + dx, y + dy);
                    ma += w * p;
                    mb += w * q;
                    aa += w * p * p;
                    bb += w * q * q;
                    ab += w * p * q;
                }
            const double va = aa - ma * ma, vb = bb - mb * mb, cov = ab - ma * mb;
            sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            ++n;
        }
    if (n == 0) throw Error("ssim: the image is smaller than the 11x11 window");
    return sum / double(n);
}

Gray box_downsample(const Gray& a, int f) {
    Gray r(a.w / f, a.h / f);
    for (int y = 0; y < r.h; ++y)
        for (int x = 0; x < r.w; ++x) {
            float s = 0;
            for (int dy = 0; dy < f; ++dy)
                for (int dx = 0; dx < f; ++dx) s += a.at(x * f + dx, y * f + dy);
            r.at(x, y) = s / float(f * f);
        }
    return r;
}

Gray procedural_image(int w, int h, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    Gray im(w, h);
    const double gx = u(rng) - 0.5, gy = u(rng) - 0.5, base = 0.3 + 0.4 * u(rng);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) im.at(x, y) = float(base + 0.3 * (gx * x / w + gy * y / h));
    const int shapes = 6 + int(u(rng) * 6);
    for (int s = 0; s < shapes; ++s) {
        const double cx = u(rng) * w, cy = u(rng) * h, r = (0.05 + 0.2 * u(rng)) * w, val = u(rng), kind = u(rng);
        const double freq = 0.1 + 0.5 * u(rng), ang = u(rng) * 3.14159;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const double dx = x - cx, dy = y - cy;
                bool inside;
                if (kind < 0.35) inside = dx * dx + dy * dy < r * r;                        // disc
                else if (kind < 0.7) inside = std::fabs(dx) < r && std::fabs(dy) < 0.6 * r;  // box
                else inside = std::fabs(dx * std::cos(ang) + dy * std::sin(ang)) < 0.08 * r + 1 && dx * dx + dy * dy < 4 * r * r;  // bar
                if (!inside) continue;
                double v = val;
                if (kind > 0.5 && kind < 0.7) v = 0.5 + 0.45 * std::sin(freq * (dx * std::cos(ang) + dy * std::sin(ang)));  // stripes
                im.at(x, y) = float(v);
            }
    }
    for (auto& v : im.v) v = std::clamp(v + float((u(rng) - 0.5) * 0.02), 0.0f, 1.0f);
    return im;
}

double flat_unevenness(const Gray& o, int f, int border) {
    std::vector<double> sum(size_t(f) * size_t(f), 0.0), cnt(sum.size(), 0.0);
    for (int y = border; y < o.h - border; ++y)
        for (int x = border; x < o.w - border; ++x) {
            const size_t ph = size_t(y % f) * size_t(f) + size_t(x % f);
            sum[ph] += o.at(x, y);
            cnt[ph] += 1;
        }
    for (size_t i = 0; i < sum.size(); ++i) sum[i] /= std::max(1.0, cnt[i]);
    return checkerboard::unevenness(sum);
}

}  // namespace train

namespace {

using train::Gray;
using Net = nn::Sequential<float>;
using json = nlohmann::json;

struct TrainArgs {
    std::string task = "sr", images, out = "train-out", json_path, models;
    int scale = 2, steps = 0, batch = 16, crop = 0, channels = 16, test_size = 256;
    double lr = 2e-3, noise = 0.1;
    uint64_t seed = 1;
    bool procedural = false, quiet = false;
};

// ---------------------------------------------------------------- data

const char* kSkimageDir = "/usr/lib/python3/dist-packages/skimage/data";
// The photographs among scikit-image's sample images (the rest are tiny, synthetic or palettes), and the
// ones held out for testing.
const std::vector<std::string> kPhotos = {"astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins",
                                          "grass", "gravel", "ihc", "moon", "motorcycle_left", "page", "text"};
const std::vector<std::string> kHeldOut = {"camera", "coffee", "coins"};

Gray to_gray(const Image& im) {
    Gray g(im.w, im.h);
    for (int y = 0; y < im.h; ++y)
        for (int x = 0; x < im.w; ++x) {
            const Rgb c = im.at(x, y);
            g.at(x, y) = float((0.299 * c.r + 0.587 * c.g + 0.114 * c.b) / 255.0);
        }
    return g;
}

Image to_image(const Gray& g) {
    Image im(g.w, g.h);
    for (int y = 0; y < g.h; ++y)
        for (int x = 0; x < g.w; ++x) {
            const auto v = uint8_t(std::lround(std::clamp(g.at(x, y), 0.0f, 1.0f) * 255));
            im.set(x, y, {v, v, v});
        }
    return im;
}

struct Dataset {
    std::string source;
    std::vector<std::string> train_names, test_names;
    std::vector<Gray> train, test;
};

Dataset load_data(const TrainArgs& a, int min_side) {
    namespace fs = std::filesystem;
    Dataset d;
    std::vector<std::pair<std::string, std::string>> files;  // (name, path)
    bool curated = false;
    if (!a.procedural) {
        if (!a.images.empty()) {
            if (!fs::is_directory(a.images)) throw Error("--images " + a.images + " is not a directory");
            for (const auto& e : fs::directory_iterator(a.images))
                if (e.path().extension() == ".png") files.emplace_back(e.path().stem().string(), e.path().string());
            std::sort(files.begin(), files.end());
            if (files.empty()) throw Error("--images " + a.images + " holds no .png files");
            d.source = a.images;
        } else if (fs::is_directory(kSkimageDir)) {
            for (const auto& n : kPhotos) {
                const std::string p = std::string(kSkimageDir) + "/" + n + ".png";
                if (fs::exists(p)) files.emplace_back(n, p);
            }
            curated = files.size() >= 4;
            if (curated) d.source = std::string("scikit-image's photographs (") + kSkimageDir + ")";
            else files.clear();
        }
    }
    if (files.empty()) {
        d.source = "procedural pictures (seed " + std::to_string(a.seed) + ")";
        for (int i = 0; i < 12; ++i) {
            const std::string n = "procedural-" + std::to_string(i);
            (i % 4 == 3 ? d.test_names : d.train_names).push_back(n);
            (i % 4 == 3 ? d.test : d.train).push_back(train::procedural_image(256, 256, a.seed * 1000 + uint64_t(i)));
        }
        return d;
    }
    for (size_t i = 0; i < files.size(); ++i) {
        Gray g = to_gray(read_png(files[i].second));
        if (g.w < min_side || g.h < min_side) continue;  // too small for a crop
        const bool test = curated ? std::find(kHeldOut.begin(), kHeldOut.end(), files[i].first) != kHeldOut.end() : i % 4 == 3;
        (test ? d.test_names : d.train_names).push_back(files[i].first);
        (test ? d.test : d.train).push_back(std::move(g));
    }
    if (d.train.empty() || d.test.empty())
        throw Error("need at least 2 images of " + std::to_string(min_side) + "x" + std::to_string(min_side) +
                    " pixels or more (every 4th is held out for testing); found " + std::to_string(d.train.size() + d.test.size()));
    return d;
}

Gray centre_crop(const Gray& g, int size, int multiple) {
    const int w = std::min(g.w, size) / multiple * multiple, h = std::min(g.h, size) / multiple * multiple;
    Gray r(w, h);
    const int x0 = (g.w - w) / 2, y0 = (g.h - h) / 2;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) r.at(x, y) = g.at(x0 + x, y0 + y);
    return r;
}

Tensor<float> tensor_of(const std::vector<const Gray*>& imgs) {
    Tensor<float> t({int64_t(imgs.size()), 1, imgs[0]->h, imgs[0]->w});
    for (size_t i = 0; i < imgs.size(); ++i) std::copy(imgs[i]->v.begin(), imgs[i]->v.end(), t.data.begin() + std::ptrdiff_t(i * imgs[0]->v.size()));
    return t;
}

Gray gray_of(const Tensor<float>& t) {
    Gray g(int(t.shape[3]), int(t.shape[2]));
    std::copy(t.data.begin(), t.data.begin() + std::ptrdiff_t(g.v.size()), g.v.begin());
    return g;
}

// ---------------------------------------------------------------- methods

struct Method {
    std::string name, slug, kind;  // kind: "fixed" or "learned"; slug names files and labels pictures
    std::function<Gray(const Gray&)> apply;
    std::unique_ptr<Net> net;
    std::vector<double> losses;
    double seconds = 0;
    double psnr = 0, ssim = 0, uneven = 0;
};

void add_body(Net& m, int C, std::mt19937_64& rng) {
    nn::ConvSpec a{2, 1, C, {5}, {1}, {2}};
    nn::ConvSpec b{2, C, C, {3}, {1}, {1}};
    m.emplace<nn::Conv<float>>(a, rng);
    m.emplace<nn::Activation<float>>(nn::ActKind::relu);
    m.emplace<nn::Conv<float>>(b, rng);
    m.emplace<nn::Activation<float>>(nn::ActKind::relu);
}

std::function<Gray(const Gray&)> run_net(Net* net) {
    return [net](const Gray& in) { return gray_of(net->forward(tensor_of({&in}))); };
}

std::vector<Method> sr_methods(const TrainArgs& a, std::mt19937_64& rng) {
    const int s = a.scale, C = a.channels;
    std::vector<Method> ms;
    auto interp = [s](upsample::Mode mode) {
        return [s, mode](const Gray& in) {
            const Tensor<float> x = tensor_of({&in});
            return gray_of(upsample::interpolate<float>(x.view(), {int64_t(in.h) * s, int64_t(in.w) * s}, mode, false));
        };
    };
    ms.push_back({"nearest", "nearest", "fixed", interp(upsample::Mode::nearest), nullptr});
    ms.push_back({"bilinear", "bilinear", "fixed", interp(upsample::Mode::linear), nullptr});
    ms.push_back({"bicubic", "bicubic", "fixed", interp(upsample::Mode::cubic), nullptr});
    {
        auto net = std::make_unique<Net>();
        nn::ConvSpec t{2, 1, 1, {2 * s}, {s}, {s / 2}};
        t.bias = false;
        net->emplace<nn::ConvTranspose<float>>(t, rng).init_bilinear();
        Method m{"transposed conv, FCN bilinear kernel (fixed)", "fcn-bilinear", "fixed", {}, std::move(net)};
        m.apply = run_net(m.net.get());
        ms.push_back(std::move(m));
    }
    auto learned = [&](const std::string& name, const std::string& slug, std::unique_ptr<Net> net) {
        Method m{name, slug, "learned", {}, std::move(net)};
        m.apply = run_net(m.net.get());
        ms.push_back(std::move(m));
    };
    {  // kernel 2s, stride s, padding s/2: an even overlap (every output gets 2x2 taps)
        auto net = std::make_unique<Net>();
        add_body(*net, C, rng);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, C, 1, {2 * s}, {s}, {s / 2}}, rng);
        learned("transposed conv, learned (k=" + std::to_string(2 * s) + ", s=" + std::to_string(s) + ")", "tconv-k" + std::to_string(2 * s), std::move(net));
    }
    {  // kernel s+1, stride s: uneven overlap, the seeds' checkerboard case
        auto net = std::make_unique<Net>();
        add_body(*net, C, rng);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, C, 1, {s + 1}, {s}, {1}, {1}}, rng);
        learned("transposed conv, learned (k=" + std::to_string(s + 1) + ", s=" + std::to_string(s) + ")", "tconv-k" + std::to_string(s + 1), std::move(net));
    }
    {
        auto net = std::make_unique<Net>();
        add_body(*net, C, rng);
        net->emplace<nn::Upsample<float>>(s, upsample::Mode::nearest);
        net->emplace<nn::Conv<float>>(nn::ConvSpec{2, C, 1, {3}, {1}, {1}}, rng);
        learned("resize-convolution, learned (nearest + 3x3)", "resize-conv", std::move(net));
    }
    {
        auto net = std::make_unique<Net>();
        add_body(*net, C, rng);
        net->emplace<nn::Conv<float>>(nn::ConvSpec{2, C, int64_t(s) * s, {3}, {1}, {1}}, rng);
        net->emplace<nn::PixelShuffle<float>>(s);
        learned("sub-pixel conv, learned (3x3 + pixel shuffle)", "subpixel", std::move(net));
    }
    return ms;
}

Gray blur(const Gray& in) {  // Gaussian sigma 1, 5 taps, clamped borders
    const float k[5] = {0.0545f, 0.2442f, 0.4026f, 0.2442f, 0.0545f};
    Gray t(in.w, in.h), r(in.w, in.h);
    for (int y = 0; y < in.h; ++y)
        for (int x = 0; x < in.w; ++x) {
            float s = 0;
            for (int d = -2; d <= 2; ++d) s += k[d + 2] * in.at(std::clamp(x + d, 0, in.w - 1), y);
            t.at(x, y) = s;
        }
    for (int y = 0; y < in.h; ++y)
        for (int x = 0; x < in.w; ++x) {
            float s = 0;
            for (int d = -2; d <= 2; ++d) s += k[d + 2] * t.at(x, std::clamp(y + d, 0, in.h - 1));
            r.at(x, y) = s;
        }
    return r;
}

std::vector<Method> denoise_methods(const TrainArgs& a, std::mt19937_64& rng) {
    const int C = a.channels;
    std::vector<Method> ms;
    ms.push_back({"noisy input", "noisy", "fixed", [](const Gray& g) { return g; }, nullptr});
    ms.push_back({"Gaussian blur, sigma 1 (fixed)", "blur", "fixed", blur, nullptr});
    auto encoder = [&](Net& m) {  // full resolution features, then two strided convolutions down to 1/4
        m.emplace<nn::Conv<float>>(nn::ConvSpec{2, 1, C, {3}, {1}, {1}}, rng);
        m.emplace<nn::Activation<float>>(nn::ActKind::relu);
        m.emplace<nn::Conv<float>>(nn::ConvSpec{2, C, C, {3}, {2}, {1}}, rng);
        m.emplace<nn::Activation<float>>(nn::ActKind::relu);
        m.emplace<nn::Conv<float>>(nn::ConvSpec{2, C, 2 * C, {3}, {2}, {1}}, rng);
        m.emplace<nn::Activation<float>>(nn::ActKind::relu);
    };
    {
        auto net = std::make_unique<Net>();
        encoder(*net);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, 2 * C, C, {4}, {2}, {1}}, rng);
        net->emplace<nn::Activation<float>>(nn::ActKind::relu);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, C, 1, {4}, {2}, {1}}, rng);
        Method m{"autoencoder, transposed-conv decoder (k=4, s=2)", "ae-tconv", "learned", {}, std::move(net)};
        m.apply = run_net(m.net.get());
        ms.push_back(std::move(m));
    }
    {
        auto net = std::make_unique<Net>();
        encoder(*net);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, 2 * C, C, {3}, {2}, {1}, {1}}, rng);
        net->emplace<nn::Activation<float>>(nn::ActKind::relu);
        net->emplace<nn::ConvTranspose<float>>(nn::ConvSpec{2, C, 1, {3}, {2}, {1}, {1}}, rng);
        Method m{"autoencoder, transposed-conv decoder (k=3, s=2)", "ae-tconv-k3", "learned", {}, std::move(net)};
        m.apply = run_net(m.net.get());
        ms.push_back(std::move(m));
    }
    {
        auto net = std::make_unique<Net>();
        encoder(*net);
        net->emplace<nn::Upsample<float>>(2, upsample::Mode::nearest);
        net->emplace<nn::Conv<float>>(nn::ConvSpec{2, 2 * C, C, {3}, {1}, {1}}, rng);
        net->emplace<nn::Activation<float>>(nn::ActKind::relu);
        net->emplace<nn::Upsample<float>>(2, upsample::Mode::nearest);
        net->emplace<nn::Conv<float>>(nn::ConvSpec{2, C, 1, {3}, {1}, {1}}, rng);
        Method m{"autoencoder, resize-conv decoder", "ae-resize", "learned", {}, std::move(net)};
        m.apply = run_net(m.net.get());
        ms.push_back(std::move(m));
    }
    return ms;
}

// ---------------------------------------------------------------- training

void progress(const std::string& name, int step, int steps, double loss, double rate, bool tty, int& last_pct) {
    const int pct = steps ? step * 100 / steps : 100;
    if (!tty && pct / 10 == last_pct / 10 && step != steps) return;
    last_pct = pct;
    const int width = 24, fill = steps ? step * width / steps : width;
    std::ostringstream os;
    os << (tty ? "\r" : "") << "  " << std::left << std::setw(52) << name.substr(0, 52) << " [" << std::string(size_t(fill), '#')
       << std::string(size_t(width - fill), '.') << "] " << std::right << std::setw(5) << step << "/" << steps << "  loss "
       << std::scientific << std::setprecision(3) << loss << std::fixed << std::setprecision(0) << "  " << std::setw(5) << rate
       << " crops/s" << (tty && step != steps ? "" : "\n");
    std::cerr << os.str() << std::flush;
}

// One batch: crops of the training images (inputs, targets), the same for every method for a given step.
struct Batch {
    Tensor<float> in, target;
};

Batch make_batch(const TrainArgs& a, const Dataset& d, std::mt19937_64& rng) {
    const int cs = a.crop;
    std::vector<Gray> ins, outs;
    std::normal_distribution<float> noise(0, float(a.noise));
    for (int b = 0; b < a.batch; ++b) {
        const Gray& im = d.train[std::uniform_int_distribution<size_t>(0, d.train.size() - 1)(rng)];
        const int x0 = std::uniform_int_distribution<int>(0, im.w - cs)(rng), y0 = std::uniform_int_distribution<int>(0, im.h - cs)(rng);
        const bool flip = rng() & 1;
        Gray c(cs, cs);
        for (int y = 0; y < cs; ++y)
            for (int x = 0; x < cs; ++x) c.at(x, y) = im.at(x0 + (flip ? cs - 1 - x : x), y0 + y);
        if (a.task == "sr") {
            ins.push_back(train::box_downsample(c, a.scale));
        } else {
            Gray n = c;
            for (auto& v : n.v) v += noise(rng);
            ins.push_back(n);
        }
        outs.push_back(std::move(c));
    }
    std::vector<const Gray*> pi, po;
    for (size_t i = 0; i < ins.size(); ++i) {
        pi.push_back(&ins[i]);
        po.push_back(&outs[i]);
    }
    return {tensor_of(pi), tensor_of(po)};
}

void train_one(const TrainArgs& a, const Dataset& d, Method& m, bool tty) {
    std::mt19937_64 data_rng(a.seed * 7919 + 17);  // the same crops, in the same order, for every method
    nn::Adam<float> opt(nn::parameters(*m.net), a.lr);
    const auto t0 = std::chrono::steady_clock::now();
    int last = -10;
    double recent = 0;
    for (int step = 1; step <= a.steps; ++step) {
        const Batch b = make_batch(a, d, data_rng);
        opt.zero_grad();
        const auto y = m.net->forward(b.in);
        const auto loss = nn::mse_loss(y, b.target);
        m.net->backward(loss.grad);
        opt.step();
        m.losses.push_back(loss.value);
        if (!std::isfinite(loss.value)) throw Error(m.name + ": the loss became " + std::to_string(loss.value) + " at step " + std::to_string(step) + "; try a smaller --lr");
        recent = step == 1 ? loss.value : 0.9 * recent + 0.1 * loss.value;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!a.quiet) progress(m.name, step, a.steps, recent, secs > 0 ? step * a.batch / secs : 0, tty, last);
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------- pictures

void loss_plot(const std::string& path, const std::vector<Method>& ms, const std::string& title) {
    const Rgb colours[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}, {255, 127, 14}, {140, 86, 75}};
    Scene s;
    s.w = 760;
    s.h = 420;
    const double L = 70, T = 40, W = 640, H = 300;
    double lo = INFINITY, hi = -INFINITY;
    size_t n = 0;
    std::vector<std::vector<double>> smooth;
    for (const auto& m : ms) {
        if (m.kind != "learned") continue;
        std::vector<double> sm;
        double acc = m.losses.empty() ? 0 : m.losses[0];
        for (double v : m.losses) sm.push_back(acc = 0.9 * acc + 0.1 * v);
        for (double v : sm) {
            lo = std::min(lo, std::log10(v));
            hi = std::max(hi, std::log10(v));
        }
        n = std::max(n, sm.size());
        smooth.push_back(sm);
    }
    if (n < 2 || !(hi > lo)) hi = lo + 1;
    lo = std::floor(lo);
    hi = std::ceil(hi);
    s.text(L, 10, title);
    s.frame(L, T, W, H, {120, 120, 120}, 1);
    for (double e = lo; e <= hi; e += 1) {
        const double y = T + H - (e - lo) / (hi - lo) * H;
        s.line(L, y, L + W, y, {225, 225, 225});
        s.text(8, y - 9, "1e" + std::to_string(int(e)));
    }
    s.text(L + W / 2 - 40, T + H + 8, "training step");
    s.text(L, T + H + 8, "0");
    s.text(L + W - 40, T + H + 8, std::to_string(n));
    size_t c = 0;  // the learned models, in order: their curve colour and legend row
    for (size_t k = 0; k < ms.size(); ++k) {
        if (ms[k].kind != "learned") continue;
        const auto& sm = smooth[c];
        const Rgb col = colours[c % 6];
        for (size_t i = 1; i < sm.size(); ++i)
            s.line(L + W * double(i - 1) / double(n - 1), T + H - (std::log10(sm[i - 1]) - lo) / (hi - lo) * H, L + W * double(i) / double(n - 1),
                   T + H - (std::log10(sm[i]) - lo) / (hi - lo) * H, col, 1.5);
        s.rect(L + 10, T + H + 30 + 18 * double(c), 14, 10, col);
        s.text(L + 30, T + H + 26 + 18 * double(c), ms[k].name);
        ++c;
    }
    s.h = int(T + H + 40 + 18 * c);
    s.save(path);
}

void compare_picture(const std::string& path, const std::vector<Method>& ms, const Gray& input, const Gray& truth,
                     const std::vector<Gray>& outputs, const std::vector<Gray>& flats, int up, const std::string& input_label) {
    // A 64x64 window of the truth near the centre, each method's output over it, enlarged 3x.
    const int win = std::min({64, truth.w, truth.h}), zoom = 4, x0 = (truth.w - win) / 2, y0 = (truth.h - win) / 2;
    auto window = [&](const Gray& g, int f) {  // g at 1/f of truth's resolution: nearest-enlarged
        Gray r(win, win);
        for (int y = 0; y < win; ++y)
            for (int x = 0; x < win; ++x) r.at(x, y) = g.at((x0 + x) / f, (y0 + y) / f);
        return r;
    };
    auto stretch = [](Gray g) {  // contrast-stretched, so a faint pattern shows
        const auto [mn, mx] = std::minmax_element(g.v.begin(), g.v.end());
        const float lo = *mn, hi = *mx;
        for (auto& v : g.v) v = hi > lo + 1e-6f ? (v - lo) / (hi - lo) : 0.5f;
        return g;
    };
    const int tile = win * zoom, gap = 14, label = 40, cols = 4;
    const int n = int(ms.size()) + 2, rows = (n + cols - 1) / cols;
    const int flat_rows = (int(flats.size()) + cols - 1) / cols;
    Scene s;
    s.w = cols * (tile + gap) + gap;
    s.h = (rows + flat_rows) * (tile + label + gap) + 60;
    int k = 0;
    auto put = [&](const Gray& g, const std::string& l1, const std::string& l2, int yoff) {
        const int cx = gap + (k % cols) * (tile + gap), cy = yoff + (k / cols) * (tile + label + gap);
        s.picture(cx, cy + label, zoom, to_image(g));
        s.text(cx, cy + 2, l1.substr(0, size_t(tile / 9)));
        s.text(cx, cy + 20, l2);
        ++k;
    };
    auto fmt = [](double v, int p) {
        std::ostringstream o;
        o << std::fixed << std::setprecision(p) << v;
        return o.str();
    };
    put(window(input, up), input_label.substr(0, size_t(tile / 9)), "", 10);
    for (size_t m = 0; m < ms.size(); ++m)
        put(window(outputs[m], 1), ms[m].slug + (ms[m].kind == "learned" ? " (learned)" : ""), fmt(ms[m].psnr, 2) + " dB  SSIM " + fmt(ms[m].ssim, 3), 10);
    put(window(truth, 1), "original", "", 10);
    const int yflat = 10 + rows * (tile + label + gap);
    s.text(gap, yflat, "On a flat grey input, contrast stretched: the pattern each method stamps on smooth regions");
    k = 0;
    size_t fi = 0;
    for (size_t m = 0; m < ms.size(); ++m) {
        if (ms[m].kind != "learned" && ms[m].slug != "fcn-bilinear") continue;
        Gray f = flats[fi++];
        Gray w(std::min(win, f.w), std::min(win, f.h));
        for (int y = 0; y < w.h; ++y)
            for (int x = 0; x < w.w; ++x) w.at(x, y) = f.at((f.w - w.w) / 2 + x, (f.h - w.h) / 2 + y);
        put(stretch(w), ms[m].slug, "unevenness " + fmt(ms[m].uneven, 4), yflat + 24);
    }
    s.save(path);
}

// ---------------------------------------------------------------- the command

int run_train(TrainArgs a) {
    if (a.task != "sr" && a.task != "denoise") throw Error("--task=" + a.task + " must be sr or denoise");
    if (a.scale != 2 && a.scale != 4) throw Error("--scale=" + std::to_string(a.scale) + " must be 2 or 4");
    if (a.steps == 0) a.steps = a.task == "sr" ? 1500 : 1000;
    if (a.steps < 1) throw Error("--steps=" + std::to_string(a.steps) + " must be positive");
    if (a.batch < 1 || a.batch > 256) throw Error("--batch=" + std::to_string(a.batch) + " must lie in [1, 256]");
    if (a.channels < 1 || a.channels > 128) throw Error("--channels=" + std::to_string(a.channels) + " must lie in [1, 128]");
    if (!(a.lr > 0 && a.lr < 1)) throw Error("--lr must lie in (0, 1)");
    if (!(a.noise >= 0 && a.noise <= 1)) throw Error("--noise must lie in [0, 1]");
    const int unit = a.task == "sr" ? a.scale : 4;
    if (a.crop == 0) a.crop = a.task == "sr" ? 16 * a.scale : 32;
    if (a.crop < 4 * unit || a.crop > 256 || a.crop % unit)
        throw Error("--crop=" + std::to_string(a.crop) + " must be a multiple of " + std::to_string(unit) + " in [" + std::to_string(4 * unit) + ", 256]");
    if (a.test_size < 32 || a.test_size > 1024) throw Error("--test-size must lie in [32, 1024]");
    std::filesystem::create_directories(a.out);

    const Dataset d = load_data(a, std::max(a.crop, 32));
    std::mt19937_64 init_rng(a.seed);
    std::vector<Method> ms = a.task == "sr" ? sr_methods(a, init_rng) : denoise_methods(a, init_rng);
    if (!a.models.empty()) {  // train only these learned models
        std::vector<std::string> want, known;
        std::stringstream list(a.models);
        for (std::string w; std::getline(list, w, ',');) want.push_back(w);
        for (const auto& m : ms)
            if (m.kind == "learned") known.push_back(m.slug);
        for (const auto& w : want)
            if (std::find(known.begin(), known.end(), w) == known.end()) {
                std::string k;
                for (const auto& n : known) k += (k.empty() ? "" : ", ") + n;
                throw Error("--models: '" + w + "' is not a learned model of this task; choose from " + k);
            }
        std::erase_if(ms, [&](const Method& m) { return m.kind == "learned" && std::find(want.begin(), want.end(), m.slug) == want.end(); });
    }
    const bool tty = isatty(2);
    std::cout << "tconv train: " << (a.task == "sr" ? "super-resolution x" + std::to_string(a.scale) : "denoising (noise sigma " + std::to_string(a.noise).substr(0, 4) + ")")
              << " on " << d.source << "\n  training images (" << d.train.size() << "):";
    for (const auto& n : d.train_names) std::cout << " " << n;
    std::cout << "\n  held out for testing (" << d.test.size() << "):";
    for (const auto& n : d.test_names) std::cout << " " << n;
    std::cout << "\n  " << a.steps << " steps of Adam (lr " << a.lr << "), batches of " << a.batch << " crops of " << a.crop << "x" << a.crop
              << ", MSE loss, seed " << a.seed << "\n" << std::flush;
    for (auto& m : ms) {
        if (m.kind != "learned") continue;
        train_one(a, d, m, tty);
        nn::save_weights(a.out + "/" + m.slug + ".npz", *m.net);
    }

    // Evaluation on the held-out images.
    std::mt19937_64 noise_rng(a.seed * 31 + 5);
    std::normal_distribution<float> noise(0, float(a.noise));
    std::vector<std::vector<double>> P(ms.size()), S(ms.size());
    Gray first_in, first_truth;
    std::vector<Gray> first_out(ms.size());
    for (size_t t = 0; t < d.test.size(); ++t) {
        const Gray truth = centre_crop(d.test[t], a.test_size, unit);
        Gray in = a.task == "sr" ? train::box_downsample(truth, a.scale) : truth;
        if (a.task == "denoise")
            for (auto& v : in.v) v += noise(noise_rng);
        for (size_t m = 0; m < ms.size(); ++m) {
            Gray out = ms[m].apply(in);
            const int shave = a.task == "sr" ? a.scale : 4;
            P[m].push_back(train::psnr(out, truth, shave));
            S[m].push_back(train::ssim(out, truth, shave));
            if (t == 0) first_out[m] = std::move(out);
        }
        if (t == 0) {
            first_in = in;
            first_truth = truth;
        }
    }
    std::vector<Gray> flats;
    for (auto& m : ms) {
        const int size = a.task == "sr" ? 32 : 64;
        const Gray flat(size, size, 0.5f);
        const Gray o = m.apply(flat);
        m.uneven = train::flat_unevenness(o, unit, a.task == "sr" ? 4 * a.scale : 16);
        if (m.kind == "learned" || m.slug == "fcn-bilinear") flats.push_back(o);
    }
    for (size_t m = 0; m < ms.size(); ++m) {
        double p = 0, s = 0;
        for (size_t t = 0; t < P[m].size(); ++t) {
            p += P[m][t];
            s += S[m][t];
        }
        ms[m].psnr = p / double(P[m].size());
        ms[m].ssim = s / double(S[m].size());
    }

    std::ostringstream tab;
    tab << "\nOn the " << d.test.size() << " held-out images (centre " << a.test_size << "x" << a.test_size << " crops; mean PSNR and SSIM, border of "
        << (a.task == "sr" ? a.scale : 4) << " px ignored):\n\n";
    tab << "  " << std::left << std::setw(50) << "method" << std::right << std::setw(9) << "PSNR dB" << std::setw(8) << "SSIM" << std::setw(14)
        << "checkerboard" << std::setw(12) << "train loss" << "\n";
    for (const auto& m : ms) {
        tab << "  " << std::left << std::setw(50) << m.name << std::right << std::fixed << std::setprecision(2) << std::setw(9) << m.psnr
            << std::setprecision(4) << std::setw(8) << m.ssim << std::setw(14) << m.uneven;
        if (m.kind == "learned") {
            double tail = 0;
            const size_t k = std::min<size_t>(50, m.losses.size());
            for (size_t i = m.losses.size() - k; i < m.losses.size(); ++i) tail += m.losses[i];
            tab << std::scientific << std::setprecision(2) << std::setw(12) << tail / double(k) << std::fixed;
        }
        tab << "\n";
    }
    tab << "\n  Pictures label the methods by these short names:";
    for (const auto& m : ms) tab << " " << m.slug;
    tab << "\n  checkerboard: unevenness of the output on a flat grey input, (max - min) / max of the mean of each of the "
        << unit << "x" << unit << " phases; 0 = even.\n";
    std::cout << tab.str();

    const std::string title = a.task == "sr" ? "training loss (MSE), super-resolution x" + std::to_string(a.scale) : "training loss (MSE), denoising";
    loss_plot(a.out + "/loss.png", ms, title);
    compare_picture(a.out + "/compare.png", ms, first_in, first_truth, first_out, flats, a.task == "sr" ? a.scale : 1,
                    a.task == "sr" ? "input: " + d.test_names[0] + " / " + std::to_string(a.scale) : "noisy input: " + d.test_names[0]);
    std::cout << "\nwrote " << a.out << "/loss.png, " << a.out << "/compare.png and the learned weights (" << a.out << "/*.npz, PyTorch state_dict names)\n";

    json j;
    j["task"] = a.task;
    j["scale"] = a.scale;
    j["steps"] = a.steps;
    j["seed"] = a.seed;
    j["source"] = d.source;
    j["train_images"] = d.train_names;
    j["test_images"] = d.test_names;
    for (const auto& m : ms) {
        json mj{{"name", m.name}, {"slug", m.slug}, {"kind", m.kind}, {"psnr", m.psnr}, {"ssim", m.ssim}, {"unevenness", m.uneven},
                {"psnr_per_image", P[size_t(&m - &ms[0])]}};
        if (m.kind == "learned") {
            mj["loss_first"] = m.losses.front();
            mj["loss_last"] = m.losses.back();
            mj["losses"] = m.losses;
            mj["seconds"] = m.seconds;
            mj["model"] = m.net->describe();
        }
        j["methods"].push_back(mj);
    }
    std::ofstream(a.out + "/results.json") << j.dump(1) << "\n";
    if (!a.json_path.empty()) std::ofstream(a.json_path) << j.dump(1) << "\n";
    return 0;
}

}  // namespace

Command add_train(CLI::App& app) {
    auto a = std::make_shared<TrainArgs>();
    auto* c = app.add_subcommand("train", "Train learned upsamplers (super-resolution) or a denoising autoencoder; compare with the fixed interpolations");
    c->add_option("--task", a->task, "sr (super-resolution, default) or denoise");
    c->add_option("--scale", a->scale, "super-resolution factor: 2 (default) or 4");
    c->add_option("--images", a->images, "a folder of .png images (default: scikit-image's photographs, else procedural)");
    c->add_flag("--procedural", a->procedural, "use generated pictures instead of photographs");
    c->add_option("--steps", a->steps, "training steps per model (default 1500 for sr, 1000 for denoise)");
    c->add_option("--batch", a->batch, "crops per step (default 16)");
    c->add_option("--crop", a->crop, "crop size in target pixels (default 16 x scale; 32 for denoise)");
    c->add_option("--channels", a->channels, "feature channels of the networks (default 16)");
    c->add_option("--lr", a->lr, "Adam learning rate (default 2e-3)");
    c->add_option("--noise", a->noise, "denoise: Gaussian noise sigma (default 0.1)");
    c->add_option("--test-size", a->test_size, "side of the centre crop of each test image (default 256)");
    c->add_option("--models", a->models, "train only these learned models, e.g. tconv-k4,subpixel (default all)");
    c->add_option("--seed", a->seed, "seed: initialisation, crops, noise (same seed, same result)");
    c->add_option("-o,--out", a->out, "output folder (default train-out)");
    c->add_option("--json", a->json_path, "also write the results as JSON here");
    c->add_flag("-q,--quiet", a->quiet, "no progress bar");
    return {c, [a] { return run_train(*a); }};
}

}  // namespace tconv::cli
