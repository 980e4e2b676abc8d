#include "explorer.hpp"

#include <httplib.h>

#include <sstream>

#include "common.hpp"
#include "explorer_assets.hpp"
#include "print.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/error.hpp"
#include "tconv/explain.hpp"
#include "tconv/translate.hpp"

namespace tconv::cli::explorer {

namespace {

using json = nlohmann::json;

int64_t prod(const Dims& d) {
    int64_t r = 1;
    for (int64_t x : d) r *= x;
    return r;
}

// ---------------------------------------------------------------- reading the request

const json& field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end()) throw Error(std::string("request: the field \"") + name + "\" is missing");
    return *it;
}

int64_t integer(const json& v, const std::string& what, int64_t lo, int64_t hi) {
    if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))))
        throw Error(what + ": expected an integer, got " + v.dump());
    const double x = v.get<double>();
    if (x < static_cast<double>(lo) || x > static_cast<double>(hi))
        throw Error(what + "=" + v.dump() + " must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int64_t>(x);
}

// A per-axis parameter: a number or a list of 1..3 numbers.
Dims per_axis(const json& req, const char* name, int64_t lo, int64_t hi) {
    auto it = req.find(name);
    if (it == req.end() || it->is_null()) return {};
    Dims d;
    if (it->is_array()) {
        if (it->empty() || it->size() > 3) throw Error(std::string(name) + ": give one value or one per spatial axis, got " + it->dump());
        for (const auto& v : *it) d.push_back(integer(v, name, lo, hi));
    } else {
        d.push_back(integer(*it, name, lo, hi));
    }
    return d;
}

struct Array {
    Dims shape;
    std::vector<double> values;
};

Array tensor(const json& req, const char* name, size_t min_axes, size_t max_axes) {
    const json& t = field(req, name);
    if (!t.is_object()) throw Error(std::string(name) + ": expected {\"shape\": [...], \"values\": [...]}, got " + std::string(t.type_name()));
    const json& shape = field(t, "shape");
    const json& values = field(t, "values");
    if (!shape.is_array() || shape.size() < min_axes || shape.size() > max_axes)
        throw Error(std::string(name) + ".shape must be a list of " + std::to_string(min_axes) + " to " + std::to_string(max_axes) +
                    " sizes, got " + shape.dump());
    Array a;
    int64_t n = 1;
    for (const auto& v : shape) {
        a.shape.push_back(integer(v, std::string(name) + ".shape", 1, kMaxElems));
        n *= a.shape.back();
        if (n > kMaxElems)
            throw Error(std::string(name) + ".shape " + shape.dump() + " holds more than " + std::to_string(kMaxElems) +
                        " values, the explorer's limit");
    }
    if (!values.is_array()) throw Error(std::string(name) + ".values must be a list of numbers");
    if (static_cast<int64_t>(values.size()) != n)
        throw Error(std::string(name) + ".values has " + std::to_string(values.size()) + " numbers; the shape " + shape.dump() +
                    " needs " + std::to_string(n));
    for (const auto& v : values) {
        if (!v.is_number()) throw Error(std::string(name) + ".values: expected numbers, got " + v.dump());
        a.values.push_back(v.get<double>());
    }
    return a;
}

// ---------------------------------------------------------------- the answer's extras

std::string idx(const Dims& d) { return "[" + dims_str(d, ',') + "]"; }
std::string num(double v) { return format_number(v); }
std::string paren(double v) { return v < 0 ? "(" + num(v) + ")" : num(v); }

json formula(const explain::Explanation& e, int64_t oc, const Dims& cell) {
    const auto terms = explain::cell_terms(e, oc, cell);
    const Problem& p = e.p;
    std::string sym = "y" + idx(Dims{oc}) + idx(cell) + " = ", val;
    double sum = 0;
    for (size_t t = 0; t < terms.size(); ++t) {
        const auto& x = terms[t];
        const int64_t ocg = oc % (p.oc / p.g);
        sym += (t ? " + " : "") + std::string("x") + idx(Dims{x.ic}) + idx(x.pos) + "\u00b7w" + idx(Dims{x.ic, ocg}) + idx(x.k);
        val += (t ? " + " : "") + paren(x.value) + "\u00b7" + paren(x.weight);
        sum += x.value * x.weight;
    }
    if (terms.empty()) {
        sym += "0";
        val = "0";
    }
    if (!e.bia.empty()) {
        sym += " + b[" + std::to_string(oc) + "]";
        val += " + " + paren(e.bia[oc]);
        sum += e.bia[oc];
    }
    const Dims o = p.o();
    int64_t flat = 0;
    for (int a = 0; a < p.rank(); ++a) flat = flat * o[a] + cell[a];
    json j;
    j["symbols"] = sym;
    j["numbers"] = val + " = " + num(sum);
    j["value"] = sum;
    j["terms_count"] = terms.size();
    j["zero_taps"] = explain::cell_zero_taps(e, oc, cell);
    j["ct_row"] = oc * prod(o) + flat;  // the clicked cell's row of C^T (= column of C)
    return j;
}

json masks_and_steps(const explain::Explanation& e) {
    const Problem& p = e.p;
    json j;
    j["padded_value"] = std::vector<int>(e.padded_value.begin(), e.padded_value.end());
    j["flipped_tap"] = std::vector<int>(e.flipped_tap.begin(), e.flipped_tap.end());
    // Each distribute step's kernel taps in the full output: at + t*d for every kernel index t.
    json places = json::array();
    for (const auto& st : e.steps) {
        json cells = json::array();
        each_index(p.k, [&](const Dims& t) {
            Dims f(p.rank());
            for (int a = 0; a < p.rank(); ++a) f[a] = st.at[a] + t[a] * p.d[a];
            cells.push_back(f);
        });
        places.push_back(cells);
    }
    j["step_cells"] = places;
    return j;
}

json translations(const Problem& p) {
    translate::Layer layer;
    layer.framework = translate::Framework::pytorch;
    layer.attrs["stride"] = p.s;
    layer.attrs["padding"] = p.pb;
    layer.attrs["output_padding"] = p.op;
    layer.attrs["groups"] = Dims{p.g};
    layer.attrs["dilation"] = p.d;
    layer.input_shape = p.src_shape();
    layer.weight_shape = p.wei_shape();
    layer.bias = p.bias;
    json j;
    for (const char* name : {"pytorch", "tensorflow", "onnx", "jax"}) {
        const auto t = translate::translate(layer, translate::framework(name));
        j[name] = {{"code", t.code}, {"exact", t.exact}, {"representable", t.representable}, {"notes", t.notes},
                   {"output_shape", t.output_shape}, {"weights", t.weights.str()}};
    }
    return j;
}

}  // namespace

json examples() {
    json list = json::array();
    for (const auto& ex : explain::examples()) {
        const Problem& p = ex.problem;
        json j{{"name", ex.name}, {"source", ex.source}, {"description", ex.description}, {"rank", p.rank()},
               {"input", {{"shape", with_channels(p.ic, p.i)}, {"values", ex.src}}},
               {"kernel", {{"shape", p.wei_shape()}, {"values", ex.wei}}},
               {"stride", p.s}, {"padding", p.pb}, {"output_padding", p.op}, {"dilation", p.d}, {"groups", p.g},
               {"problem", p.str()}};
        if (!ex.bia.empty()) j["bias"] = ex.bia;
        if (!ex.expected.empty()) j["expected"] = ex.expected;
        list.push_back(j);
    }
    return list;
}

json explain(const json& req) {
    if (!req.is_object()) throw Error("request: expected a JSON object, got " + std::string(req.type_name()));
    const Array x = tensor(req, "input", 2, 4);
    const Array w = tensor(req, "kernel", 3, 5);
    if (w.shape.size() != x.shape.size() + 1)
        throw Error("kernel.shape " + dims_str(w.shape, ',') + " must be (C_in, C_out/groups, k...) with as many kernel axes as input.shape " +
                    dims_str(x.shape, ',') + " has spatial axes");
    Params prm;
    prm.stride = per_axis(req, "stride", 1, 64);
    prm.padding = per_axis(req, "padding", 0, 256);
    prm.output_padding = per_axis(req, "output_padding", 0, 64);
    prm.dilation = per_axis(req, "dilation", 1, 64);
    if (auto it = req.find("groups"); it != req.end()) prm.groups = integer(*it, "groups", 1, 64);
    std::vector<double> bia;
    if (auto it = req.find("bias"); it != req.end() && !it->is_null()) {
        if (!it->is_array()) throw Error("bias must be a list of numbers, one per output channel");
        for (const auto& v : *it) {
            if (!v.is_number()) throw Error("bias: expected numbers, got " + v.dump());
            bia.push_back(v.get<double>());
        }
    }
    Dims src{1};
    src.insert(src.end(), x.shape.begin(), x.shape.end());
    Loaded l;
    l.p = problem_from(prm, src, w.shape, !bia.empty());
    l.src = x.values;
    l.wei = w.values;
    l.bia = bia;
    l.title = "your numbers";
    if (auto it = req.find("example"); it != req.end() && it->is_string()) {
        const auto& ex = explain::example(it->get<std::string>());
        l.example = &ex;
        l.title = ex.source + ": " + ex.description;
    }
    explain::Limits lim;
    lim.max_elems = kMaxElems;
    lim.max_steps = kMaxSteps;
    const explain::Explanation e = explain::explain(l.p, l.src, l.wei, l.bia, lim);

    int64_t oc = 0;
    Dims cell(l.p.rank(), 0);
    if (auto it = req.find("cell"); it != req.end() && !it->is_null()) {
        oc = integer(field(*it, "channel"), "cell.channel", 0, l.p.oc - 1);
        const json& pos = field(*it, "position");
        if (!pos.is_array() || static_cast<int>(pos.size()) != l.p.rank())
            throw Error("cell.position must list " + std::to_string(l.p.rank()) + " indices, got " + pos.dump());
        const Dims o = l.p.o();
        for (int a = 0; a < l.p.rank(); ++a) cell[a] = integer(pos[a], "cell.position", 0, o[a] - 1);
    }
    json j = explanation_json(l, e, oc, cell);
    j["formula"] = formula(e, oc, cell);
    json sizes = json::array();
    const Dims o = l.p.o();
    for (int a = 0; a < l.p.rank(); ++a) {
        const Problem& p = l.p;
        sizes.push_back(axis_name(p.rank(), a) + "s: full output F = s(i-1) + d(k-1) + 1 = " + std::to_string(p.s[a]) + "(" +
                        std::to_string(p.i[a]) + "-1) + " + std::to_string(p.d[a]) + "(" + std::to_string(p.k[a]) + "-1) + 1 = " +
                        std::to_string(e.full[a]) + ";  output o = F - 2p + op = " + std::to_string(e.full[a]) + " - " +
                        std::to_string(p.pb[a] + p.pe[a]) + " + " + std::to_string(p.op[a]) + " = " + std::to_string(o[a]));
    }
    j["sizes"] = sizes;
    j["views"] = masks_and_steps(e);
    const auto ov = checkerboard::overlap(l.p);
    const auto pat = checkerboard::pattern({l.p});
    j["overlap"] = {{"shape", ov.shape}, {"values", ov.values}, {"min", ov.min}, {"max", ov.max}, {"unevenness", ov.unevenness},
                    {"period", pat.shape}, {"pattern", pat.values}, {"pattern_unevenness", pat.unevenness}};
    j["translate"] = translations(l.p);
    if (l.example && !l.example->expected.empty()) {
        const bool same_layer = l.p == l.example->problem;
        j["seed"] = {{"expected", l.example->expected}, {"same_layer", same_layer},
                     {"matches", same_layer && l.example->expected == e.distribute}};
    }
    return j;
}

// ---------------------------------------------------------------- HTTP

struct Server::Impl {
    httplib::Server http;
};

namespace {

void answer_json(httplib::Response& res, int status, const json& j) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& message) {
    answer_json(res, status, json{{"error", message}});
}

}  // namespace

Server::Server() : impl_(std::make_unique<Impl>()) {
    auto& s = impl_->http;
    s.set_payload_max_length(kMaxBody);
    s.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});
    auto asset = [&s](const char* path, std::string_view body, const char* type) {
        s.Get(path, [body, type](const httplib::Request&, httplib::Response& res) { res.set_content(body.data(), body.size(), type); });
    };
    asset("/", assets::index_html, "text/html; charset=utf-8");
    asset("/index.html", assets::index_html, "text/html; charset=utf-8");
    asset("/explorer.js", assets::explorer_js, "text/javascript; charset=utf-8");
    asset("/explorer.css", assets::explorer_css, "text/css; charset=utf-8");
    s.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    s.Get("/api/examples", [](const httplib::Request&, httplib::Response& res) { answer_json(res, 200, examples()); });
    s.Post("/api/explain", [](const httplib::Request& req, httplib::Response& res) {
        json body;
        try {
            body = json::parse(req.body);
        } catch (const json::parse_error& e) {
            answer_error(res, 400, std::string("the request is not valid JSON: ") + e.what());
            return;
        }
        try {
            answer_json(res, 200, explain(body));
        } catch (const Error& e) {
            answer_error(res, 400, e.what());
        } catch (const json::exception& e) {
            answer_error(res, 400, std::string("request: ") + e.what());
        } catch (const std::bad_alloc&) {
            answer_error(res, 413, "the request needs more memory than the explorer allows");
        }
    });
    s.Get("/api/explain", [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Allow", "POST");
        answer_error(res, 405, "/api/explain takes a POST with a JSON body");
    });
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler's own answer
        if (res.status == 404) answer_error(res, 404, "no such page: " + req.path);
        else if (res.status == 413) answer_error(res, 413, "the request body is larger than " + std::to_string(kMaxBody) + " bytes");
        else answer_error(res, res.status, "the request was refused (HTTP " + std::to_string(res.status) + ")");
    });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what += std::string(": ") + e.what();
        } catch (...) {
        }
        answer_error(res, 500, what);
    });
}

Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
    const int got = port == 0 ? impl_->http.bind_to_any_port(host) : (impl_->http.bind_to_port(host, port) ? port : -1);
    if (got < 0) throw Error("cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not an address of this machine)");
    return got;
}

void Server::run() { impl_->http.listen_after_bind(); }
void Server::stop() { impl_->http.stop(); }

}  // namespace tconv::cli::explorer
