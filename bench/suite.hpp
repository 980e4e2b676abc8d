// The benchmark suite file (bench/suite.txt: a name and a canonical problem string per line, '#' comments),
// shared by the peer comparison and the Google Benchmark suite.
#pragma once

#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv::bench {

// Tensors on 64-byte boundaries, as PyTorch's and oneDNN's allocators give them (std::vector alone gives 16).
template <class T>
struct Aligned64 {
    using value_type = T;
    Aligned64() = default;
    template <class U>
    Aligned64(const Aligned64<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
    bool operator==(const Aligned64&) const { return true; }
};
using Buf = std::vector<float, Aligned64<float>>;

struct Case {
    std::string name;
    Problem p;
};

// The cases of `path`, or only the one named `only` when it is not empty. Throws when the file cannot be read.
inline std::vector<Case> read_suite(const std::string& path, const std::string& only = {}) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path + " (run from the repository root or pass --suite)");
    std::vector<Case> r;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        std::string name, prob;
        ss >> name >> prob;
        if (!only.empty() && name != only) continue;
        r.push_back({name, Problem::parse(prob)});
    }
    return r;
}

// BENCHMARK.md's count: 2 * mb * (ic/g) * oc * prod(i) * prod(k) / 1e9.
inline double gflop(const Problem& p) {
    double f = 2.0 * p.mb * (p.ic / p.g) * p.oc;
    for (auto x : p.i) f *= x;
    for (auto x : p.k) f *= x;
    return f / 1e9;
}

}  // namespace tconv::bench
