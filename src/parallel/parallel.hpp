// The one parallel loop: OpenMP behind a static partition, so which thread computes which task is a pure
// function of (n, threads) and every task is computed whole by one thread. Drivers make each task own its
// outputs, which makes results bitwise identical for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace tconv::parallel {

// Threads available to the current call (set by the operation from Options::threads; 0 means all cores).
int threads();

// Sets the thread count for the calls made by this thread while in scope.
class ThreadsScope {
public:
    explicit ThreadsScope(int n);
    ~ThreadsScope();
    ThreadsScope(const ThreadsScope&) = delete;
    ThreadsScope& operator=(const ThreadsScope&) = delete;

private:
    int saved_;
};

// f(begin, end, thread) over contiguous slices of [0, n), one per thread.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f);

// The same with slices of about equal cost: prefix[i] is the summed cost of tasks [0, i) (n + 1 entries,
// non-decreasing); thread k of t starts at the first task whose prefix reaches k/t of the total. Still a pure
// function of (prefix, threads).
void parallel_for(const std::vector<double>& prefix, const std::function<void(int64_t, int64_t, int)>& f);

}  // namespace tconv::parallel
