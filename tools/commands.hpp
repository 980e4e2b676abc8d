// The subcommands beyond `run` and `algorithms`: each adds itself to the app and returns what to run
// when it was the one parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

namespace tconv::cli {

struct Command {
    CLI::App* app;
    std::function<int()> run;
};

Command add_explain(CLI::App& app);
Command add_matrix(CLI::App& app);
Command add_render(CLI::App& app);
Command add_checkerboard(CLI::App& app);
Command add_upsample(CLI::App& app);
Command add_translate(CLI::App& app);
Command add_serve(CLI::App& app);
Command add_train(CLI::App& app);

}  // namespace tconv::cli
