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

}  // namespace tconv::parallel
