// Printing tensors for people: aligned grids, integers without a decimal point, one 2-D slice at a time.
#pragma once

#include <iosfwd>
#include <string>

#include "tconv/problem.hpp"

namespace tconv::cli {

// Prints a dense tensor of shape (lead..., rows, cols) as labelled 2-D grids; 1-D data as one row.
template <class T>
void print_tensor(std::ostream& os, const std::string& title, const Dims& shape, const T* data);

std::string format_number(double v);

}  // namespace tconv::cli
