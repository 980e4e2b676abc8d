// Aligned, exact printing of small tensors for the command line.
#include "print.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <vector>

namespace tconv::cli {

std::string format_number(double v) {
    char buf[64];
    if (v == 0) return "0";  // also folds -0
    if (std::isfinite(v) && std::nearbyint(v) == v && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.6g", v);
    }
    return buf;
}

template <class T>
void print_tensor(std::ostream& os, const std::string& title, const Dims& shape, const T* data) {
    os << title << " (" << dims_str(shape, ',') << ")\n";
    int64_t total = 1;
    for (int64_t x : shape) total *= x;
    const int64_t cols = shape.empty() ? 1 : shape.back();
    const int64_t rows = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
    const int64_t slices = (rows > 0 && cols > 0) ? total / (rows * cols) : 0;
    std::vector<std::string> cells(static_cast<size_t>(total));
    size_t width = 1;
    for (int64_t x = 0; x < total; ++x) width = std::max(width, (cells[x] = format_number(static_cast<double>(data[x]))).size());
    const Dims lead(shape.begin(), shape.end() - std::min<size_t>(shape.size(), 2));
    for (int64_t sl = 0; sl < slices; ++sl) {
        if (!lead.empty()) {  // label the slice by its leading indices, e.g. [0,1]
            Dims idx(lead.size());
            int64_t r = sl;
            for (int a = static_cast<int>(lead.size()) - 1; a >= 0; --a) { idx[a] = r % lead[a]; r /= lead[a]; }
            os << "  [" << dims_str(idx, ',') << "]\n";
        }
        for (int64_t r = 0; r < rows; ++r) {
            os << "   ";
            for (int64_t c = 0; c < cols; ++c) {
                const std::string& s = cells[static_cast<size_t>((sl * rows + r) * cols + c)];
                os << ' ' << std::string(width - s.size(), ' ') << s;
            }
            os << '\n';
        }
    }
}

template void print_tensor<float>(std::ostream&, const std::string&, const Dims&, const float*);
template void print_tensor<double>(std::ostream&, const std::string&, const Dims&, const double*);

}  // namespace tconv::cli
