#!/bin/bash
# `cmake --install` into a fresh prefix, then examples/ built against it as a separate CMake project
# (find_package(convkit CONFIG)) and once with pkg-config (convkit.pc); both programs must print what
# the in-tree readme_example prints. Its source is the README's C++ block, which examples/CMakeLists.txt
# writes into the build tree.
#   tests/install_test.sh BUILD_DIR SOURCE_DIR CXX
set -euo pipefail
build=$(realpath "$1") source=$(realpath "$2") cxx=$3
work=$build/install-test
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
expected=$("$build/examples/readme_example")

cmake -S "$source/examples" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
got=$("$work/cmake/readme_example")
[ "$got" == "$expected" ] || { echo "find_package build printed:"; echo "$got"; exit 1; }

pc_dir=$(dirname "$(find "$work/prefix" -name convkit.pc)")
flags=$(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs convkit)
libdir=$(PKG_CONFIG_PATH=$pc_dir pkg-config --variable=libdir convkit)
"$cxx" -std=c++20 "$build/examples/readme_example.cc" $flags -Wl,-rpath,"$libdir" -o "$work/pkg_config_example"
got=$("$work/pkg_config_example")
[ "$got" == "$expected" ] || { echo "pkg-config build printed:"; echo "$got"; exit 1; }

version=$(PKG_CONFIG_PATH=$pc_dir pkg-config --modversion convkit)
test -f "$work/prefix/share/convkit/bench/layers.json"
echo "installed convkit $version: find_package and pkg-config builds of examples/ run as in the tree"
