"""Builds and installs the convkit Python package offline:

    python3 -m venv --system-site-packages .venv && .venv/bin/pip install --no-build-isolation .

setuptools drives the project's CMake (python/CMakeLists.txt): it configures a Release build in setuptools'
temporary directory for this interpreter, builds only the extension target (the convkit library linked in
statically) and copies the module next to the pure-Python files of python/convkit. Nothing is downloaded:
--no-build-isolation uses the setuptools and wheel already installed (Debian's python3-setuptools,
python3-wheel), and CMake finds Debian's pybind11-dev.
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # CONVKIT_CMAKE_BUILD_DIR / CONVKIT_CMAKE_ARGS: where CMake builds and extra configure arguments
        # (tests/python/install_test.sh uses them to share ccache hits with the main build).
        build = Path(os.environ.get("CONVKIT_CMAKE_BUILD_DIR") or Path(self.build_temp) / "cmake").resolve()
        configure = [
            "cmake", "-S", str(SOURCE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DCONVKIT_BUILD_TESTS=OFF", "-DCONVKIT_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}",
        ]
        configure += shlex.split(os.environ.get("CONVKIT_CMAKE_ARGS", ""))
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if shutil.which("ccache") and "CMAKE_CXX_COMPILER_LAUNCHER" not in os.environ:
            configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "convkit_python"], check=True)
        built = sorted((build / "python" / "convkit").glob("_convkit*.so"))
        if not built:
            raise RuntimeError(f"the CMake build made no convkit/_convkit*.so in {build}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], target)


def project_version():
    for line in (SOURCE / "CMakeLists.txt").read_text().splitlines():
        if line.startswith("project(convkit VERSION"):
            return line.split()[2]
    raise RuntimeError("no project(convkit VERSION ...) line in CMakeLists.txt")


setup(
    name="convkit",
    version=project_version(),
    description="Every CNN convolution exactly as PyTorch, TensorFlow and ONNX define them, on numpy arrays",
    packages=["convkit", "convkit.dask"],
    package_dir={"": "python"},
    package_data={"convkit": ["*.pyi", "py.typed"], "convkit.dask": ["*.pyi"]},
    ext_modules=[CMakeExtension("convkit._convkit")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
