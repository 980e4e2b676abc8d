// The weight gradient on the SIMD GEMM micro-kernels. Per group it is one GEMM over every (image, input
// position) P:  C[ic][(tap, oc)] = sum over P of src[ic][P] * diff_dst[oc][o(P, tap)], where o(P, tap) =
// i*s - pb + tap*d per axis and the term is 0 where that falls outside the cropped output (the border only:
// no inserted zero is ever multiplied). A (the source) is read in place where it can be, B (diff_dst seen as
// columns (tap, oc)) is packed per block of positions, and C is a cache-sized tile owned by one task, which
// sums its positions in a fixed order and finally writes diff_wei[ic][oc][tap]: results never depend on the
// thread count.
#include <algorithm>
#include <array>

#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"
#include "phase.hpp"

namespace tconv::algo {

namespace {

template <class T>
struct WeiScratch {
    std::vector<T> c, b, a;
    std::vector<int64_t> off, img;
};

// diff_bia[oc] = sum over images and positions, in a fixed order (8 partial sums per channel, channels-first).
template <class T>
void bias_gradient(const Problem& p, const T* dd, T* db, int64_t osz, bool last) {
    if (last) {
        std::vector<T> acc(static_cast<size_t>(p.oc), T(0));
        for (int64_t x = 0; x < p.mb * osz; ++x) {
            const T* row = dd + x * p.oc;
            for (int64_t oc = 0; oc < p.oc; ++oc) acc[oc] += row[oc];
        }
        std::copy(acc.begin(), acc.end(), db);
        return;
    }
    parallel::parallel_for(p.oc, [&](int64_t b, int64_t e, int) {
        for (int64_t oc = b; oc < e; ++oc) {
            std::array<T, 8> part{};
            for (int64_t n = 0; n < p.mb; ++n) {
                const T* d = dd + (n * p.oc + oc) * osz;
                int64_t x = 0;
                for (; x + 8 <= osz; x += 8)
                    for (int l = 0; l < 8; ++l) part[l] += d[x + l];
                for (; x < osz; ++x) part[x % 8] += d[x];
            }
            T acc = T(0);
            for (T v : part) acc += v;
            db[oc] = acc;
        }
    });
}

}  // namespace

template <class T>
void phase_backward_weights(const Problem& p, const T* src, const T* dd, T* dw, T* db, const std::string& target,
                            Layout layout) {
    const auto& ks = kernels::kernel_set(target);
    kernels::Gemm<T> gemm;
    if constexpr (sizeof(T) == 4) gemm = ks.f32; else gemm = ks.f64;
    const bool last = layout == Layout::channels_last;
    const Geometry G(p);
    const int rank = G.rank;
    const int64_t mr = static_cast<int64_t>(gemm.mr), nr = static_cast<int64_t>(gemm.nr);
    const int64_t ncols = G.ksz * G.ocg, np = detail::round_up(ncols, nr);
    const int64_t P = p.mb * G.isz;
    const int64_t kc = 256, nc = 8 * nr;
    const int64_t nnb = (np + nc - 1) / nc;
    // M (input channels) is split only when there are fewer column blocks than threads (each split packs B
    // again). Every C element is still summed by one task over the positions in order, so the split does not
    // change a bit of the result.
    const int64_t mtiles = (G.icg + mr - 1) / mr;
    const int64_t want = parallel::threads();
    const int64_t msplit = std::min(mtiles, std::max<int64_t>(1, (want + p.g * nnb - 1) / (p.g * nnb)));
    const int64_t mtpt = (mtiles + msplit - 1) / msplit;  // tiles per task
    const int64_t mblocks = (mtiles + mtpt - 1) / mtpt;
    // A channels-first source is read in place when chunks of positions can stay inside one image (isz >= 64);
    // a smaller one is first moved channels-last, once, so that every whole tile reads in place.
    const bool a_last = last || G.isz < 64;
    std::vector<T> moved;
    const T* asrc = src;
    if (a_last && !last) {
        moved.resize(static_cast<size_t>(p.mb * p.ic * G.isz));
        convert_layout<T>({src, p.src_shape()}, Layout::channels_first,
                          {moved.data(), data_shape(p.src_shape(), Layout::channels_last)}, Layout::channels_last);
        asrc = moved.data();
    }
    std::vector<int64_t> kk(static_cast<size_t>(G.ksz * rank));  // per tap, its kernel multi-index
    int64_t tnum = 0;
    detail::for_each_index(G.k, [&](const int64_t* k) {
        for (int a = 0; a < rank; ++a) kk[tnum * rank + a] = k[a];
        ++tnum;
    });

    parallel::parallel_for(p.g * nnb * mblocks, [&](int64_t tb, int64_t te, int) {
        thread_local WeiScratch<T> ws;
        const int64_t mrows = mtpt * mr;
        ws.c.resize(static_cast<size_t>(mrows * nc));
        ws.b.resize(static_cast<size_t>(kc * nc));
        ws.a.resize(static_cast<size_t>(mr * kc));
        ws.off.resize(static_cast<size_t>(kc * G.ksz));
        ws.img.resize(static_cast<size_t>(kc));
        Dims ii(rank);
        for (int64_t task = tb; task < te; ++task) {
            const int64_t grp = task / (nnb * mblocks), nb = task / mblocks % nnb, mbk = task % mblocks;
            const int64_t n0 = nb * nc, ncw = std::min(nc, np - n0), npan = ncw / nr;
            const int64_t t0 = n0 / G.ocg, t1 = std::min(G.ksz, (n0 + ncw + G.ocg - 1) / G.ocg);  // taps here
            const int64_t tile0 = mbk * mtpt, tile1 = std::min(mtiles, tile0 + mtpt);
            T* C = ws.c.data();
            std::fill(C, C + (tile1 - tile0) * mr * nc, T(0));
            for (int64_t k0 = 0; k0 < P;) {
                // The chunk: up to kc consecutive positions (inside one image when read in place channels-first).
                int64_t kcn = std::min(kc, P - k0);
                if (!a_last) kcn = std::min(kcn, G.isz - k0 % G.isz);
                // Per position and tap: where diff_dst holds the tap's target (channels-first: its offset in
                // the image's planes; channels-last: the offset of the group's channels), or -1 where cropped.
                for (int64_t j = 0; j < kcn; ++j) {
                    const int64_t pos = k0 + j;
                    ws.img[j] = pos / G.isz;
                    int64_t r = pos % G.isz;
                    for (int a = rank - 1; a >= 0; --a) ii[a] = r % G.i[a], r /= G.i[a];
                    for (int64_t t = t0; t < t1; ++t) {
                        int64_t off;
                        if (!tap_target(p, G, ii.data(), kk.data() + t * rank, off)) off = -1;
                        else off = last ? (ws.img[j] * G.osz + off) * p.oc + grp * G.ocg : ws.img[j] * p.oc * G.osz + off;
                        ws.off[(t - t0) * kc + j] = off;
                    }
                }
                // B panels [npan][kcn][NR]: column n = (tap, oc), zeros where cropped and past ncols.
                T* B = ws.b.data();
                for (int64_t n = std::min(n0 + ncw, ncols); n < n0 + ncw; ++n)
                    for (int64_t j = 0; j < kcn; ++j) B[(n - n0) / nr * kcn * nr + j * nr + (n - n0) % nr] = T(0);
                for (int64_t t = t0; t < t1; ++t) {
                    const int64_t c0 = std::max(n0, t * G.ocg), c1 = std::min(n0 + ncw, (t + 1) * G.ocg);
                    const int64_t* off = ws.off.data() + (t - t0) * kc;
                    if (last) {
                        // Per position, the tap's run of channels, split where it crosses a panel.
                        for (int64_t j = 0; j < kcn; ++j) {
                            const T* d = dd + std::max<int64_t>(off[j], 0);
                            for (int64_t n = c0; n < c1;) {
                                const int64_t lane = (n - n0) % nr, len = std::min(c1 - n, nr - lane);
                                T* b = B + (n - n0) / nr * kcn * nr + j * nr + lane;
                                if (off[j] >= 0) std::copy(d + n - t * G.ocg, d + n - t * G.ocg + len, b);
                                else std::fill(b, b + len, T(0));
                                n += len;
                            }
                        }
                    } else {
                        for (int64_t n = c0; n < c1; ++n) {
                            const T* d = dd + (grp * G.ocg + n - t * G.ocg) * G.osz;
                            T* b = B + (n - n0) / nr * kcn * nr + (n - n0) % nr;
                            for (int64_t j = 0; j < kcn; ++j)
                                b[j * nr] = off[j] >= 0 ? d[off[j]] : T(0);
                        }
                    }
                }
                // A per tile of MR input channels: in place (channels-last: A(k, m) at k*ic + m, by columns;
                // channels-first: at m*isz + k, by rows) when the tile is whole, else packed with zero rows.
                for (int64_t tile = tile0; tile < tile1; ++tile) {
                    const int64_t ic0 = tile * mr, rows = std::min(mr, G.icg - ic0);
                    // A(k, m) = s[k*ks + m*ms]: by columns (channels-last) or by rows (channels-first).
                    const T* s = a_last ? asrc + k0 * p.ic + grp * G.icg + ic0
                                        : src + (ws.img[0] * p.ic + grp * G.icg + ic0) * G.isz + k0 % G.isz;
                    const int64_t ks = a_last ? p.ic : 1, ms = a_last ? 1 : G.isz;
                    const kernels::GemmFn<T> fn = a_last ? gemm.fn : gemm.fn_rows;
                    const T* A = s;
                    size_t lda = static_cast<size_t>(a_last ? p.ic : G.isz);
                    if (rows < mr) {
                        T* At = ws.a.data();
                        for (int64_t j = 0; j < kcn; ++j)
                            for (int64_t m = 0; m < mr; ++m)
                                At[a_last ? j * mr + m : m * kcn + j] = m < rows ? s[j * ks + m * ms] : T(0);
                        A = At, lda = static_cast<size_t>(a_last ? mr : kcn);
                    }
                    T* Ct = C + (tile - tile0) * mr * nc;
                    for (int64_t pan = 0; pan < npan; ++pan)
                        fn(A, lda, B + pan * kcn * nr, static_cast<size_t>(kcn), Ct + pan * nr, static_cast<size_t>(nc));
                }
                k0 += kcn;
            }
            // diff_wei[grp*icg + ic][oc][tap] = C[ic][(tap, oc)].
            for (int64_t tile = tile0; tile < tile1; ++tile)
                for (int64_t m = 0; m < std::min(mr, G.icg - tile * mr); ++m) {
                    const T* c = C + ((tile - tile0) * mr + m) * nc;
                    T* w = dw + (grp * G.icg + tile * mr + m) * G.ocg * G.ksz;
                    for (int64_t n = n0; n < std::min(n0 + ncw, ncols); ++n) w[(n % G.ocg) * G.ksz + n / G.ocg] = c[n - n0];
                }
        }
    });
    if (db) bias_gradient(p, dd, db, G.osz, last);
}

template void phase_backward_weights<float>(const Problem&, const float*, const float*, float*, float*,
                                            const std::string&, Layout);
template void phase_backward_weights<double>(const Problem&, const double*, const double*, double*, double*,
                                             const std::string&, Layout);

}  // namespace tconv::algo
