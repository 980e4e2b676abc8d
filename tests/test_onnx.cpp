// ONNX ConvTranspose semantics: ONNX's own backend cases (frozen by tests/data/make_onnx_cases.py) through
// every algorithm, and the traps of SEMANTICS.md checked by hand.
#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace tconv::test {
namespace {

Dims parse_list(const std::string& v) {
    Dims r;
    std::stringstream ss(v);
    std::string x;
    while (std::getline(ss, x, ',')) r.push_back(std::stoll(x));
    return r;
}

struct OnnxCase {
    std::string name;
    onnx::Attributes attrs;
    std::vector<std::string> inputs;
    std::string output;
};

std::vector<OnnxCase> onnx_cases() {
    std::ifstream f(data_path("data/onnx/manifest.txt"));
    std::vector<OnnxCase> r;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> parts;
        std::stringstream ss(line);
        std::string part;
        while (std::getline(ss, part, '|')) parts.push_back(part);
        OnnxCase c;
        c.name = parts.at(0);
        std::stringstream as(parts.at(1));
        std::string kv;
        while (std::getline(as, kv, ';')) {
            const auto eq = kv.find('=');
            const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
            if (k == "auto_pad") c.attrs.auto_pad = v;
            else if (k == "strides") c.attrs.strides = parse_list(v);
            else if (k == "pads") c.attrs.pads = parse_list(v);
            else if (k == "dilations") c.attrs.dilations = parse_list(v);
            else if (k == "output_shape") c.attrs.output_shape = parse_list(v);
            else if (k == "output_padding") c.attrs.output_padding = parse_list(v);
            else if (k == "kernel_shape") c.attrs.kernel_shape = parse_list(v);
            else if (k == "group") c.attrs.group = std::stoll(v);
            else ADD_FAILURE() << "unknown attribute " << k;
        }
        std::stringstream is(parts.at(2));
        std::string in;
        while (is >> in) c.inputs.push_back(in);
        c.output = parts.at(3);
        r.push_back(c);
    }
    return r;
}

Tensor<float> load(const std::string& file) {
    const auto a = npy::load(data_path("data/onnx/" + file));
    Tensor<float> t;
    t.shape = a.shape;
    t.data = a.f32;
    return t;
}

TEST(Onnx, BackendCasesThroughEveryAlgorithm) {
    const auto cases = onnx_cases();
    ASSERT_GE(cases.size(), 9u);
    for (const auto& c : cases) {
        const auto x = load(c.inputs.at(0)), w = load(c.inputs.at(1)), y = load(c.output);
        const bool has_bias = c.inputs.size() > 2;
        Tensor<float> b;
        if (has_bias) b = load(c.inputs.at(2));
        const Problem p = onnx::problem(x.shape, w.shape, has_bias, c.attrs);
        ASSERT_EQ(p.dst_shape(), y.shape) << c.name << " " << p.str();
        for (const auto& name : supporting(p, Direction::forward))
            EXPECT_EQ(forward<float>(p, x, w, has_bias ? &b : nullptr, name).data, y.data) << c.name << " " << p.str() << " " << name;
    }
}

// The official output_shape case: total padding is -1 on both axes, so the output grows and, with Python's
// floor division in the split, the extra zero row and column are at the END (not the start).
TEST(Onnx, NegativeTotalPaddingGrowsAtTheEnd) {
    onnx::Attributes a;
    a.strides = {3, 2};
    a.output_shape = {10, 8};
    const Problem p = onnx::problem({1, 1, 3, 3}, {1, 2, 3, 3}, false, a);
    EXPECT_EQ(p.pb, (Dims{0, 0}));
    EXPECT_EQ(p.pe, (Dims{-1, -1}));
    EXPECT_EQ(p.o(), (Dims{10, 8}));
    Tensor<float> x({1, 1, 3, 3});
    for (int j = 0; j < 9; ++j) x.data[j] = static_cast<float>(j);
    const auto y = forward<float>(p, x, Tensor<float>({1, 2, 3, 3}, 1.f), nullptr, "scatter");
    const std::vector<float> row0(y.data.begin(), y.data.begin() + 8);
    EXPECT_EQ(row0, (std::vector<float>{0, 0, 1, 1, 3, 2, 2, 0}));  // hand-computed: [0,1,2] spread at stride 2
    for (int c = 0; c < 8; ++c) EXPECT_EQ(y.data[9 * 8 + c], 0.f) << "last row must be the added zero row";
}

// SEMANTICS.md's table: i=4, k=3, s=2, full 9, target 8: where the odd pixel is cropped.
TEST(Onnx, WhereTheOddPixelGoes) {
    const Dims x{1, 1, 4}, w{1, 1, 3};
    onnx::Attributes upper;
    upper.auto_pad = "SAME_UPPER";
    upper.strides = {2};
    onnx::Attributes lower = upper;
    lower.auto_pad = "SAME_LOWER";
    onnx::Attributes notset;
    notset.strides = {2};
    notset.output_shape = {8};
    const Problem pu = onnx::problem(x, w, false, upper), pl = onnx::problem(x, w, false, lower),
                  pn = onnx::problem(x, w, false, notset);
    EXPECT_EQ(std::make_pair(pu.pb[0], pu.pe[0]), std::make_pair(int64_t(0), int64_t(1)));
    EXPECT_EQ(std::make_pair(pl.pb[0], pl.pe[0]), std::make_pair(int64_t(1), int64_t(0)));
    EXPECT_EQ(std::make_pair(pn.pb[0], pn.pe[0]), std::make_pair(int64_t(1), int64_t(0)));
    // PyTorch padding=1, output_padding=1 crops one at the start and none at the end: it equals SAME_LOWER,
    // and SAME_UPPER is the full output's first 8 values (shifted one against PyTorch).
    const Problem pt = pytorch_problem(1, 1, 1, {4}, {3}, {2}, {1}, {1});
    const Problem full = pytorch_problem(1, 1, 1, {4}, {3}, {2});
    const auto src = small_ints<float>({1, 1, 4}, 7), wei = small_ints<float>({1, 1, 3}, 8);
    const auto y_pt = forward<float>(pt, src, wei, nullptr, "scatter");
    EXPECT_EQ(forward<float>(pl, src, wei, nullptr, "scatter").data, y_pt.data);
    EXPECT_EQ(forward<float>(pn, src, wei, nullptr, "scatter").data, y_pt.data);
    const auto y_full = forward<float>(full, src, wei, nullptr, "scatter");
    EXPECT_EQ(forward<float>(pu, src, wei, nullptr, "scatter").data,
              std::vector<float>(y_full.data.begin(), y_full.data.begin() + 8));
    EXPECT_EQ(y_pt.data, std::vector<float>(y_full.data.begin() + 1, y_full.data.end()));
}

// SAME without output_shape: the output is i*s; a kernel shorter than the stride is extended with zeros.
TEST(Onnx, SameWithKernelShorterThanStride) {
    onnx::Attributes a;
    a.auto_pad = "SAME_UPPER";
    a.strides = {3};
    const Problem p = onnx::problem({1, 1, 2}, {1, 1, 2}, false, a);
    EXPECT_EQ(p.o(), Dims{6});
    const auto y = forward<float>(p, make<float>({1, 1, 2}, {1, 2}), make<float>({1, 1, 2}, {3, 4}), nullptr, "scatter");
    EXPECT_EQ(y.data, (std::vector<float>{3, 4, 0, 6, 8, 0}));
}

TEST(Onnx, ValidAndAsymmetricPads) {
    onnx::Attributes v;
    v.auto_pad = "VALID";
    v.strides = {2, 2};
    v.pads = {5, 5, 5, 5};  // ignored under VALID
    EXPECT_EQ(onnx::problem({1, 1, 3, 3}, {1, 1, 3, 3}, false, v).o(), (Dims{7, 7}));
    onnx::Attributes a;
    a.strides = {2, 2};
    a.pads = {1, 0, 0, 2};  // begins (axis 0, axis 1), then ends
    const Problem p = onnx::problem({1, 1, 3, 3}, {1, 1, 3, 3}, false, a);
    EXPECT_EQ(p.pb, (Dims{1, 0}));
    EXPECT_EQ(p.pe, (Dims{0, 2}));
    EXPECT_EQ(p.o(), (Dims{6, 5}));
}

TEST(Onnx, GroupsAndBias) {
    onnx::Attributes a;
    a.group = 2;
    const Problem p = onnx::problem({2, 4, 3}, {4, 3, 2}, true, a);
    EXPECT_EQ(p.oc, 6);
    EXPECT_EQ(p.g, 2);
    EXPECT_TRUE(p.bias);
}

TEST(Onnx, Errors) {
    auto msg = [](const Dims& x, const Dims& w, const onnx::Attributes& a) {
        try {
            onnx::problem(x, w, false, a);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    onnx::Attributes a;
    a.auto_pad = "SAME";
    EXPECT_NE(msg({1, 1, 3}, {1, 1, 3}, a).find("auto_pad='SAME' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID"), std::string::npos);
    a = {};
    a.pads = {1, 1};
    EXPECT_NE(msg({1, 1, 3, 3}, {1, 1, 3, 3}, a).find("pads has 2 values (1,1) but needs 2*2=4"), std::string::npos);
    a = {};
    a.kernel_shape = {2, 2};
    EXPECT_NE(msg({1, 1, 3, 3}, {1, 1, 3, 3}, a).find("kernel_shape=(2,2) does not match W's kernel (3,3)"), std::string::npos);
    a = {};
    EXPECT_NE(msg({1, 2, 3, 3}, {1, 1, 3, 3}, a).find("W[0]=1 input channels but X has C=2"), std::string::npos);
    a.strides = {2};
    EXPECT_NE(msg({1, 1, 3, 3}, {1, 1, 3, 3}, a).find("strides has 1 values"), std::string::npos);
    a = {};
    a.pads = {0, -1};
    EXPECT_NE(msg({1, 1, 3}, {1, 1, 3}, a).find("must not be negative"), std::string::npos);
    a = {};
    a.output_shape = {0};
    EXPECT_NE(msg({1, 1, 3}, {1, 1, 3}, a).find("output_shape[0]=0 must be positive"), std::string::npos);
    a = {};
    a.group = 3;
    EXPECT_NE(msg({1, 4, 3}, {4, 1, 3}, a).find("ic=4 must be divisible by groups g=3"), std::string::npos);
}

}  // namespace
}  // namespace tconv::test
