// The explorer's server: its answers against the explanation engine, and bad requests over real HTTP
// (a clear 4xx, and the server keeps serving). The browser tests are in tests/e2e.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "explorer.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/error.hpp"
#include "tconv/explain.hpp"

namespace {

using json = nlohmann::json;
namespace ex = tconv::cli::explorer;

json seed_request(const std::string& name) {
    for (const auto& e : ex::examples())
        if (e["name"] == name) {
            json r{{"input", e["input"]}, {"kernel", e["kernel"]}, {"stride", e["stride"]}, {"padding", e["padding"]},
                   {"output_padding", e["output_padding"]}, {"dilation", e["dilation"]}, {"groups", e["groups"]}, {"example", name}};
            if (e.contains("bias")) r["bias"] = e["bias"];
            return r;
        }
    throw std::runtime_error("no example " + name);
}

TEST(Explorer, EverySeedExampleIsReproducedAndMatchesTheLibrary) {
    const json list = ex::examples();
    ASSERT_EQ(list.size(), tconv::explain::examples().size());
    for (const auto& lib : tconv::explain::examples()) {
        const json a = ex::explain(seed_request(lib.name));
        const auto e = tconv::explain::explain(lib.problem, lib.src, lib.wei, lib.bia);
        EXPECT_EQ(a["problem"]["string"], lib.problem.str()) << lib.name;
        EXPECT_EQ(a["distribute"]["output"]["values"].get<std::vector<double>>(), e.distribute) << lib.name;
        EXPECT_EQ(a["collect"]["output"]["values"].get<std::vector<double>>(), e.collect) << lib.name;
        EXPECT_TRUE(a["agree"].get<bool>()) << lib.name;
        if (!lib.expected.empty()) {
            EXPECT_TRUE(a["seed"]["matches"].get<bool>()) << lib.name;
            EXPECT_EQ(a["distribute"]["output"]["values"].get<std::vector<double>>(), lib.expected) << lib.name;
        }
    }
}

TEST(Explorer, CellFormulaTermsAndMasksComeFromTheEngine) {
    json r = seed_request("seed003-stride");
    r["cell"] = {{"channel", 0}, {"position", {2, 3}}};
    const json a = ex::explain(r);
    const auto& lib = tconv::explain::example("seed003-stride");
    const auto e = tconv::explain::explain(lib.problem, lib.src, lib.wei);
    const auto terms = tconv::explain::cell_terms(e, 0, {2, 3});
    ASSERT_EQ(a["cell"]["terms"].size(), terms.size());
    double sum = 0;
    for (size_t t = 0; t < terms.size(); ++t) {
        EXPECT_EQ(a["cell"]["terms"][t]["input"].get<tconv::Dims>(), terms[t].pos);
        EXPECT_EQ(a["cell"]["terms"][t]["kernel"].get<tconv::Dims>(), terms[t].k);
        EXPECT_EQ(a["cell"]["terms"][t]["padded"].get<tconv::Dims>(), terms[t].padded);
        sum += terms[t].value * terms[t].weight;
    }
    const auto o = lib.problem.o();
    EXPECT_EQ(a["formula"]["value"].get<double>(), sum);
    EXPECT_EQ(a["formula"]["value"].get<double>(), e.distribute[2 * o[1] + 3]);
    EXPECT_EQ(a["formula"]["ct_row"].get<int64_t>(), 2 * o[1] + 3);
    EXPECT_EQ(a["formula"]["zero_taps"].get<int64_t>(), tconv::explain::cell_zero_taps(e, 0, {2, 3}));
    EXPECT_EQ(a["views"]["padded_value"].get<std::vector<int>>(), std::vector<int>(e.padded_value.begin(), e.padded_value.end()));
    // Each step's placement: the kernel's taps at pos*s + t*d; the step's running output changes only there.
    ASSERT_EQ(a["views"]["step_cells"].size(), e.steps.size());
    const tconv::Dims full = e.full;
    std::vector<double> before(e.full_out.size(), 0.0);
    for (size_t s = 0; s < e.steps.size(); ++s) {
        std::vector<char> placed(before.size(), 0);
        for (const auto& c : a["views"]["step_cells"][s]) placed[c[0].get<int64_t>() * full[1] + c[1].get<int64_t>()] = 1;
        for (size_t f = 0; f < before.size(); ++f)
            if (!placed[f]) EXPECT_EQ(e.steps[s].running[f], before[f]) << "step " << s << " cell " << f;
        before = e.steps[s].running;
    }
    const auto ov = tconv::checkerboard::overlap(lib.problem);
    EXPECT_EQ(a["overlap"]["values"].get<std::vector<double>>(), ov.values);
    EXPECT_NE(a["translate"]["onnx"]["code"].get<std::string>().find("ConvTranspose"), std::string::npos);
    EXPECT_NE(a["translate"]["pytorch"]["code"].get<std::string>().find("stride=(2, 2)"), std::string::npos);
}

TEST(Explorer, BadRequestsNameTheFieldAndTheRule) {
    auto refused = [](const json& r, const std::string& text) {
        try {
            ex::explain(r);
            ADD_FAILURE() << "accepted " << r.dump();
        } catch (const tconv::Error& e) {
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    };
    json ok = seed_request("seed000-2d");
    refused(json::array(), "expected a JSON object");
    refused(json::object(), "\"input\" is missing");
    json r = ok;
    r["input"]["shape"] = {1, 1000000, 1000000};
    refused(r, "input.shape=1000000 must lie in [1, 2048]");
    r = ok;
    r["input"]["shape"] = {1, 2000, 2};
    refused(r, "more than 2048 values");
    r = ok;
    r["input"]["values"] = {1, 2, 3};
    refused(r, "input.values has 3 numbers");
    r = ok;
    r["input"]["values"] = {1, "two", 3, 4};
    refused(r, "input.values: expected numbers");
    r = ok;
    r["stride"] = "2";
    refused(r, "stride: expected an integer");
    r = ok;
    r["stride"] = {1, 2, 3, 4};
    refused(r, "stride: give one value or one per spatial axis");
    r = ok;
    r["output_padding"] = 2;
    refused(r, "output_padding op[0]=2 must be smaller than stride");
    r = ok;
    r["padding"] = 5;
    refused(r, "must be positive");
    r = ok;
    r["groups"] = 0;
    refused(r, "groups=0 must lie in [1, 64]");
    r = ok;
    r["cell"] = {{"channel", 0}, {"position", {3, 0}}};
    refused(r, "cell.position=3 must lie in [0, 2]");
    r = ok;
    r["kernel"] = {{"shape", {1, 1, 3}}, {"values", {1, 1, 1}}};
    refused(r, "kernel.shape 1,1,3 must be (C_in, C_out/groups, k...)");
    r = ok;
    r["example"] = "seed999";
    refused(r, "seed999");
    // Sizes the page's limits refuse: a large output.
    r = ok;
    r["input"] = {{"shape", {1, 30, 30}}, {"values", std::vector<double>(900, 1.0)}};
    r["stride"] = 3;
    refused(r, "the full output (90x90 per channel) has 8100 elements; explain shows at most 2048");
}

class ServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        port_ = server_.bind("127.0.0.1", 0);
        thread_ = std::thread([this] { server_.run(); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        for (int i = 0; i < 200 && !client_->Get("/api/examples"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    void TearDown() override {
        server_.stop();
        thread_.join();
    }
    httplib::Result post(const std::string& body) { return client_->Post("/api/explain", body, "application/json"); }

    ex::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, ServesThePageAndAnswers) {
    auto r = client_->Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("tconv explorer"), std::string::npos);
    EXPECT_EQ(client_->Get("/explorer.js")->status, 200);
    EXPECT_EQ(client_->Get("/explorer.css")->status, 200);
    r = post(seed_request("seed000-1d").dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body)["distribute"]["output"]["values"].get<std::vector<double>>(), (std::vector<double>{2, 4, 9, 6, 9}));
}

TEST_F(ServerTest, BadRequestsGetA4xxAndTheServerKeepsRunning) {
    auto expect = [&](const httplib::Result& r, int status, const std::string& text) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status);
        const json j = json::parse(r->body);
        EXPECT_NE(j["error"].get<std::string>().find(text), std::string::npos) << j["error"];
    };
    expect(post("{\"input\": [1, 2"), 400, "not valid JSON");
    expect(post("\"just a string\""), 400, "expected a JSON object");
    expect(post(""), 400, "not valid JSON");
    json huge = seed_request("seed000-2d");
    huge["input"]["shape"] = {1, int64_t{1} << 40, int64_t{1} << 40};
    expect(post(huge.dump()), 400, "must lie in [1, 2048]");
    expect(post(std::string(2 << 20, '[')), 413, "larger than");
    expect(client_->Get("/api/explain"), 405, "POST");
    expect(client_->Get("/missing"), 404, "no such page");
    auto r = post(seed_request("seed000-2d").dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST(ServerBind, RefusesAnAddressItCannotUse) {
    ex::Server s;
    EXPECT_THROW(s.bind("203.0.113.7", 0), tconv::Error);  // not an address of this machine
}

}  // namespace
