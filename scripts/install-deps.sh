#!/usr/bin/env bash
# Installs the Debian packages convkit builds and tests with; does nothing when all are present.
# Idempotent: safe to run before every build (the Makefile does).
set -euo pipefail

packages=(
  cmake ninja-build g++ clang libomp-14-dev libclang-rt-14-dev
  libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev
  libstb-dev zlib1g-dev libcairo2-dev libfontconfig-dev fonts-dejavu-core
  pybind11-dev python3-pybind11 python3-dev python3-numpy python3-torch python3-scipy python3-pytest
  python3-venv python3-setuptools python3-wheel python3-pip
  python3-dask python3-distributed python3-zarr python3-nibabel
  qemu-user pkg-config  # the unit tests on emulated CPUs (Haswell, Nehalem); the install test
)
# `--peers`: the libraries `convkit bench --peers` compares against (CONVKIT_PEERS=ON; the dnnl CMake
# config needs OpenCL).
[ "${1:-}" = "--peers" ] && packages+=(libdnnl-dev libxnnpack-dev libpthreadpool-dev ocl-icd-opencl-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
