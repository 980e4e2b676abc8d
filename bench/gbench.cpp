// Google Benchmark suite over bench/suite.txt: one benchmark per case and thread count, named by its
// canonical problem string (e.g. mb16_ic1024_oc512_i4x4_k4_s2_p1/threads:1), timing a prepared tconv::Plan;
// counters: GFLOP/s and the plan's algorithm. Peers are timed by tconv_peers and bench/torch_peer.py.
//   build/bin/tconv_bench [--suite bench/suite.txt] [Google Benchmark flags, e.g. --benchmark_filter=dcgan]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tconv/tconv.hpp"
#include "bench/suite.hpp"

namespace {

void run_plan(benchmark::State& state, const tconv::Problem& p, int threads) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    // (64-byte aligned, as in tconv_peers: outputs of 8 MiB or more are then streamed)
    tconv::bench::Buf src(p.src_elems()), wei(p.wei_elems()), dst(p.dst_elems());
    for (auto& v : src) v = u(rng);
    for (auto& v : wei) v = u(rng);
    tconv::Options o;
    o.threads = threads;
    const tconv::Plan<float> plan(p, {wei.data(), p.wei_shape()}, {}, o);
    for (auto _ : state) {
        plan.run({src.data(), p.src_shape()}, {dst.data(), p.dst_shape()});
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(tconv::bench::gflop(p) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.SetLabel(plan.algorithm() + " " + plan.simd());
}

}  // namespace

int main(int argc, char** argv) {
    std::string suite = "bench/suite.txt";
    std::vector<char*> rest;
    for (int j = 0; j < argc; ++j) {
        if (std::string(argv[j]) == "--suite" && j + 1 < argc) suite = argv[++j];
        else rest.push_back(argv[j]);
    }
    std::vector<tconv::bench::Case> cases;
    try {
        cases = tconv::bench::read_suite(suite);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    for (const auto& c : cases) {
        const tconv::Problem p = c.p;
        for (int threads : {1, 2})
            benchmark::RegisterBenchmark((p.str() + "/threads:" + std::to_string(threads)).c_str(),
                                         [p, threads](benchmark::State& s) { run_plan(s, p, threads); })
                ->UseRealTime()
                ->Unit(benchmark::kMicrosecond);
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
