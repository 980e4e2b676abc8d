// matrix: the convolution matrix C (seed 002, seed 001) built explicitly as a sparse matrix, then the
// transposed convolution is literally C^T times the flattened input, and its input gradient C times
// the flattened output gradient.
#include "tconv/matrix.hpp"

#include "../util.hpp"
#include "algo.hpp"

namespace tconv {

template <class T>
SparseMatrix<T> SparseMatrix<T>::transposed() const {
    SparseMatrix<T> t;
    t.rows = cols;
    t.cols = rows;
    t.row_start.assign(static_cast<size_t>(cols + 1), 0);
    for (int64_t c : col) ++t.row_start[c + 1];
    for (int64_t r = 0; r < cols; ++r) t.row_start[r + 1] += t.row_start[r];
    t.col.resize(col.size());
    t.val.resize(val.size());
    std::vector<int64_t> next(t.row_start.begin(), t.row_start.end() - 1);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t e = row_start[r]; e < row_start[r + 1]; ++e) {
            const int64_t dstpos = next[col[e]]++;
            t.col[dstpos] = r;
            t.val[dstpos] = val[e];
        }
    return t;
}

template <class T>
void SparseMatrix<T>::multiply(const T* x, T* y) const {
    for (int64_t r = 0; r < rows; ++r) {
        T acc = 0;
        for (int64_t e = row_start[r]; e < row_start[r + 1]; ++e) acc += val[e] * x[col[e]];
        y[r] = acc;
    }
}

template <class T>
std::vector<T> SparseMatrix<T>::to_dense(int64_t max_elems) const {
    const int64_t n = detail::mul(rows, cols, "dense matrix size");
    if (n > max_elems)
        throw Error(detail::cat("the dense matrix would have ", rows, "x", cols, "=", n, " entries (limit ", max_elems, ")"));
    std::vector<T> d(static_cast<size_t>(n), T(0));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t e = row_start[r]; e < row_start[r + 1]; ++e) d[r * cols + col[e]] = val[e];
    return d;
}

int64_t conv_matrix_nnz_bound(const Problem& p) {
    p.validate();
    const std::string what = "the number of entries of the convolution matrix";
    int64_t n = detail::mul(p.ic, p.oc / p.g, what);
    for (int a = 0; a < p.rank(); ++a) n = detail::mul(detail::mul(n, p.i[a], what), p.k[a], what);
    return n;
}

// Row (c, i) of C holds, for every output channel oc of c's group and every tap k whose target
// o = i*s - pb + k*d lies inside the output, the weight wei[c, oc, k] in column (oc, o).
template <class T>
SparseMatrix<T> conv_matrix(const Problem& p, const T* wei, int64_t max_nnz) {
    if (p.kind != Kind::transposed) return conv_matrix(p.adjoint(), wei, max_nnz);
    const int64_t bound = conv_matrix_nnz_bound(p);
    if (bound > max_nnz)
        throw Error(detail::cat("the convolution matrix of ", p.str(), " would hold up to ", bound,
                                " entries (limit ", max_nnz, ")"));
    const algo::Geometry G(p);
    SparseMatrix<T> m;
    m.rows = p.ic * G.isz;
    m.cols = p.oc * G.osz;
    m.row_start.reserve(static_cast<size_t>(m.rows + 1));
    m.col.reserve(static_cast<size_t>(bound));
    m.val.reserve(static_cast<size_t>(bound));
    m.row_start.push_back(0);
    for (int64_t c = 0; c < p.ic; ++c) {
        const int64_t grp = c / G.icg;
        detail::for_each_index(G.i, [&](const int64_t* ii) {
            for (int64_t ocl = 0; ocl < G.ocg; ++ocl)
                detail::for_each_index(G.k, [&](const int64_t* kk) {
                    int64_t o;
                    if (!algo::tap_target(p, G, ii, kk, o)) return;
                    m.col.push_back((grp * G.ocg + ocl) * G.osz + o);
                    m.val.push_back(wei[(c * G.ocg + ocl) * G.ksz + algo::flat(kk, G.k_st)]);
                });
            m.row_start.push_back(static_cast<int64_t>(m.col.size()));
        });
    }
    return m;
}

template struct SparseMatrix<float>;
template struct SparseMatrix<double>;
template SparseMatrix<float> conv_matrix(const Problem&, const float*, int64_t);
template SparseMatrix<double> conv_matrix(const Problem&, const double*, int64_t);

namespace algo {

namespace {

constexpr int64_t kMaxEntries = int64_t(1) << 22;

std::string supports(const Problem& p, Direction) {
    int64_t n = 0;
    try {
        n = conv_matrix_nnz_bound(p);
    } catch (const Error&) {
        n = kMaxEntries + 1;
    }
    if (n > kMaxEntries) return detail::cat("C would hold up to ", n, " entries (limit ", kMaxEntries, ")");
    return {};
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const SparseMatrix<T> ct = conv_matrix(p, wei, kMaxEntries).transposed();
    const int64_t osz = ct.rows / p.oc;
    for (int64_t n = 0; n < p.mb; ++n) {
        T* y = dst + n * ct.rows;
        ct.multiply(src + n * ct.cols, y);
        if (bia)
            for (int64_t r = 0; r < ct.rows; ++r) y[r] += bia[r / osz];
    }
}

template <class T>
void backward_data(const Problem& p, const T* diff_dst, const T* wei, T* diff_src) {
    const SparseMatrix<T> c = conv_matrix(p, wei, kMaxEntries);
    for (int64_t n = 0; n < p.mb; ++n) c.multiply(diff_dst + n * c.cols, diff_src + n * c.rows);
}

}  // namespace

Algorithm matrix() {
    return {"matrix",
            "the sparse convolution matrix C built explicitly; forward is C^T x, the input gradient C y",
            supports,
            {forward<float>, backward_data<float>, nullptr},
            {forward<double>, backward_data<double>, nullptr}};
}

}  // namespace algo
}  // namespace tconv
