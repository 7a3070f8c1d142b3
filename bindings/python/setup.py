"""Tags the wheel for a platform when it carries libmikrobill.so or mikrobill.dll; all else is in pyproject.toml.

The binding is pure Python (ctypes), so without the library the wheel is rightly py3-none-any. A
libmikrobill.so copied into src/mikrobill/ is machine code for one OS and architecture: a wheel
holding it must say so, or pip would install it anywhere and fail only at the first call.
"""

import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "mikrobill")
# Linux or Windows (scripts/dist.sh builds each wheel with --plat-name for the one it carries).
BUNDLED_LIBRARIES = [os.path.join(PACKAGE_DIR, name) for name in ("libmikrobill.so", "mikrobill.dll")]


class LibraryDistribution(Distribution):
    def has_ext_modules(self):
        # The one switch setuptools reads for both the install layout (platlib) and the wheel's
        # Root-Is-Purelib and platform tag.
        return any(os.path.exists(path) for path in BUNDLED_LIBRARIES)


class PlatformOnlyWheel(bdist_wheel):
    def get_tag(self):
        python, abi, plat = super().get_tag()
        if not self.root_is_pure:
            # Loaded through ctypes, not the CPython C API: any Python 3 on this platform will do.
            python, abi = "py3", "none"
        return python, abi, plat


setup(distclass=LibraryDistribution, cmdclass={"bdist_wheel": PlatformOnlyWheel})
