// Printing tensors for people: aligned grids, integers without a decimal point, one 2-D slice at a time.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv::cli {

// Prints a dense tensor of shape (lead..., rows, cols) as labelled 2-D grids; 1-D data as one row.
template <class T>
void print_tensor(std::ostream& os, const std::string& title, const Dims& shape, const T* data);

std::string format_number(double v);

// A block of text lines, for laying grids side by side.
using Block = std::vector<std::string>;
// How one cell prints: given its flat index and formatted value, the text to show (default: the value).
using CellText = std::function<std::string(int64_t, const std::string&)>;

// A tensor (lead..., rows, cols) as a block: the title, then each 2-D slice (labelled by its leading
// indices, max(indent - 1, 1) spaces in) as right-aligned columns `indent` spaces in. 1-D data is one row.
Block grid(const std::string& title, const Dims& shape, const double* data, const CellText& text = nullptr, int indent = 1);
// Blocks next to each other, `gap` spaces apart, starting a new band when the next would pass `width`.
std::string side_by_side(const std::vector<Block>& blocks, int width = 100, int gap = 4);
// Terminal width of a UTF-8 string (code points).
size_t display_width(const std::string& s);
// Word-wraps text to `width` columns; continuation lines start with `indent`. Ends with a newline.
std::string wrap(const std::string& text, int width = 100, const std::string& indent = "");
// A dense matrix with row and column numbers, cut into bands of columns that fit `width`.
std::string matrix_text(const std::string& title, int64_t rows, int64_t cols, const double* data, int width = 100);

}  // namespace tconv::cli
