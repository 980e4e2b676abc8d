// .npz archives (a zip of .npy files) and the model weights stored in them (include/tconv/nn.hpp).
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "tconv/error.hpp"
#include "tconv/nn.hpp"
#include "util.hpp"

namespace tconv::nn {

using detail::cat;

namespace {

uint32_t rd32(const std::string& b, size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
    return v;
}
uint16_t rd16(const std::string& b, size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8));
}
uint64_t rd64(const std::string& b, size_t at) { return rd32(b, at) | (static_cast<uint64_t>(rd32(b, at + 4)) << 32); }
void wr16(std::string& b, uint32_t v) {
    b += static_cast<char>(v & 0xff);
    b += static_cast<char>((v >> 8) & 0xff);
}
void wr32(std::string& b, uint32_t v) {
    wr16(b, v & 0xffff);
    wr16(b, v >> 16);
}

uint32_t crc(const std::string& data) {
    uLong c = crc32(0L, Z_NULL, 0);
    size_t at = 0;
    while (at < data.size()) {  // crc32 takes a uInt length
        const size_t n = std::min<size_t>(data.size() - at, 1u << 30);
        c = crc32(c, reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uInt>(n));
        at += n;
    }
    return static_cast<uint32_t>(c);
}

std::string inflate_raw(const std::string& in, uint64_t out_size, const std::string& what) {
    std::string out(out_size, '\0');
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(what + ": cannot start zlib");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    const uLong got = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || got != out_size) throw Error(what + ": the compressed data is corrupt");
    return out;
}

}  // namespace

std::map<std::string, npy::Array> read_npz(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(cat(path, ": cannot open the file"));
    std::ostringstream ss;
    ss << f.rdbuf();
    const std::string b = ss.str();
    const auto bad = [&](const std::string& why) { return Error(cat(path, ": not a valid .npz archive: ", why)); };
    if (b.size() < 22) throw bad("the file is too short for a zip archive");
    // The end-of-central-directory record: the last 22 bytes plus a comment of up to 65535.
    size_t eocd = std::string::npos;
    for (size_t at = b.size() - 22 + 1; at-- > 0 && b.size() - at <= 22 + 65535;)
        if (rd32(b, at) == 0x06054b50) {
            eocd = at;
            break;
        }
    if (eocd == std::string::npos) throw bad("no zip directory (truncated, or not a zip file)");
    const uint64_t entries = rd16(b, eocd + 10), cd_size = rd32(b, eocd + 12), cd_off = rd32(b, eocd + 16);
    if (entries == 0xffff || cd_off == 0xffffffffu) throw bad("zip64 archives (over 65535 members or 4 GiB) are not supported");
    if (cd_off + cd_size > eocd) throw bad("the zip directory lies outside the file");
    std::map<std::string, npy::Array> out;
    size_t at = static_cast<size_t>(cd_off);
    for (uint64_t e = 0; e < entries; ++e) {
        if (at + 46 > eocd || rd32(b, at) != 0x02014b50) throw bad(cat("directory entry ", e, " is damaged"));
        const uint16_t flags = rd16(b, at + 8), method = rd16(b, at + 10);
        const uint32_t want_crc = rd32(b, at + 16);
        uint64_t csize = rd32(b, at + 20), usize = rd32(b, at + 24);
        const size_t nlen = rd16(b, at + 28), xlen = rd16(b, at + 30), clen = rd16(b, at + 32);
        uint64_t local = rd32(b, at + 42);
        if (at + 46 + nlen + xlen + clen > eocd) throw bad(cat("directory entry ", e, " is damaged"));
        const std::string name = b.substr(at + 46, nlen);
        // zip64 extra field: the 64-bit values of whichever fields read 0xffffffff, in this order.
        for (size_t x = at + 46 + nlen; x + 4 <= at + 46 + nlen + xlen;) {
            const uint16_t id = rd16(b, x), len = rd16(b, x + 2);
            if (x + 4 + len > at + 46 + nlen + xlen) throw bad(cat(name, ": a damaged extra field"));
            if (id == 0x0001) {
                size_t y = x + 4;
                auto take = [&](uint64_t& v) {
                    if (v != 0xffffffffu) return;
                    if (y + 8 > x + 4 + len) throw bad(cat(name, ": a damaged zip64 field"));
                    v = rd64(b, y);
                    y += 8;
                };
                take(usize);
                take(csize);
                take(local);
            }
            x += 4 + len;
        }
        at += 46 + nlen + xlen + clen;
        if (flags & 1) throw bad(cat(name, " is encrypted"));
        if (local + 30 > b.size() || rd32(b, static_cast<size_t>(local)) != 0x04034b50) throw bad(cat(name, ": its local header is missing"));
        const size_t data = static_cast<size_t>(local) + 30 + rd16(b, static_cast<size_t>(local) + 26) + rd16(b, static_cast<size_t>(local) + 28);
        if (data > b.size() || csize > b.size() - data) throw bad(cat(name, ": the data runs past the end of the file (truncated?)"));
        std::string bytes = b.substr(data, static_cast<size_t>(csize));
        if (method == 8) {
            if (usize > (uint64_t{1} << 34)) throw bad(cat(name, ": claims ", usize, " bytes uncompressed"));
            bytes = inflate_raw(bytes, usize, cat(path, ": ", name));
        } else if (method != 0) {
            throw bad(cat(name, " uses compression method ", method, "; only stored (0) and deflate (8) are read"));
        }
        if (bytes.size() != usize) throw bad(cat(name, ": its size does not match the directory"));
        if (crc(bytes) != want_crc) throw bad(cat(name, ": the CRC does not match (the data is corrupt)"));
        if (name.size() < 4 || name.substr(name.size() - 4) != ".npy") throw bad(cat("the member ", name, " is not a .npy array"));
        const std::string key = name.substr(0, name.size() - 4);
        if (out.count(key)) throw bad(cat("the member ", name, " appears twice"));
        out[key] = npy::parse(bytes, path + ":" + name);
    }
    return out;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
    std::string out, dir;
    std::set<std::string> seen;
    for (const auto& [key, bytes] : members) {
        const std::string name = key + ".npy";
        if (!seen.insert(name).second) throw Error(cat("write_npz: the name ", key, " appears twice"));
        if (bytes.size() >= 0xffffffffu || out.size() >= 0xffffffffu) throw Error(cat("write_npz: ", key, ": archives of 4 GiB or more are not supported"));
        const uint32_t c = crc(bytes), offset = static_cast<uint32_t>(out.size());
        auto header = [&](std::string& h, bool central) {
            wr32(h, central ? 0x02014b50 : 0x04034b50);
            if (central) wr16(h, 20);  // made by
            wr16(h, 20);               // needed
            wr16(h, 0);                // flags
            wr16(h, 0);                // stored
            wr16(h, 0);                // time
            wr16(h, 0x21);             // date 1980-01-01
            wr32(h, c);
            wr32(h, static_cast<uint32_t>(bytes.size()));
            wr32(h, static_cast<uint32_t>(bytes.size()));
            wr16(h, static_cast<uint32_t>(name.size()));
            wr16(h, 0);  // extra
            if (central) {
                wr16(h, 0);  // comment
                wr16(h, 0);  // disk
                wr16(h, 0);  // internal attributes
                wr32(h, 0);  // external attributes
                wr32(h, offset);
            }
            h += name;
        };
        header(out, false);
        out += bytes;
        header(dir, true);
    }
    const uint32_t cd_off = static_cast<uint32_t>(out.size());
    out += dir;
    wr32(out, 0x06054b50);
    wr16(out, 0);
    wr16(out, 0);
    wr16(out, static_cast<uint32_t>(members.size()));
    wr16(out, static_cast<uint32_t>(members.size()));
    wr32(out, static_cast<uint32_t>(dir.size()));
    wr32(out, cd_off);
    wr16(out, 0);
    std::ofstream f(path, std::ios::binary);
    if (!f) throw Error(cat(path, ": cannot create the file"));
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f) throw Error(cat(path, ": writing failed"));
}

template <class T>
void save_weights(const std::string& path, Sequential<T>& model) {
    std::vector<std::pair<std::string, std::string>> members;
    for (auto& [name, p] : model.named_params()) members.emplace_back(name, npy::serialize(p->value.shape, p->value.data.data()));
    write_npz(path, members);
}

template <class T>
void load_weights(const std::string& path, Sequential<T>& model) {
    auto arrays = read_npz(path);
    auto params = model.named_params();
    std::set<std::string> expected;
    for (auto& [name, p] : params) {
        expected.insert(name);
        auto it = arrays.find(name);
        if (it == arrays.end()) throw Error(cat(path, ": the weights of ", name, " are missing (the model has ", params.size(), " parameter tensors)"));
        if (it->second.shape != p->value.shape)
            throw Error(cat(path, ": ", name, " has shape (", dims_str(it->second.shape, ','), ") but the model's is (", dims_str(p->value.shape, ','), ")"));
    }
    for (const auto& [name, a] : arrays)
        if (!expected.count(name)) throw Error(cat(path, ": ", name, " is not a parameter of this model"));
    for (auto& [name, p] : params) {
        const auto& a = arrays.at(name);
        for (size_t i = 0; i < p->value.data.size(); ++i)
            p->value.data[i] = a.dtype == npy::DType::f32 ? static_cast<T>(a.f32[i]) : static_cast<T>(a.f64[i]);
    }
}

template void save_weights<float>(const std::string&, Sequential<float>&);
template void save_weights<double>(const std::string&, Sequential<double>&);
template void load_weights<float>(const std::string&, Sequential<float>&);
template void load_weights<double>(const std::string&, Sequential<double>&);

}  // namespace tconv::nn
