// NumPy .npy reading and writing. The header is a Python dict literal; only the three keys NumPy writes
// are accepted, and every length is checked against the file before anything is read.
#include "tconv/npy.hpp"

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tconv/error.hpp"
#include "tconv/tensor.hpp"
#include "util.hpp"

namespace tconv::npy {

using detail::cat;

int64_t Array::size() const { return dtype == DType::f32 ? static_cast<int64_t>(f32.size()) : static_cast<int64_t>(f64.size()); }

namespace {

bool host_little_endian() {
    const uint16_t x = 1;
    unsigned char b;
    std::memcpy(&b, &x, 1);
    return b == 1;
}

// A tiny reader for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct HeaderParser {
    const std::string& h;
    const std::string& name;
    size_t pos = 0;

    Error fail(const std::string& why) const { return Error(cat(name, ": malformed .npy header (", why, "): ", h)); }
    void skip() {
        while (pos < h.size() && std::isspace(static_cast<unsigned char>(h[pos]))) ++pos;
    }
    bool eat(char c) {
        skip();
        if (pos < h.size() && h[pos] == c) {
            ++pos;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) throw fail(cat("expected '", c, "' at offset ", pos));
    }
    std::string str() {
        skip();
        if (pos >= h.size() || (h[pos] != '\'' && h[pos] != '"')) throw fail(cat("expected a quoted string at offset ", pos));
        const char q = h[pos++];
        const size_t end = h.find(q, pos);
        if (end == std::string::npos) throw fail("unterminated string");
        std::string r = h.substr(pos, end - pos);
        pos = end + 1;
        return r;
    }
    bool boolean() {
        skip();
        if (h.compare(pos, 4, "True") == 0) { pos += 4; return true; }
        if (h.compare(pos, 5, "False") == 0) { pos += 5; return false; }
        throw fail(cat("expected True or False at offset ", pos));
    }
    Dims tuple() {
        expect('(');
        Dims r;
        while (!eat(')')) {
            skip();
            size_t start = pos;
            while (pos < h.size() && std::isdigit(static_cast<unsigned char>(h[pos]))) ++pos;
            if (start == pos) throw fail(cat("expected a non-negative integer in shape at offset ", start));
            const std::string num = h.substr(start, pos - start);
            if (num.size() > 18) throw fail(cat("shape value ", num, " is too large"));
            r.push_back(std::stoll(num));
            if (!eat(',')) {
                expect(')');
                break;
            }
        }
        return r;
    }
};

template <class T>
void read_values(const std::string& bytes, size_t offset, int64_t count, bool swap, std::vector<T>& out) {
    out.resize(static_cast<size_t>(count));
    if (count) std::memcpy(out.data(), bytes.data() + offset, static_cast<size_t>(count) * sizeof(T));
    if (!swap) return;
    for (T& v : out) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        for (size_t j = 0; j < sizeof(T) / 2; ++j) std::swap(b[j], b[sizeof(T) - 1 - j]);
        std::memcpy(&v, b, sizeof(T));
    }
}

template <class T>
std::string serialize_impl(const Dims& shape, const T* data, const char* descr) {
    if (!host_little_endian()) throw Error("writing .npy files is implemented for little-endian hosts only");
    const int64_t n = shape_elems(shape, "array");
    std::string sh = "(";
    for (size_t a = 0; a < shape.size(); ++a) sh += std::to_string(shape[a]) + (shape.size() == 1 ? "," : (a + 1 < shape.size() ? ", " : ""));
    sh += ")";
    std::string header = cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", sh, ", }");
    // Pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    if (header.size() > 65535) throw Error("the .npy header is too long for format version 1.0");
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    out += header;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n) * sizeof(T));
    return out;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    if (!f) throw Error(cat("cannot open '", path, "' for writing"));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw Error(cat("writing '", path, "' failed"));
}

}  // namespace

Array parse(const std::string& bytes, const std::string& name) {
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
        throw Error(cat(name, ": not a .npy file (it must start with the magic bytes \\x93NUMPY)"));
    const unsigned major = static_cast<unsigned char>(bytes[6]);
    size_t header_len = 0, header_start = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw Error(cat(name, ": truncated .npy file (the header length is cut off)"));
        header_len = 0;
        for (int j = 0; j < 4; ++j) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + j])) << (8 * j);
        header_start = 12;
    } else {
        throw Error(cat(name, ": unsupported .npy format version ", major, " (1, 2 and 3 are known)"));
    }
    if (header_len > bytes.size() - header_start)
        throw Error(cat(name, ": truncated .npy file (the header claims ", header_len, " bytes, the file has ",
                        bytes.size() - header_start, " after the preamble)"));
    const std::string header = bytes.substr(header_start, header_len);
    HeaderParser hp{header, name};
    std::string descr;
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    Dims shape;
    hp.expect('{');
    while (!hp.eat('}')) {
        const std::string key = hp.str();
        hp.expect(':');
        if (key == "descr") {
            descr = hp.str();
            have_descr = true;
        } else if (key == "fortran_order") {
            fortran = hp.boolean();
            have_order = true;
        } else if (key == "shape") {
            shape = hp.tuple();
            have_shape = true;
        } else {
            throw hp.fail(cat("unknown key '", key, "'"));
        }
        if (!hp.eat(',')) {
            hp.expect('}');
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape) throw hp.fail("it needs the keys 'descr', 'fortran_order' and 'shape'");
    if (fortran)
        throw Error(cat(name, ": fortran_order=True is not supported: save a C-ordered array (np.ascontiguousarray)"));
    Array arr;
    size_t width = 0;
    bool big = false;
    if (descr == "<f4" || descr == ">f4" || descr == "=f4") {
        arr.dtype = DType::f32;
        width = 4;
    } else if (descr == "<f8" || descr == ">f8" || descr == "=f8") {
        arr.dtype = DType::f64;
        width = 8;
    } else {
        throw Error(cat(name, ": unsupported dtype '", descr, "': tconv reads float32 ('<f4') and float64 ('<f8')"));
    }
    big = descr[0] == '>';
    arr.shape = shape;
    const int64_t count = shape_elems(shape, name.c_str());
    const size_t data_start = header_start + header_len;
    const size_t available = bytes.size() - data_start;
    if (static_cast<uint64_t>(count) > available / width || static_cast<size_t>(count) * width != available)
        throw Error(cat(name, ": the data holds ", available, " bytes but shape (", dims_str(shape, ','), ") of ", descr,
                        " needs ", static_cast<unsigned long long>(count) * width, (static_cast<uint64_t>(count) > available / width ? " (truncated file)" : " (extra bytes)")));
    const bool swap = big == host_little_endian();
    if (arr.dtype == DType::f32) read_values(bytes, data_start, count, swap, arr.f32);
    else read_values(bytes, data_start, count, swap, arr.f64);
    return arr;
}

Array load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(cat("cannot open '", path, "' for reading"));
    std::ostringstream ss;
    ss << f.rdbuf();
    return parse(ss.str(), path);
}

std::string serialize(const Dims& shape, const float* data) { return serialize_impl(shape, data, "<f4"); }
std::string serialize(const Dims& shape, const double* data) { return serialize_impl(shape, data, "<f8"); }
void save(const std::string& path, const Dims& shape, const float* data) { write_file(path, serialize(shape, data)); }
void save(const std::string& path, const Dims& shape, const double* data) { write_file(path, serialize(shape, data)); }

}  // namespace tconv::npy
