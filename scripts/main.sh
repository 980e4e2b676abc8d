#!/usr/bin/env bash
# Set-up command 1: install what is missing, build (Release) and run the main job, `tconv run` on its
# embedded default (seed 000's 2-D example).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/bin/tconv run
