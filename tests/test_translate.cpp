// Translation in C++: a grid of PyTorch layers goes to every framework; the target layer, read back by its own
// rules, computed by tconv and cropped as the recipe says, equals the source layer's output. The independent
// check (each framework's semantics written from its own definition) is tests/python/test_translate.py.
#include "tconv/translate.hpp"

#include "test_util.hpp"

namespace tconv::test {
namespace {

namespace tr = tconv::translate;

// y (canonical layout, target window) cropped/extended to the source's window; bias added if held back.
Tensor<double> finish(const Tensor<double>& y, const Problem& want, const tr::Translation& t, const Tensor<double>& b) {
    Tensor<double> out(want.dst_shape());
    const int rank = want.rank();
    const Dims ext = want.dst_shape();
    for (int64_t flat = 0; flat < out.size(); ++flat) {
        Dims idx(ext.size());
        for (int64_t a = static_cast<int64_t>(ext.size()) - 1, r = flat; a >= 0; --a) idx[a] = r % ext[a], r /= ext[a];
        int64_t src = 0, dst = 0;
        bool inside = true;
        for (int a = 0; a < rank + 2; ++a) {
            int64_t j = idx[a];
            if (a >= 2) j += t.crop_begin[a - 2];
            if (j < 0 || j >= y.shape[a]) inside = false;
            src = src * y.shape[a] + j;
            dst = dst * ext[a] + idx[a];
        }
        out.data[dst] = inside ? y.data[src] : 0.0;
        if (t.bias_after) out.data[dst] += b.data[idx[1]];
    }
    return out;
}

TEST(Translate, EveryTargetReproducesPyTorchLayers) {
    int checked = 0, recipes = 0;
    for (int64_t s : {1, 2, 3})
        for (int64_t k : {1, 2, 3, 4})
            for (int64_t pad = 0; pad < k; ++pad)
                for (int64_t op = 0; op < s; ++op)
                    for (int64_t g : {1, 2}) {
                        tr::Layer L{tr::Framework::pytorch,
                                    {{"stride", Dims{s}}, {"padding", Dims{pad}}, {"output_padding", Dims{op}}, {"groups", Dims{g}}},
                                    {1, 2 * g, 3, 4},
                                    {2 * g, 2, k, k},
                                    true};
                        Problem p;
                        try {
                            p = tr::to_problem(L);
                        } catch (const Error&) {
                            continue;  // an empty output, or op not below the stride
                        }
                        auto x = small_ints<double>(p.src_shape(), 1), w = small_ints<double>(p.wei_shape(), 2);
                        auto b = small_ints<double>({p.oc}, 3);
                        Tensor<double> y(p.dst_shape());
                        conv_transpose<double>(p, x.view(), w.view(), b.view(), y.view());
                        for (const auto& fw : tr::framework_names()) {
                            const auto t = tr::translate(L, tr::framework(fw));
                            if (!t.representable) {
                                EXPECT_TRUE(g > 1) << fw;
                                continue;
                            }
                            const Problem q = tr::to_problem(t.layer);
                            // Weights to the target layout and back to the canonical one are the same array.
                            auto wt = tr::convert_weights<double>(w.view(), {{"gi", "o", "k"}, false}, t.weights, g);
                            auto wb = tr::convert_weights<double>(wt.view(), t.weights, {{"gi", "o", "k"}, false}, g);
                            ASSERT_EQ(wb.data, w.data) << fw;
                            Tensor<double> yq(q.dst_shape());
                            View<const double> bq = q.bias ? View<const double>(b.view()) : View<const double>();
                            conv_transpose<double>(q, x.view(), w.view(), bq, yq.view());
                            const auto out = finish(yq, p, t, b);
                            ASSERT_EQ(out.data, y.data) << p.str() << " -> " << fw << ": " << t.code;
                            ++checked;
                            recipes += !t.exact;
                        }
                    }
    EXPECT_GT(checked, 500);
    EXPECT_GT(recipes, 10);  // keras cannot express PyTorch's alignment
}

TEST(Translate, TfSameToPyTorchIsARecipe) {
    tr::Layer L{tr::Framework::tensorflow,
                {{"strides", Dims{2}}, {"padding", std::string("SAME")}, {"output_shape", Dims{8, 8}}},
                {1, 4, 4, 3},
                {3, 3, 5, 3}};
    const auto t = tr::translate(L, tr::Framework::pytorch);
    EXPECT_FALSE(t.exact);
    EXPECT_EQ(t.crop_begin, (Dims{0, 0}));
    EXPECT_EQ(t.crop_end, (Dims{1, 1}));
    EXPECT_EQ(t.final_shape, (Dims{1, 5, 8, 8}));
}

TEST(Translate, Errors) {
    EXPECT_THROW(tr::framework("caffe"), Error);
    tr::Layer L{tr::Framework::onnx, {{"stride", Dims{2}}}, {1, 1, 3}, {1, 1, 3}};
    try {
        tr::to_problem(L);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no attribute 'stride'"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace tconv::test
