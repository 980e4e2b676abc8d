// The convolution matrix C of a problem and its transpose: the "matrix" mental model made concrete.
// For a transposed problem, C is the matrix of the adjoint regular convolution for one image:
// rows = the small side (ic x i...), columns = the large side (oc x o...); the transposed convolution
// is dst = C^T src. Entries are stored sparsely (CSR); to_dense() is for printing small problems.
#pragma once

#include <cstdint>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv {

template <class T>
struct SparseMatrix {
    int64_t rows = 0, cols = 0;
    std::vector<int64_t> row_start;  // rows + 1 offsets into col/val
    std::vector<int64_t> col;
    std::vector<T> val;

    int64_t nnz() const { return static_cast<int64_t>(val.size()); }
    SparseMatrix transposed() const;
    // y (rows) = this * x (cols), overwriting y.
    void multiply(const T* x, T* y) const;
    // Row-major dense copy; throws tconv::Error when rows*cols exceeds `max_elems`.
    std::vector<T> to_dense(int64_t max_elems = int64_t(1) << 24) const;
};

// Upper bound on the stored entries of C: ic * prod(i) * (oc/g) * prod(k).
int64_t conv_matrix_nnz_bound(const Problem& p);

// C for a transposed problem with weights (ic, oc/g, k...). Throws tconv::Error when the bound on
// stored entries exceeds `max_nnz`.
template <class T>
SparseMatrix<T> conv_matrix(const Problem& p, const T* wei, int64_t max_nnz = int64_t(1) << 24);

}  // namespace tconv
