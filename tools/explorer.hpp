// `tconv serve`: the explorer, an interactive page over the explanation engine. The page (tools/explorer/)
// holds no arithmetic of its own: every number, formula, highlight and translation comes from these
// functions, which the HTTP server wraps and the tests call directly.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace tconv::cli::explorer {

// GET /api/examples: the seeds' worked examples as page presets (parameters, values, the seed's output).
nlohmann::json examples();

// POST /api/explain. The request:
//   {"input":  {"shape": [C_in, spatial...], "values": [...]},
//    "kernel": {"shape": [C_in, C_out/groups, k...], "values": [...]},
//    "bias": [one per output channel] (optional),
//    "stride", "padding", "output_padding", "dilation": [one value or one per axis] (optional),
//    "groups": n (optional), "cell": {"channel": oc, "position": [...]} (optional, default the first),
//    "example": name (optional: the answer then says whether the seed prints the same output)}
// The answer: `tconv explain --json` (every view's values, the cell's terms) plus the cell's formula, the
// masks and placements the pictures need, the overlap map, and the layer in PyTorch, TensorFlow, ONNX and
// JAX. Throws tconv::Error naming the field and the rule for a bad request (sizes beyond the page's limits
// included).
nlohmann::json explain(const nlohmann::json& request);

// The page's limits (the server answers 400 beyond them).
constexpr int64_t kMaxElems = 2048;  // values of the full output, padded input, output, and any tensor given
constexpr int64_t kMaxSteps = 144;   // input values (distribute steps)
constexpr size_t kMaxBody = 1 << 20;  // request bytes (413 beyond)

// The HTTP server: "/" the page, "/explorer.js", "/explorer.css", "/api/examples", "/api/explain".
// Answers 400 with {"error": message} for a bad request, 404/405 for unknown paths and methods, 413 for a
// body over kMaxBody.
class Server {
public:
    Server();
    ~Server();
    // Binds host:port (port 0: any free one) and returns the port; throws tconv::Error when it cannot.
    int bind(const std::string& host, int port);
    void run();   // serves until stop()
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tconv::cli::explorer
