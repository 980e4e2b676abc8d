#!/usr/bin/env bash
# Installs the Debian packages tconv needs that are missing (nothing when all are present).
set -euo pipefail
pkgs=(cmake g++ make libgtest-dev libcli11-dev libhwy-dev libbenchmark-dev libdnnl-dev ocl-icd-opencl-dev libxnnpack-dev libpthreadpool-dev python3-dev python3-pybind11 python3-numpy python3-pytest python3-torch nlohmann-json3-dev libpng-dev zlib1g-dev pkg-config libcpp-httplib-dev chromium fonts-dejavu-core python3-skimage)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tconv: installing missing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Node.js and npm drive the browser tests (playwright-core from the npm registry, tests/e2e). A machine may
# already have them from elsewhere than Debian (then Debian's npm package would clash): install only if absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tconv: installing Node.js and npm from Debian"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
