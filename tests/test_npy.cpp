// .npy reading and writing: round trips, files written by NumPy (frozen under tests/data), and every kind
// of malformed file rejected with a clear message.
#include "test_util.hpp"

namespace tconv::test {
namespace {

std::string error_of(const std::string& bytes) {
    try {
        npy::parse(bytes, "x.npy");
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

std::string header(const std::string& dict, char major = 1) {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = "\x93NUMPY";
    out += major;
    out += '\0';
    out += static_cast<char>(h.size() & 0xff);
    out += static_cast<char>(h.size() >> 8);
    return out + h;
}

TEST(Npy, RoundTrip) {
    const std::vector<float> f = {1.5f, -2, 0, 3e10f, 7, 8};
    const auto a = npy::parse(npy::serialize({2, 3}, f.data()));
    EXPECT_EQ(a.dtype, npy::DType::f32);
    EXPECT_EQ(a.shape, (Dims{2, 3}));
    EXPECT_EQ(a.f32, f);
    const std::vector<double> d = {0.1, -0.2};
    const auto b = npy::parse(npy::serialize({2}, d.data()));
    EXPECT_EQ(b.dtype, npy::DType::f64);
    EXPECT_EQ(b.f64, d);
    const double scalar = 4.25;
    const auto c = npy::parse(npy::serialize({}, &scalar));
    EXPECT_TRUE(c.shape.empty());
    EXPECT_EQ(c.f64, std::vector<double>{4.25});
    const auto e = npy::parse(npy::serialize({0, 3}, d.data()));
    EXPECT_EQ(e.shape, (Dims{0, 3}));
    EXPECT_EQ(e.size(), 0);
    // Header alignment: NumPy pads the preamble + header to a multiple of 64 bytes.
    EXPECT_EQ(npy::serialize({2, 3}, f.data()).size() % 64, (6 * 4) % 64);
}

TEST(Npy, ReadsFilesWrittenByNumPy) {
    // tests/data/onnx holds float32 files written by numpy.save (version 1.0 headers).
    const auto a = npy::load(data_path("data/onnx/test_convtranspose.X.npy"));
    EXPECT_EQ(a.shape, (Dims{1, 1, 3, 3}));
    EXPECT_EQ(a.f32, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Npy, BigEndianAndVersion2) {
    std::string be = header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }");
    const unsigned char one[] = {0x3f, 0x80, 0, 0}, two[] = {0x40, 0, 0, 0};  // 1.0f, 2.0f big-endian
    be.append(reinterpret_cast<const char*>(one), 4).append(reinterpret_cast<const char*>(two), 4);
    EXPECT_EQ(npy::parse(be).f32, (std::vector<float>{1, 2}));
    // Version 2.0: a 4-byte header length.
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
    while ((12 + dict.size() + 1) % 64) dict += ' ';
    dict += '\n';
    std::string v2 = "\x93NUMPY\x02";
    v2 += '\0';
    const uint32_t len = static_cast<uint32_t>(dict.size());
    v2.append(reinterpret_cast<const char*>(&len), 4);
    v2 += dict;
    const double x = 6.5;
    v2.append(reinterpret_cast<const char*>(&x), 8);
    EXPECT_EQ(npy::parse(v2).f64, std::vector<double>{6.5});
}

TEST(Npy, MalformedFiles) {
    const std::string ok = header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + std::string(8, '\0');
    EXPECT_EQ(error_of(ok), "no error");
    EXPECT_NE(error_of("hello").find("x.npy: not a .npy file"), std::string::npos);
    EXPECT_NE(error_of("").find("not a .npy file"), std::string::npos);
    EXPECT_NE(error_of(ok.substr(0, 40)).find("truncated .npy file (the header claims"), std::string::npos);
    EXPECT_NE(error_of(ok.substr(0, ok.size() - 1)).find("(truncated file)"), std::string::npos);
    EXPECT_NE(error_of(ok + "x").find("(extra bytes)"), std::string::npos);
    std::string v9 = ok;
    v9[6] = 9;
    EXPECT_NE(error_of(v9).find("unsupported .npy format version 9"), std::string::npos);
    const std::string i8 = header("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, '\0');
    EXPECT_NE(error_of(i8).find("unsupported dtype '<i8': tconv reads float32 ('<f4') and float64 ('<f8')"), std::string::npos);
    const std::string fo = header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + std::string(4, '\0');
    EXPECT_NE(error_of(fo).find("fortran_order=True is not supported"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'shape': (1,), }")).find("needs the keys"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")).find("expected a non-negative integer"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,2, }")).find("malformed .npy header"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }")).find("expected True or False"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}")).find("unknown key 'x'"), std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4, 'fortran_order': False}")).find("malformed .npy header"), std::string::npos);
    // A shape whose element count overflows: an error, not a huge allocation.
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")).find("overflows"),
              std::string::npos);
    EXPECT_NE(error_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }")).find("(truncated file)"),
              std::string::npos);
    try {
        npy::load("/nonexistent/x.npy");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot open '/nonexistent/x.npy' for reading"), std::string::npos);
    }
}

}  // namespace
}  // namespace tconv::test
