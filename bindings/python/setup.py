"""Tags the wheel for this platform when it carries libmikrobill.so; all else is in pyproject.toml.

The binding is pure Python (ctypes), so without the library the wheel is rightly py3-none-any. A
libmikrobill.so copied into src/mikrobill/ is machine code for one OS and architecture: a wheel
holding it must say so, or pip would install it anywhere and fail only at the first call.
"""

import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

BUNDLED_LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "mikrobill", "libmikrobill.so")


class LibraryDistribution(Distribution):
    def has_ext_modules(self):
        # The one switch setuptools reads for both the install layout (platlib) and the wheel's
        # Root-Is-Purelib and platform tag.
        return os.path.exists(BUNDLED_LIBRARY)


class PlatformOnlyWheel(bdist_wheel):
    def get_tag(self):
        python, abi, plat = super().get_tag()
        if not self.root_is_pure:
            # Loaded through ctypes, not the CPython C API: any Python 3 on this platform will do.
            python, abi = "py3", "none"
        return python, abi, plat


setup(distclass=LibraryDistribution, cmdclass={"bdist_wheel": PlatformOnlyWheel})
