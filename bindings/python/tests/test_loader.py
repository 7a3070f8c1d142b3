"""Finding libmikrobill.so: $MIKROBILL_LIB, the package directory, the system path; version check."""

import ctypes.util
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mikrobill import LibraryLoadError
from mikrobill._loader import LINUX_SONAME, REQUIRED_VERSION_PREFIX, _incomplete_library, _soname, load_library

from conftest import LIB_PATH

SRC = str(Path(__file__).resolve().parent.parent / "src")


def run_python(code, env_extra, unset=("MIKROBILL_LIB",)):
    env = dict(os.environ)
    for name in unset:
        env.pop(name, None)
    env.update(env_extra)
    env["PYTHONPATH"] = SRC
    return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)


def test_env_override_loads_that_file():
    lib, location, version = load_library(LIB_PATH)
    assert location == LIB_PATH
    assert version.startswith(REQUIRED_VERSION_PREFIX)


def test_env_override_missing_file_is_reported_without_fallback(tmp_path):
    # The package directory holds a working copy, but a broken override must not be papered over.
    shutil.copy(LIB_PATH, tmp_path / "libmikrobill.so")
    missing = str(tmp_path / "nowhere" / "libmikrobill.so")
    with pytest.raises(LibraryLoadError) as info:
        load_library(missing, package_dir=str(tmp_path))
    assert isinstance(info.value, OSError)
    assert missing in str(info.value)
    assert info.value.tried == ["%s (no such file)" % missing]


def test_package_directory_is_searched(tmp_path):
    shutil.copy(LIB_PATH, tmp_path / "libmikrobill.so")
    _, location, _ = load_library(None, package_dir=str(tmp_path))
    assert location == str(tmp_path / "libmikrobill.so")


def test_system_path_is_searched(tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(LIB_PATH, libdir / "libmikrobill.so")
    empty = tmp_path / "pkg"
    empty.mkdir()
    code = ("from mikrobill._loader import load_library\n"
            "lib, location, version = load_library(None, package_dir=%r)\n"
            "print(location, version)\n" % str(empty))
    result = run_python(code, {"LD_LIBRARY_PATH": str(libdir)})
    assert result.returncode == 0, result.stderr.decode()
    location, version = result.stdout.decode().split()
    assert "libmikrobill" in location and not location.startswith(str(empty))
    assert version.startswith(REQUIRED_VERSION_PREFIX)


def test_not_found_names_every_path_tried(tmp_path):
    code = ("from mikrobill._loader import load_library\n"
            "load_library(None, package_dir=%r)\n" % str(tmp_path))
    result = run_python(code, {"LD_LIBRARY_PATH": str(tmp_path)})
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "LibraryLoadError" in err and "libmikrobill.so not found" in err
    assert "tried %s/libmikrobill.so (no such file)" % tmp_path in err
    assert "tried libmikrobill.so (" in err


def test_import_does_not_need_the_library(tmp_path):
    missing = str(tmp_path / "libmikrobill.so")
    code = ("import mikrobill\n"
            "try:\n"
            "    mikrobill.MikroBILL_API('127.0.0.1', 7403, 'api', 'secret', 'k', 'k')\n"
            "except mikrobill.LibraryLoadError as e:\n"
            "    print('LOADERROR', e.tried)\n")
    result = run_python(code, {"MIKROBILL_LIB": missing}, unset=())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith("LOADERROR ['%s (no such file)']" % missing)


def test_library_without_the_abi_is_rejected():
    libm = ctypes.util.find_library("m")
    assert libm, "libm must be findable on Linux"
    with pytest.raises(LibraryLoadError) as info:
        load_library(libm)
    assert "not the MikroBILL library" in info.value.tried[0]


@pytest.fixture(scope="session")
def fake_library(tmp_path_factory):
    """A library with the 0.3 C ABI that reports $MIKROBILL_FAKE_VERSION as its version
    (fake_library.c): $MIKROBILL_FAKE_LIB when set (built beforehand where there is no
    compiler), else built here with cc."""
    prebuilt = os.environ.get("MIKROBILL_FAKE_LIB")
    if prebuilt:
        return Path(prebuilt)
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler (cc) is needed to build the fake library; Rust builds need one too"
    fake = tmp_path_factory.mktemp("fake") / "libmikrobill.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(fake), str(Path(__file__).parent / "fake_library.c")],
                   check=True)
    return fake


def test_version_mismatch_is_rejected(fake_library, monkeypatch):
    # Same ABI, wrong version: the loader must refuse it before any handle is made.
    monkeypatch.setenv("MIKROBILL_FAKE_VERSION", "0.2.9")
    with pytest.raises(LibraryLoadError) as info:
        load_library(str(fake_library))
    assert "version mismatch" in str(info.value)
    assert "%s (version 0.2.9, this binding needs %sx)" % (fake_library, REQUIRED_VERSION_PREFIX) in info.value.tried


def test_the_required_version_comes_from_the_generated_table(fake_library, monkeypatch):
    from mikrobill._generated import VERSION
    # While the major version is 0, a minor release may change the C ABI: MAJOR.MINOR must match.
    assert REQUIRED_VERSION_PREFIX == ".".join(VERSION.split(".")[:2]) + "."
    # Any patch release of that series loads.
    monkeypatch.setenv("MIKROBILL_FAKE_VERSION", REQUIRED_VERSION_PREFIX + "99")
    _, location, version = load_library(str(fake_library))
    assert (location, version) == (str(fake_library), REQUIRED_VERSION_PREFIX + "99")


def test_library_info_reports_the_loaded_library():
    from mikrobill import library_info
    location, version = library_info()
    assert location == LIB_PATH
    assert version.startswith(REQUIRED_VERSION_PREFIX)


def test_soname_alone_on_the_system_path_is_found(tmp_path):
    # A runtime-only install (the .deb) has the file named by the SONAME but no unversioned link.
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(LIB_PATH, libdir / LINUX_SONAME)
    empty = tmp_path / "pkg"
    empty.mkdir()
    code = ("from mikrobill._loader import load_library\n"
            "lib, location, version = load_library(None, package_dir=%r)\n"
            "print(location)\n" % str(empty))
    result = run_python(code, {"LD_LIBRARY_PATH": str(libdir)})
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == LINUX_SONAME


@pytest.mark.parametrize("version,soname", [
    # scripts/dist.sh's rule: libmikrobill.so.MAJOR.MINOR while MAJOR is 0, .MAJOR from 1.0 on.
    ("0.3.0", "libmikrobill.so.0.3"),
    ("0.3.12", "libmikrobill.so.0.3"),
    ("0.10.1", "libmikrobill.so.0.10"),
    ("1.0.0", "libmikrobill.so.1"),
    ("2.7.3", "libmikrobill.so.2"),
])
def test_the_soname_names_the_abi_of_a_version(version, soname):
    assert _soname(version) == soname


def test_the_soname_looked_for_is_the_generated_versions():
    from mikrobill._generated import VERSION
    assert LINUX_SONAME == _soname(VERSION)
    # The version check and the SONAME name one ABI.
    assert LINUX_SONAME == "libmikrobill.so." + REQUIRED_VERSION_PREFIX[:-1]


def elf_soname(path):
    """DT_SONAME of a 64-bit little-endian ELF shared object, None when it has none. Read here
    rather than by readelf, which the Debian roots the suite also runs in do not have."""
    data = Path(path).read_bytes()
    assert data[:6] == b"\x7fELF\x02\x01", "%s is not a 64-bit little-endian ELF file" % path
    section_offset = struct.unpack_from("<Q", data, 0x28)[0]
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size)
                for i in range(count)]
    dynamic = [s for s in sections if s[1] == 6]  # SHT_DYNAMIC
    assert len(dynamic) == 1, "%s has %d dynamic sections" % (path, len(dynamic))
    strings = sections[dynamic[0][6]][4]  # its sh_link: the string table's file offset
    for offset in range(dynamic[0][4], dynamic[0][4] + dynamic[0][5], 16):
        tag, value = struct.unpack_from("<qQ", data, offset)
        if tag == 0:  # DT_NULL ends the table
            break
        if tag == 14:  # DT_SONAME
            start = strings + value
            return data[start:data.index(b"\0", start)].decode("ascii")
    return None


def test_the_elf_reader_finds_a_known_soname():
    # This process's libc, found where the dynamic loader mapped it: its SONAME is libc.so.6.
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/libc.so.6" in line or "/libc-2." in line}
    assert paths, "libc is not mapped in this process"
    assert {elf_soname(path) for path in paths} == {"libc.so.6"}


def test_the_library_under_test_has_no_soname_or_the_one_looked_for():
    # A build tree's library has none (only scripts/dist.sh sets one); the packaged one, which
    # run-tests-debian.sh tests from the wheel, must be named what the loader looks for.
    assert elf_soname(LIB_PATH) in (None, LINUX_SONAME)


def test_windows_looks_for_the_dll_first_in_the_package():
    from mikrobill._loader import _candidates
    found = _candidates(None, "C:\\Python\\Lib\\site-packages\\mikrobill", windows=True)
    assert found[0] == os.path.join("C:\\Python\\Lib\\site-packages\\mikrobill", "mikrobill.dll")
    assert found[-1] == "mikrobill.dll"
    assert not any("libmikrobill.so" in name for name in found)
    linux = _candidates(None, "/pkg", windows=False)
    assert linux[0] == "/pkg/libmikrobill.so" and linux[-2:] == ["libmikrobill.so", LINUX_SONAME]


@pytest.mark.parametrize("percent", [50, 90])
def test_a_truncated_library_is_named_not_loaded(tmp_path, percent):
    # Loading it would map segments past the end of the file: SIGBUS, the process gone. Run in a
    # child so that a regression shows as a failed test, not a dead test run.
    whole = Path(LIB_PATH).read_bytes()
    cut = tmp_path / "libmikrobill.so"
    cut.write_bytes(whole[:len(whole) * percent // 100])
    code = ("import mikrobill\n"
            "try:\n"
            "    mikrobill.MikroBILL_API('127.0.0.1', 7403, 'api', 'secret', 'k', 'k')\n"
            "except mikrobill.LibraryLoadError as e:\n"
            "    print('LOADERROR', e.tried)\n")
    result = run_python(code, {"MIKROBILL_LIB": str(cut)}, unset=())
    assert result.returncode == 0, "exit %d: %s" % (result.returncode, result.stderr.decode())
    out = result.stdout.decode()
    assert out.startswith("LOADERROR ['%s is incomplete: %d bytes, but its ELF header" % (cut, len(whole) * percent // 100)), out
    assert "truncated copy" in out


def test_a_file_that_is_no_library_is_named(tmp_path):
    text = tmp_path / "libmikrobill.so"
    text.write_text("not a library\n")
    with pytest.raises(LibraryLoadError) as info:
        load_library(str(text))
    assert info.value.tried == ["%s is not a shared library (no ELF or PE header; 14 bytes)" % text]


def test_the_whole_library_passes_the_check():
    assert _incomplete_library(LIB_PATH) is None


def _pe(sections):
    """A minimal PE image: MZ header pointing at a PE header with no optional header, then a
    section table of (raw_at, raw_size) entries."""
    head = bytearray(64)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 64)
    coff = bytearray(24)
    coff[:4] = b"PE\0\0"
    struct.pack_into("<H", coff, 6, len(sections))
    table = b"".join(struct.pack("<16xII16x", size, at) for at, size in sections)
    return bytes(head + coff + table)


def test_pe_sections_must_lie_inside_the_file(tmp_path):
    dll = tmp_path / "mikrobill.dll"
    image = _pe([(200, 100), (300, 50)])
    dll.write_bytes(image + bytes(350 - len(image)))
    assert _incomplete_library(str(dll)) is None
    dll.write_bytes(image + bytes(340 - len(image)))
    assert _incomplete_library(str(dll)) == (
        "%s is incomplete: 340 bytes, but its PE header places its section 1 up to byte 350 "
        "(a truncated copy? copy or install it again)" % dll)
    dll.write_bytes(image[:80])
    assert "places its PE header up to byte 88" in _incomplete_library(str(dll))
