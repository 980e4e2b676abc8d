// OpenMP static partition (see parallel.hpp).
#include "parallel.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tconv::parallel {

namespace {
thread_local int requested = 0;

int available() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
}  // namespace

int threads() { return requested > 0 ? requested : available(); }

ThreadsScope::ThreadsScope(int n) : saved_(requested) { requested = n; }
ThreadsScope::~ThreadsScope() { requested = saved_; }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f) {
    if (n <= 0) return;
    const int t = static_cast<int>(std::min<int64_t>(threads(), n));
    if (t <= 1) {
        f(0, n, 0);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(t)
    {
        const int id = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const int64_t b = n * id / nt, e = n * (id + 1) / nt;
        if (b < e) f(b, e, id);
    }
#else
    f(0, n, 0);
#endif
}

void parallel_for(const std::vector<double>& prefix, const std::function<void(int64_t, int64_t, int)>& f) {
    const int64_t n = static_cast<int64_t>(prefix.size()) - 1;
    if (n <= 0) return;
    const int t = static_cast<int>(std::min<int64_t>(threads(), n));
    if (t <= 1) {
        f(0, n, 0);
        return;
    }
    // Slice starts: the first task whose prefix reaches k/t of the total.
    std::vector<int64_t> start(static_cast<size_t>(t) + 1, n);
    start[0] = 0;
    const double total = prefix.back();
    for (int k = 1; k < t; ++k)
        start[static_cast<size_t>(k)] = std::lower_bound(prefix.begin(), prefix.end() - 1, total * k / t) - prefix.begin();
    parallel_for(t, [&](int64_t b, int64_t e, int) {
        for (int64_t k = b; k < e; ++k) {
            const int64_t s0 = start[static_cast<size_t>(k)], s1 = start[static_cast<size_t>(k) + 1];
            if (s0 < s1) f(s0, s1, static_cast<int>(k));
        }
    });
}

}  // namespace tconv::parallel
