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
    int64_t total = 1;
    for (int64_t x : shape) total *= x;
    const std::vector<double> values(data, data + total);
    for (const auto& line : grid(title + " (" + dims_str(shape, ',') + ")", shape, values.data(), nullptr, 3)) os << line << '\n';
}

template void print_tensor<float>(std::ostream&, const std::string&, const Dims&, const float*);
template void print_tensor<double>(std::ostream&, const std::string&, const Dims&, const double*);


size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

Block grid(const std::string& title, const Dims& shape, const double* data, const CellText& text, int indent) {
    Block b{title};
    int64_t total = 1;
    for (int64_t x : shape) total *= x;
    const int64_t cols = shape.empty() ? 1 : shape.back();
    const int64_t rows = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
    const int64_t slices = (rows > 0 && cols > 0) ? total / (rows * cols) : 0;
    std::vector<std::string> cells(static_cast<size_t>(total));
    size_t width = 1;
    for (int64_t x = 0; x < total; ++x) {
        cells[x] = format_number(data[x]);
        if (text) cells[x] = text(x, cells[x]);
        width = std::max(width, display_width(cells[x]));
    }
    const Dims lead(shape.begin(), shape.end() - std::min<size_t>(shape.size(), 2));
    for (int64_t sl = 0; sl < slices; ++sl) {
        if (!lead.empty()) {
            Dims idx(lead.size());
            int64_t r = sl;
            for (int a = static_cast<int>(lead.size()) - 1; a >= 0; --a) { idx[a] = r % lead[a]; r /= lead[a]; }
            b.push_back(std::string(size_t(std::max(indent - 1, 1)), ' ') + "[" + dims_str(idx, ',') + "]");
        }
        for (int64_t r = 0; r < rows; ++r) {
            std::string line(size_t(indent), ' ');
            for (int64_t c = 0; c < cols; ++c) {
                const std::string& s = cells[static_cast<size_t>((sl * rows + r) * cols + c)];
                line += ' ' + std::string(width - display_width(s), ' ') + s;
            }
            b.push_back(line);
        }
    }
    return b;
}

std::string side_by_side(const std::vector<Block>& blocks, int width, int gap) {
    std::string out;
    size_t start = 0;
    while (start < blocks.size()) {
        std::vector<size_t> widths;
        size_t end = start, used = 0;
        while (end < blocks.size()) {
            size_t w = 0;
            for (const auto& l : blocks[end]) w = std::max(w, display_width(l));
            const size_t need = used + (end > start ? size_t(gap) : 0) + w;
            if (end > start && need > size_t(width)) break;
            used = need;
            widths.push_back(w);
            ++end;
        }
        size_t height = 0;
        for (size_t k = start; k < end; ++k) height = std::max(height, blocks[k].size());
        for (size_t r = 0; r < height; ++r) {
            std::string line;
            for (size_t k = start; k < end; ++k) {
                const std::string cell = r < blocks[k].size() ? blocks[k][r] : "";
                if (k > start) line += std::string(size_t(gap), ' ');
                line += cell;
                if (k + 1 < end) line += std::string(widths[k - start] - display_width(cell), ' ');
            }
            while (!line.empty() && line.back() == ' ') line.pop_back();
            out += line + '\n';
        }
        start = end;
        if (start < blocks.size()) out += '\n';
    }
    return out;
}

std::string wrap(const std::string& text, int width, const std::string& indent) {
    std::string out, line, word;
    auto flush_word = [&] {
        if (word.empty()) return;
        if (!line.empty() && display_width(line) + 1 + display_width(word) > size_t(width)) {
            out += line + '\n';
            line = indent;
        } else if (!line.empty() && line != indent) {
            line += ' ';
        }
        line += word;
        word.clear();
    };
    for (char c : text) {
        if (c == ' ') flush_word();
        else word += c;
    }
    flush_word();
    return out + line + '\n';
}

std::string matrix_text(const std::string& title, int64_t rows, int64_t cols, const double* data, int width) {
    std::string out = title + '\n';
    size_t w = std::to_string(cols - 1).size();
    for (int64_t x = 0; x < rows * cols; ++x) w = std::max(w, format_number(data[x]).size());
    const size_t label = std::to_string(rows - 1).size() + 2;
    const int64_t per = std::max<int64_t>(1, (width - int64_t(label)) / int64_t(w + 1));
    for (int64_t c0 = 0; c0 < cols; c0 += per) {
        const int64_t c1 = std::min(cols, c0 + per);
        if (cols > per) out += "  columns " + std::to_string(c0) + ".." + std::to_string(c1 - 1) + '\n';
        std::string head(label, ' ');
        for (int64_t c = c0; c < c1; ++c) {
            const std::string s = std::to_string(c);
            head += ' ' + std::string(w - s.size(), ' ') + s;
        }
        out += head + '\n';
        for (int64_t r = 0; r < rows; ++r) {
            const std::string rs = std::to_string(r);
            std::string line = std::string(label - 1 - rs.size(), ' ') + rs + ':';
            for (int64_t c = c0; c < c1; ++c) {
                const double v = data[r * cols + c];
                const std::string s = v == 0 ? "." : format_number(v);
                line += ' ' + std::string(w - s.size(), ' ') + s;
            }
            out += line + '\n';
        }
    }
    return out;
}

}  // namespace tconv::cli
