#!/usr/bin/env bash
# The README's install, exactly, from a clean copy of the source tree (the files git tracks or would add):
#   python3 -m venv --system-site-packages .venv && .venv/bin/pip install --no-build-isolation .
# with PIP_NO_INDEX=1, so the test fails if pip tries to download anything; then the installed package (not
# the source tree's) runs a convolution and the README's Python examples from outside the source tree.
# Usage: install_test.sh WORK_DIR (under the ccache base_dir to reuse the main build's objects).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mkdir -p "${1:?usage: install_test.sh WORK_DIR}" && cd "$1" && pwd)
rm -rf "$work/convkit" "$work/run"
mkdir -p "$work/convkit" "$work/run"
(cd "$source_dir" && git ls-files -z --cached --others --exclude-standard) |
  while IFS= read -r -d '' file; do
    [ -f "$source_dir/$file" ] && install -D -m "$(stat -c %a "$source_dir/$file")" "$source_dir/$file" "$work/convkit/$file"
  done

cd "$work/convkit"
/usr/bin/python3 -m venv --system-site-packages .venv
# The CMake build sits where the main build does relative to its sources (build/), with the same flags, so
# ccache can serve the library's objects.
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 CONVKIT_CMAKE_BUILD_DIR="$work/convkit/build" \
  CONVKIT_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=g++ -DCONVKIT_WERROR=ON" \
  .venv/bin/pip install --no-build-isolation . >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }

cd "$work/run"
"$work/convkit/.venv/bin/python" - "$work/convkit" "$source_dir/README.md" <<'PYTHON'
import pathlib, sys
import numpy as np
import convkit

venv = pathlib.Path(sys.argv[1]) / ".venv"
location = pathlib.Path(convkit.__file__).resolve()
assert venv.resolve() in location.parents, f"imported {location}, not the venv's install"
for stub in ("__init__.pyi", "_convkit.pyi", "py.typed", "dask/__init__.pyi"):  # editors see the signatures
    assert (location.parent / stub).is_file(), f"{stub} is not installed next to {location}"
y = convkit.conv1d(np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6), np.full((1, 1, 3), 2, np.float32))
assert y.ravel().tolist() == [12, 18, 24, 30], y
import convkit.dask  # the subpackage is installed too (setup.py packages)
z = convkit.dask.conv1d(np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6), np.full((1, 1, 3), 2, np.float32))
assert np.asarray(z).ravel().tolist() == [12, 18, 24, 30], z
sys.path.insert(0, str(pathlib.Path(sys.argv[2]).parent / "tests" / "python"))
from readme_examples import run_readme_examples
count = run_readme_examples(pathlib.Path(sys.argv[2]))
print(f"install_test: pip install --no-build-isolation . worked offline; {location.name} ran "
      f"{count} README example(s)")
PYTHON
