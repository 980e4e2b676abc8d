#include "test_util.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

namespace tconv::test {

std::vector<std::string> supporting(const Problem& p, Direction dir) {
    std::vector<std::string> r;
    for (const auto& v : explain_choice(p, dir))
        if (v.supported()) r.push_back(v.name);
    return r;
}

std::string data_path(const std::string& rel) { return std::string(TCONV_TEST_DATA) + "/" + rel; }

std::vector<std::string> read_shapes(const std::string& file) {
    std::ifstream f(data_path("shapes/" + file));
    EXPECT_TRUE(f.good()) << "cannot read shape file " << file;
    std::vector<std::string> r;
    std::string line;
    while (std::getline(f, line)) {
        const auto hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos) continue;
        const auto e = line.find_last_not_of(" \t\r");
        r.push_back(line.substr(b, e - b + 1));
    }
    return r;
}

int run_command(const std::string& cmd, std::string& out) {
    out.clear();
    FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
    if (!pipe) return -1;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace tconv::test
