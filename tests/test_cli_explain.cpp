// The explanation commands run as a user runs them: explain (every example, every view, golden text,
// errors), matrix, render (PNG decoded back, colours of known cells), checkerboard, upsample, translate.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "draw.hpp"
#include "test_util.hpp"

namespace tconv::test {
namespace {

const std::string kCli = TCONV_CLI;

std::string tmpdir() {
    const auto d = std::filesystem::temp_directory_path() / ("tconv_cli_explain_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CliExplain, EveryExampleEveryViewAgreesAndFits100Columns) {
    std::string list;
    ASSERT_EQ(run_command(kCli + " explain --list-examples", list), 0) << list;
    for (const auto& ex : explain::examples()) {
        ASSERT_TRUE(contains(list, ex.name)) << list;
        for (const char* view : {"distribute", "collect", "matrix", "gradient", "all"}) {
            std::string out;
            ASSERT_EQ(run_command(kCli + " explain -e " + ex.name + " --view " + view, out), 0) << out;
            EXPECT_TRUE(contains(out, "The seed prints the same output.")) << ex.name << " " << view << "\n" << out;
            if (std::string(view) == "all") EXPECT_TRUE(contains(out, "check: the four views agree exactly")) << out;
            std::istringstream lines(out);
            std::string line;
            while (std::getline(lines, line)) EXPECT_LE(line.size(), 100u) << ex.name << " " << view << ": " << line;
        }
    }
}

TEST(CliExplain, GoldenText) {
    const std::string g = std::string(TCONV_TEST_DATA) + "/golden/";
    const std::pair<const char*, const char*> cases[] = {
        {"explain -e seed000-2d", "explain_seed000-2d.txt"},
        {"explain -e seed003-stride --view collect --cell 2,2", "explain_seed003-stride_collect.txt"},
        {"explain -e seed000-1d --view matrix", "explain_seed000-1d_matrix.txt"},
    };
    for (const auto& [args, file] : cases) {
        std::string out;
        ASSERT_EQ(run_command(kCli + " " + args, out), 0) << out;
        EXPECT_EQ(out, read_file(g + file)) << args;
    }
}

TEST(CliExplain, OwnNumbersWithEveryParameterAndJson) {
    // Two channels in, four out in two groups, dilation, output padding and asymmetric pads.
    std::string out;
    const std::string args = " explain --input '[[[1,2],[3,4]],[[0,-1],[2,1]]]' --kernel random:2x2x2x2 --groups 2 --stride 2 "
                             "--dilation 2 --pad-begin 1,0 --pad-end 0,2 --output-padding 1 --bias '[1,2,3,4]'";
    ASSERT_EQ(run_command(kCli + args + " --cell 2,1 --channel 3", out), 0) << out;
    EXPECT_TRUE(contains(out, "check: the four views agree exactly")) << out;
    ASSERT_EQ(run_command(kCli + args + " --json", out), 0) << out;
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["agree"], true);
    EXPECT_EQ(j["problem"]["string"], "mb1_g2_ic2_oc4_i2x2_k2_s2_d2_pb1x0_pe0x2_op1_bias");
    // The JSON's output equals the library's reference run on the same numbers.
    const Problem p = Problem::parse(j["problem"]["string"].get<std::string>());
    const auto x = j["input"]["values"].get<std::vector<double>>(), w = j["kernel"]["values"].get<std::vector<double>>();
    const std::vector<double> b{1, 2, 3, 4};
    Tensor<double> y(p.dst_shape());
    conv_transpose<double>(p, {x.data(), p.src_shape()}, {w.data(), p.wei_shape()}, {b.data(), {4}}, y.view());
    EXPECT_EQ(j["distribute"]["output"]["values"].get<std::vector<double>>(), y.data);
    EXPECT_EQ(j["gradient"]["output"]["values"].get<std::vector<double>>(), y.data);
}

TEST(CliExplain, ClearErrors) {
    std::string out;
    const std::string d = tmpdir();
    const std::vector<double> x{1, 2, 3, 4};
    npy::save(d + "/x.npy", {1, 1, 2, 2}, x.data());
    npy::save(d + "/w2.npy", {4}, x.data());
    std::ofstream(d + "/fake.png") << "not a png";
    const std::pair<std::string, std::string> cases[] = {
        {"explain -e seed000-2d --cell 3,0", "is outside the output: 1 channels of 3x3"},
        {"explain -e seed000-2d --cell 1", "--cell has 1 values; the output has 2 spatial axes"},
        {"explain --input ones:40x40 --kernel ones:3x3 --stride 2", "explain shows at most 1024"},
        {"explain --input ones:9x9 --kernel ones:3x3", "explain shows at most 64"},
        {"explain -e seed000-2d --view sideways", "--view=sideways must be"},
        {"explain -e nosuch", "unknown example 'nosuch': the examples are seed000-1d"},
        {"explain --input '[[1,2],[3]]' --kernel '[1]'", "ragged"},
        {"explain --input '[1,2]'", "give --example NAME, or both --input and --kernel"},
        {"explain --input '[1,2]' --kernel '[1,2,3]' --output-padding 1", "output_padding"},
        {"matrix --input ones:30x30 --kernel ones:3x3 --format text", "text shows at most 4096 entries"},
        {"render -e seed000-2d -o /tmp/x.gif", "must end in .png or .svg"},
        {"upsample --mode lanczos -i " + d + "/x.npy -o " + d + "/y.npy", "--mode=lanczos must be nearest, bilinear"},
        {"upsample --factor 0 -o " + d + "/c.png", "--factor=0 must be 1..16"},
        {"upsample -i " + d + "/fake.png -o " + d + "/y.png", "is not a PNG file"},
        {"upsample --compare " + d + "/fake.png -o " + d + "/c.png", "is not a PNG file"},
        {"upsample -i " + d + "/x.npy", "--output is required"},
        {"checkerboard --rank 4", "--rank=4 must be 1, 2 or 3"},
        {"checkerboard --layers 9", "--layers=9 must be 1..8"},
        {"checkerboard --kernel 3 --stride 2 --padding 5 --size 2", "output size o[0]=-5 must be positive"},
        {"checkerboard --problem mb1_ic1_oc1_i4_k3_s2 --problem mb1_ic1_oc1_i4x4_k3_s2", "layer 1 has 2 spatial axes but layer 0 has 1"},
        {"checkerboard --problem mb1_ic1_oc1_i4_k3_s2 --weights " + d + "/w2.npy", "--weights must have shape (C_in, C_out/groups, k...)"},
        {"checkerboard --problem mb1_ic1_oc1_i4_k3_s2 --problem mb1_ic1_oc1_i4_k3_p6", "layer 1 (reading 9): output size"},
        {"translate --from caffe --input-shape 1,1,2,2 --weight-shape 1,1,3,3", "caffe"},
        {"translate --attr stride --input-shape 1,1,2,2 --weight-shape 1,1,3,3", "--attr 'stride' must be name=value"},
        {"translate --attr stride=2", "--input-shape and --weight-shape are required"},
    };
    for (const auto& [args, msg] : cases) {
        EXPECT_EQ(run_command(kCli + " " + args, out), 2) << args << "\n" << out;
        EXPECT_TRUE(contains(out, msg)) << args << "\n" << out;
    }
    std::filesystem::remove_all(d);
}

TEST(CliExplain, MatrixFormats) {
    const std::string d = tmpdir();
    std::string out;
    ASSERT_EQ(run_command(kCli + " matrix -e seed002", out), 0) << out;
    EXPECT_TRUE(contains(out, "C (4 x 16)")) << out;
    EXPECT_TRUE(contains(out, "C^T (16 x 4)")) << out;
    ASSERT_EQ(run_command(kCli + " matrix -e seed002 --format npy -o " + d + "/m", out), 0) << out;
    const auto ct = npy::load(d + "/m_CT.npy");
    ASSERT_EQ(ct.shape, (Dims{16, 4}));
    const auto& ex = explain::example("seed002");
    std::vector<double> y(16, 0);
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 4; ++c) y[r] += ct.f64[r * 4 + c] * ex.src[c];
    EXPECT_EQ(y, ex.expected);  // C^T x2 is the seed's printed output
    ASSERT_EQ(run_command(kCli + " matrix --input ones:30x30 --kernel ones:3x3 --stride 2", out), 0) << out;
    EXPECT_TRUE(contains(out, "# C of mb1_ic1_oc1_i30x30_k3_s2: 900 rows, 3721 columns, 8100 entries")) << out.substr(0, 200);
    std::filesystem::remove_all(d);
}

TEST(CliExplain, RenderedPngDecodesWithTheRightColours) {
    const std::string d = tmpdir();
    std::string out;
    ASSERT_EQ(run_command(kCli + " render -e seed000-2d --view distribute --json -o " + d + "/r.png", out), 0) << out;
    const auto j = nlohmann::json::parse(out);
    const cli::Image im = cli::read_png(d + "/r.png");
    EXPECT_EQ(im.w, j["width"].get<int>());
    EXPECT_EQ(im.h, j["height"].get<int>());
    // Numbers must be legible: cells at least 30 pixels.
    std::map<std::string, nlohmann::json> panel;
    for (const auto& p : j["panels"]) {
        panel[p["title"].get<std::string>().substr(0, 6)] = p;
        EXPECT_GE(p["cell_w"].get<int>(), 30);
    }
    auto pixel = [&](const nlohmann::json& p, int r, int c) {  // near the top-left corner of a cell, away from its text
        return im.at(p["x"].get<int>() + c * p["cell_w"].get<int>() + 4, p["y"].get<int>() + r * p["cell_h"].get<int>() + 4);
    };
    // Input [[1,2],[3,4]] in blues: the largest value is the full hue, and colours get darker with the value.
    const auto& in = panel.at("input");
    EXPECT_EQ(pixel(in, 1, 1), (cli::Rgb{33, 102, 172}));
    EXPECT_EQ(pixel(in, 0, 0), cli::sequential(1, 0, 4, {33, 102, 172}));
    // Kernel: +1 red, 0 white, -1 blue.
    const auto& k = panel.at("kernel");
    EXPECT_EQ(pixel(k, 0, 0), (cli::Rgb{202, 0, 32}));
    EXPECT_EQ(pixel(k, 1, 1), (cli::Rgb{255, 255, 255}));
    EXPECT_EQ(pixel(k, 2, 2), (cli::Rgb{5, 113, 176}));
    // Full output: the carved-off border is grey, the kept centre (4) is coloured.
    const auto& full = panel.at("full o");
    EXPECT_EQ(pixel(full, 0, 0), (cli::Rgb{225, 225, 225}));
    EXPECT_NE(pixel(full, 2, 2), (cli::Rgb{225, 225, 225}));
    // Output [[0,0,0],[2,4,2],[0,0,0]]: 4 is the full green, 0 white.
    const auto& o = panel.at("output");
    EXPECT_EQ(pixel(o, 1, 1), (cli::Rgb{0, 109, 44}));
    EXPECT_EQ(pixel(o, 0, 0), (cli::Rgb{255, 255, 255}));
    // Every view renders, to PNG and SVG.
    for (const char* view : {"steps", "collect", "matrix", "overlap", "all"}) {
        ASSERT_EQ(run_command(kCli + " render -e seed003-stride --view " + view + " -o " + d + "/v.png", out), 0) << view << out;
        EXPECT_GT(cli::read_png(d + "/v.png").w, 100);
        ASSERT_EQ(run_command(kCli + " render -e seed003-stride --view " + view + " -o " + d + "/v.svg", out), 0) << view << out;
        const std::string svg = read_file(d + "/v.svg");
        EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
        EXPECT_TRUE(contains(svg, "</svg>\n"));
    }
    std::filesystem::remove_all(d);
}

TEST(CliExplain, CheckerboardUpsampleTranslate) {
    const std::string d = tmpdir();
    std::string out;
    ASSERT_EQ(run_command(kCli + " checkerboard --kernel 3 --stride 2 --size 4 -o " + d + "/c.png", out), 0) << out;
    EXPECT_TRUE(contains(out, "one period (2x2)\n  4 2\n  2 1\n")) << out;
    EXPECT_TRUE(contains(out, "unevenness (max - min) / max over the period: 0.750")) << out;
    EXPECT_GT(cli::read_png(d + "/c.png").w, 100);
    ASSERT_EQ(run_command(kCli + " checkerboard --kernel 4 --stride 2 --padding 1 --layers 3 --json", out), 0) << out;
    EXPECT_EQ(nlohmann::json::parse(out)["pattern"]["unevenness"], 0.0);
    // Actual weights: the per-phase sums.
    const std::vector<double> w{1, 2, 3};
    npy::save(d + "/w.npy", {1, 1, 3}, w.data());
    ASSERT_EQ(run_command(kCli + " checkerboard --problem mb1_ic1_oc1_i4_k3_s2 --weights " + d + "/w.npy --json", out), 0) << out;
    EXPECT_EQ(nlohmann::json::parse(out)["weights"]["values"], nlohmann::json::parse("[4.0, 2.0]"));  // taps 0,2 and 1
    // Upsample a .npy and the comparison picture.
    const std::vector<float> x{0, 1, 2, 3};
    npy::save(d + "/x.npy", {1, 1, 2, 2}, x.data());
    ASSERT_EQ(run_command(kCli + " upsample --mode nearest -i " + d + "/x.npy -o " + d + "/y.npy", out), 0) << out;
    EXPECT_EQ(npy::load(d + "/y.npy").f32, (std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}));
    ASSERT_EQ(run_command(kCli + " upsample -o " + d + "/cmp.png", out), 0) << out;
    EXPECT_TRUE(contains(out, "transposed k3 s2     0.750")) << out;
    const cli::Image cmp = cli::read_png(d + "/cmp.png");
    EXPECT_GT(cmp.w, 500);
    ASSERT_EQ(run_command(kCli + " upsample --mode bicubic -i " + d + "/cmp.png -o " + d + "/big.png --factor 2", out), 0) << out;
    const cli::Image big = cli::read_png(d + "/big.png");
    EXPECT_EQ(big.w, 2 * cmp.w);
    EXPECT_EQ(big.h, 2 * cmp.h);
    ASSERT_EQ(run_command(kCli + " translate --attr stride=2 --attr padding=1 --attr output_padding=1 --input-shape 1,16,8,8 "
                                 "--weight-shape 16,8,3,3 --to tensorflow",
                          out), 0) << out;
    EXPECT_TRUE(contains(out, "== tensorflow (exact)")) << out;
    EXPECT_TRUE(contains(out, "tf.nn.conv2d_transpose")) << out;
    ASSERT_EQ(run_command(kCli + " translate --attr stride=2 --input-shape 1,4,5 --weight-shape 4,2,3 --json", out), 0) << out;
    EXPECT_EQ(nlohmann::json::parse(out)["targets"].size(), 8u);
    std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace tconv::test
