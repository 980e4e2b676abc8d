// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0; float32 and float64, either
// byte order, C order). Malformed files raise tconv::Error saying what is wrong and where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tconv/problem.hpp"

namespace tconv::npy {

enum class DType { f32, f64 };

struct Array {
    DType dtype = DType::f32;
    Dims shape;
    std::vector<float> f32;   // filled when dtype == f32
    std::vector<double> f64;  // filled when dtype == f64
    int64_t size() const;
};

Array parse(const std::string& bytes, const std::string& name = "<memory>");
Array load(const std::string& path);

std::string serialize(const Dims& shape, const float* data);
std::string serialize(const Dims& shape, const double* data);
void save(const std::string& path, const Dims& shape, const float* data);
void save(const std::string& path, const Dims& shape, const double* data);

}  // namespace tconv::npy
