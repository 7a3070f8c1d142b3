"""The wheel's tag matches what it carries: pure Python alone, one platform with the library.

Built offline (--no-build-isolation --no-index) from a copy of the project, with the setuptools
that run-tests.sh installs from requirements-test.txt.
"""

import platform
import shutil
import subprocess
import sys
import zipfile

from conftest import HERE, LIB_PATH

PROJECT = HERE.parent


def build_wheel(tmp_path, bundle_library):
    source = tmp_path / "project"
    shutil.copytree(PROJECT / "src", source / "src",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "libmikrobill.so"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    if bundle_library:
        shutil.copy(LIB_PATH, source / "src" / "mikrobill" / "libmikrobill.so")
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                    "--no-build-isolation", "--no-deps", "--no-index", "-w", str(out), str(source)],
                   check=True)
    wheels = list(out.glob("mikrobill-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_without_the_library_is_pure(tmp_path):
    wheel = build_wheel(tmp_path, bundle_library=False)
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        assert "mikrobill/libmikrobill.so" not in archive.namelist()
        # Type checkers use the package's hints only when the marker is installed with it.
        assert "mikrobill/py.typed" in archive.namelist()
        assert "mikrobill/aio.py" in archive.namelist()


def test_wheel_with_the_library_is_tagged_for_this_platform(tmp_path):
    wheel = build_wheel(tmp_path, bundle_library=True)
    # ctypes needs no particular Python ABI, only this OS and architecture.
    assert wheel.name.endswith("-py3-none-linux_%s.whl" % platform.machine()), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "mikrobill/libmikrobill.so" in names
        metadata = archive.read([n for n in names if n.endswith(".dist-info/WHEEL")][0]).decode()
    assert "Root-Is-Purelib: false" in metadata
