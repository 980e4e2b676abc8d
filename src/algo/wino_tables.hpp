// The Winograd tile kinds shared by winograd.cpp and period.cpp (the points of kernels/winograd-inl.h): per kind,
// the transformed values alpha, the outputs m and the taps r of a tile, and G [kind][alpha][r], which turns r taps
// into alpha transformed weights. Kinds: 0 the identity, 1 F(2,2), 2 F(3,2), 3 F(2,3), 4 F(6,2).
#pragma once

namespace tconv::algo::wino {

constexpr int kAlpha[5] = {1, 3, 4, 4, 7};
constexpr int kM[5] = {1, 2, 3, 2, 6};
constexpr int kR[5] = {1, 2, 2, 3, 2};
constexpr double kG[5][7][3] = {
    {{1}},
    {{1, 0}, {-1, 1}, {0, 1}},
    {{1, 0}, {0.5, 0.5}, {0.5, -0.5}, {0, 1}},
    {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}},
    {{1.0 / 4, 0}, {1.0 / 6, 1.0 / 6}, {1.0 / 18, -1.0 / 18}, {1.0 / 72, 1.0 / 36}, {1.0 / 120, -1.0 / 60},
     {32.0 / 45, 16.0 / 45}, {0, 0.5}},
};

}  // namespace tconv::algo::wino
