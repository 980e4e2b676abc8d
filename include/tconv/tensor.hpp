// Views of dense, C-contiguous tensors: a data pointer and a shape. The library checks every shape
// against the problem before touching data; it never owns or allocates user tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv {

template <class T>
struct View {
    T* data = nullptr;
    Dims shape;

    View() = default;
    View(T* data_, Dims shape_) : data(data_), shape(std::move(shape_)) {}
    // A view of mutable data converts to a read-only view.
    template <class U>
    View(const View<U>& o) : data(o.data), shape(o.shape) {}

    bool empty() const { return data == nullptr; }
};

// A small owning tensor, for the command line, the tests and examples.
template <class T>
struct Tensor {
    Dims shape;
    std::vector<T> data;

    Tensor() = default;
    explicit Tensor(Dims shape_, T fill = T(0));
    View<T> view() { return {data.data(), shape}; }
    View<const T> view() const { return {data.data(), shape}; }
    int64_t size() const { return static_cast<int64_t>(data.size()); }
};

// Number of elements of a shape; throws tconv::Error if a dimension is negative or the product overflows.
int64_t shape_elems(const Dims& shape, const char* name);

template <class T>
Tensor<T>::Tensor(Dims shape_, T fill) : shape(std::move(shape_)), data(static_cast<size_t>(shape_elems(shape, "tensor")), fill) {}

}  // namespace tconv
