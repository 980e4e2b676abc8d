// `tconv serve`: the explorer page on http://127.0.0.1:PORT/ (tools/explorer.hpp).
#include <iostream>

#include "commands.hpp"
#include "explorer.hpp"

namespace tconv::cli {

namespace {

struct ServeArgs {
    std::string host = "127.0.0.1";
    int port = 8765;
};

int run_serve(const ServeArgs& a) {
    explorer::Server server;
    const int port = server.bind(a.host, a.port);
    const std::string shown = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
    std::cout << "tconv explorer: http://" << shown << ":" << port << "/  (Ctrl-C stops it)" << std::endl;
    if (a.host != "127.0.0.1" && a.host != "localhost" && a.host != "::1")
        std::cerr << "tconv serve: listening on " << a.host << ", not only this machine: anyone who reaches it can use the page" << std::endl;
    server.run();
    return 0;
}

}  // namespace

Command add_serve(CLI::App& app) {
    auto a = std::make_shared<ServeArgs>();
    auto* c = app.add_subcommand("serve", "The explorer: an interactive page that builds a transposed convolution cell by cell");
    c->add_option("--host", a->host, "address to listen on (default 127.0.0.1: this machine only)");
    c->add_option("--port", a->port, "port (default 8765; 0 picks a free one)")->check(CLI::Range(0, 65535));
    return {c, [a] { return run_serve(*a); }};
}

}  // namespace tconv::cli
