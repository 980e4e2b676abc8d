#!/usr/bin/env bash
# Set-up command 2: install what is missing, then build and run every test: the C++ suite in a Release build,
# the Python suite (pytest, against PyTorch) on it, and the C++ suite again in a Debug build under
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
# The Python package against PyTorch, with Debian's interpreter (the first python3 on PATH may lack numpy).
PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
# The explorer (tconv serve) in a real headless Chromium: Debian's chromium driven by playwright-core (npm).
[ -d tests/e2e/node_modules/playwright-core ] || npm ci --prefix tests/e2e --no-audit --no-fund
(cd tests/e2e && TCONV_CLI="$PWD/../../build/bin/tconv" node --test)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTCONV_SANITIZE=ON
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs")
