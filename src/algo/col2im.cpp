// col2im: how PyTorch's CPU path and ncnn compute it. Per image and group, one GEMM makes the column
// buffer col[(oc, k), i] = sum over ic of wei[ic, oc, k] * src[ic, i] (every input value times every
// tap), then col2im adds each column entry into dst at o = i*s - pb + k*d. The gradients use the
// mirror pair: im2col of diff_dst, then a GEMM.
#include <vector>

#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

constexpr int64_t kMaxColumn = int64_t(1) << 26;

std::string supports(const Problem& p, Direction) {
    int64_t n = 0;
    try {
        n = detail::mul(detail::mul(p.oc / p.g, detail::prod(p.k), "col2im buffer"), detail::prod(p.i), "col2im buffer");
    } catch (const Error&) {
        n = kMaxColumn + 1;
    }
    if (n > kMaxColumn) return detail::cat("its column buffer would hold ", n, " values (limit ", kMaxColumn, ")");
    return {};
}

// For every column row r = (ocl, k) and input position i, the flat output offset it maps to, or -1 when
// cropped. Shared by col2im and im2col; computed once per call. The map is separable: per axis a table of
// o = i*s - pb + k*d (times the output stride), then each row is their sums, built axis by axis in place.
std::vector<int64_t> column_targets(const Problem& p, const Geometry& G) {
    std::vector<std::vector<int64_t>> axis(static_cast<size_t>(G.rank));
    for (int a = 0; a < G.rank; ++a) {
        axis[a].resize(static_cast<size_t>(G.k[a] * G.i[a]));
        for (int64_t kk = 0; kk < G.k[a]; ++kk)
            for (int64_t x = 0; x < G.i[a]; ++x) {
                const int64_t o = x * p.s[a] - p.pb[a] + kk * p.d[a];
                axis[a][kk * G.i[a] + x] = o < 0 || o >= G.o[a] ? -1 : o * G.o_st[a];
            }
    }
    std::vector<int64_t> t(static_cast<size_t>(G.ksz * G.isz));
    detail::for_each_index(G.k, [&](const int64_t* kk) {
        int64_t* row = t.data() + flat(kk, G.k_st) * G.isz;
        row[0] = 0;
        int64_t n = 1;  // row[0, n) holds the offsets over the axes so far; widen it by the next axis
        for (int a = 0; a < G.rank; ++a) {
            const int64_t* ta = axis[a].data() + kk[a] * G.i[a];
            for (int64_t j = n - 1; j >= 0; --j) {  // from the back: row[j] is read before anything overwrites it
                const int64_t base = row[j];
                for (int64_t x = G.i[a] - 1; x >= 0; --x) row[j * G.i[a] + x] = base < 0 || ta[x] < 0 ? -1 : base + ta[x];
            }
            n *= G.i[a];
        }
    });
    return t;
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const Geometry G(p);
    const int64_t rows = G.ocg * G.ksz;  // column rows: (ocl, k)
    const std::vector<int64_t> target = column_targets(p, G);
    std::vector<T> col(static_cast<size_t>(rows * G.isz));
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t grp = 0; grp < p.g; ++grp) {
            // GEMM: col (rows x isz) = W^T (rows x icg) * S (icg x isz), W = wei[grp*icg .., :, :] as (icg x rows).
            const T* w = wei + grp * G.icg * rows;
            const T* s = src + (n * p.ic + grp * G.icg) * G.isz;
            std::fill(col.begin(), col.end(), T(0));
            for (int64_t r = 0; r < rows; ++r) {
                T* c = col.data() + r * G.isz;
                for (int64_t icl = 0; icl < G.icg; ++icl) {
                    const T a = w[icl * rows + r];
                    const T* srow = s + icl * G.isz;
                    for (int64_t x = 0; x < G.isz; ++x) c[x] += a * srow[x];
                }
            }
            // col2im: scatter-add every column entry to its output position.
            for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
                const int64_t oc = grp * G.ocg + ocl;
                T* d = dst + (n * p.oc + oc) * G.osz;
                std::fill(d, d + G.osz, bia ? bia[oc] : T(0));
                for (int64_t kx = 0; kx < G.ksz; ++kx) {
                    const T* c = col.data() + (ocl * G.ksz + kx) * G.isz;
                    const int64_t* t = target.data() + kx * G.isz;
                    for (int64_t x = 0; x < G.isz; ++x)
                        if (t[x] >= 0) d[t[x]] += c[x];
                }
            }
        }
}

// im2col of one image and group of diff_dst: col[(ocl, k), i] = diff_dst[oc, o(i, k)], 0 where cropped.
template <class T>
void im2col(const Problem& p, const Geometry& G, const std::vector<int64_t>& target, const T* diff_dst, int64_t n,
            int64_t grp, std::vector<T>& col) {
    for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
        const T* d = diff_dst + (n * p.oc + grp * G.ocg + ocl) * G.osz;
        for (int64_t kx = 0; kx < G.ksz; ++kx) {
            T* c = col.data() + (ocl * G.ksz + kx) * G.isz;
            const int64_t* t = target.data() + kx * G.isz;
            for (int64_t x = 0; x < G.isz; ++x) c[x] = t[x] >= 0 ? d[t[x]] : T(0);
        }
    }
}

template <class T>
void backward_data(const Problem& p, const T* diff_dst, const T* wei, T* diff_src) {
    const Geometry G(p);
    const int64_t rows = G.ocg * G.ksz;
    const std::vector<int64_t> target = column_targets(p, G);
    std::vector<T> col(static_cast<size_t>(rows * G.isz));
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t grp = 0; grp < p.g; ++grp) {
            im2col(p, G, target, diff_dst, n, grp, col);
            // GEMM: diff_src (icg x isz) = W (icg x rows) * col (rows x isz).
            const T* w = wei + grp * G.icg * rows;
            for (int64_t icl = 0; icl < G.icg; ++icl) {
                T* ds = diff_src + (n * p.ic + grp * G.icg + icl) * G.isz;
                std::fill(ds, ds + G.isz, T(0));
                for (int64_t r = 0; r < rows; ++r) {
                    const T a = w[icl * rows + r];
                    const T* c = col.data() + r * G.isz;
                    for (int64_t x = 0; x < G.isz; ++x) ds[x] += a * c[x];
                }
            }
        }
}

template <class T>
void backward_weights(const Problem& p, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia) {
    const Geometry G(p);
    const int64_t rows = G.ocg * G.ksz;
    const std::vector<int64_t> target = column_targets(p, G);
    std::vector<T> col(static_cast<size_t>(rows * G.isz));
    std::fill(diff_wei, diff_wei + p.ic * rows, T(0));
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t grp = 0; grp < p.g; ++grp) {
            im2col(p, G, target, diff_dst, n, grp, col);
            // GEMM: diff_wei (icg x rows) += S (icg x isz) * col^T (isz x rows).
            for (int64_t icl = 0; icl < G.icg; ++icl) {
                const T* s = src + (n * p.ic + grp * G.icg + icl) * G.isz;
                T* dw = diff_wei + (grp * G.icg + icl) * rows;
                for (int64_t r = 0; r < rows; ++r) {
                    const T* c = col.data() + r * G.isz;
                    T acc = 0;
                    for (int64_t x = 0; x < G.isz; ++x) acc += s[x] * c[x];
                    dw[r] += acc;
                }
            }
        }
    if (!diff_bia) return;
    for (int64_t oc = 0; oc < p.oc; ++oc) {
        T acc = 0;
        for (int64_t n = 0; n < p.mb; ++n) {
            const T* d = diff_dst + (n * p.oc + oc) * G.osz;
            for (int64_t x = 0; x < G.osz; ++x) acc += d[x];
        }
        diff_bia[oc] = acc;
    }
}

}  // namespace

Algorithm col2im() {
    return {"col2im",
            "GEMM into a column buffer (every input value times every tap), then the col2im scatter-add",
            supports,
            {forward<float>, backward_data<float>, backward_weights<float>},
            {forward<double>, backward_data<double>, backward_weights<double>}};
}

}  // namespace tconv::algo
