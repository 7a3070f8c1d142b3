"""Find and load the native library (libmikrobill.so, mikrobill.dll on Windows) for ctypes.

Search order (first that loads wins):
  1. $MIKROBILL_LIB, when set: that exact file and nothing else, so a misconfigured override is
     reported instead of silently picking up some other copy;
  2. the library inside this package's directory (a wheel or checkout can ship it there);
  3. the system search path: ctypes.util.find_library("mikrobill"), then the plain names
     ("libmikrobill.so", then the SONAME that a runtime-only install has, LINUX_SONAME;
     "mikrobill.dll" on Windows), which honour LD_LIBRARY_PATH and the ld.so cache (PATH on
     Windows).
The library's version must be the one this package is generated for (_generated.VERSION): the
same MAJOR.MINOR while MAJOR is 0 (a 0.x minor release may change the C ABI), else the same MAJOR.
"""

import ctypes
import ctypes.util
import os
import struct
import threading
from typing import Callable, List, Optional, Tuple

from ._generated import VERSION
from .errors import LibraryLoadError

__all__ = ["get_library", "load_library", "library_info", "REQUIRED_VERSION_PREFIX", "LIB_NAME"]


def _abi_version(version: str) -> str:
    """The part of `version` that names the C ABI: MAJOR.MINOR while MAJOR is 0 (a 0.x minor
    release may change the ABI), else MAJOR. The packaged library's SONAME is
    libmikrobill.so.<this> (scripts/dist.sh applies the same rule)."""
    major, minor = version.split(".")[:2]
    return "%s.%s" % (major, minor) if major == "0" else major


def _soname(version: str) -> str:
    return "%s.%s" % (LINUX_LIB_NAME, _abi_version(version))


WINDOWS_LIB_NAME = "mikrobill.dll"
LINUX_LIB_NAME = "libmikrobill.so"
# A library of any version whose ABI part is this package's loads: 0.3.0 takes every 0.3.x.
REQUIRED_VERSION_PREFIX = _abi_version(VERSION) + "."
LINUX_SONAME = _soname(VERSION)
LIB_NAME = WINDOWS_LIB_NAME if os.name == "nt" else LINUX_LIB_NAME

# Guards the one-time load. Never held across fork(): see _hold_across_fork below.
_lock = threading.Lock()
_cached: Optional[Tuple[ctypes.CDLL, str, str]] = None


def _candidates(env_value: Optional[str], package_dir: str, windows: bool = os.name == "nt") -> List[str]:
    if env_value:
        return [env_value]
    name = WINDOWS_LIB_NAME if windows else LINUX_LIB_NAME
    found = [os.path.join(package_dir, name)]
    system = ctypes.util.find_library("mikrobill")
    if system:
        found.append(system)
    found.append(name)
    if not windows:
        found.append(LINUX_SONAME)
    return found


def _declare(lib: ctypes.CDLL) -> None:
    """Declares the 0.3 exports this binding calls (include/mikrobill.h). Every export but mb_free
    and mb_version returns an int code (0 = success); outputs come through out-parameters.

    Every char* the library hands out through an out-parameter is its own and goes back through
    mb_free, so those out-parameters are void** (a c_char_p would copy the text and lose the
    pointer). mb_version's text is static: c_char_p copies it, and it is never freed."""
    ll, ll_p, c_int, text = ctypes.c_longlong, ctypes.POINTER(ctypes.c_longlong), ctypes.c_int, ctypes.c_char_p
    owned_p = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "mb_connect": [text, ll_p],
        "mb_process": [ll, text, text, ll, owned_p],
        "mb_check_connection": [ll, ll],
        "mb_disconnect": [ll],
        "mb_close": [ll],
        "mb_discard": [ll],
        "mb_cancel_token_new": [ll_p],
        "mb_cancel_token_cancel": [ll],
        "mb_cancel_token_free": [ll],
        "mb_last_error_message": [owned_p],
        "mb_pool_stats": [owned_p],
        "mb_pool_clear": [ll_p],
    }
    for name, argtypes in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = c_int
    lib.mb_free.argtypes = [ctypes.c_void_p]
    lib.mb_free.restype = None


def _declare_version(lib: ctypes.CDLL) -> None:
    # Declared (and read) before the rest, so that a library of another version is reported as
    # such rather than as missing some export. A 0.2 library's mb_version returned a string to be
    # freed; reading it as static leaks those few bytes once, for a library that is refused.
    lib.mb_version.argtypes = []
    lib.mb_version.restype = ctypes.c_char_p


def take_string(lib: ctypes.CDLL, pointer: Optional[int]) -> Optional[bytes]:
    """Copy a library-owned C string and free it; None for NULL."""
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer)
    finally:
        lib.mb_free(pointer)


def last_error_message(lib: ctypes.CDLL) -> Optional[str]:
    """This thread's last error as one line of text (mb_last_error_message), None if none."""
    message = ctypes.c_void_p()
    if lib.mb_last_error_message(ctypes.byref(message)) != 0:
        return None
    raw = take_string(lib, message.value)
    return None if raw is None else raw.decode("utf-8", "replace")


def _parts_elf(head: bytes, read: Callable[[int, int], bytes]) -> List[Tuple[str, int, int]]:
    """(what, offset, length) of every part an ELF file's header points at that must be in the file."""
    wide = head[4] == 2
    end = "<" if head[5] == 1 else ">"
    if wide:
        phoff, shoff = struct.unpack_from(end + "QQ", head, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 0x36)
    else:
        phoff, shoff = struct.unpack_from(end + "II", head, 0x1C)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 0x2A)
    parts = [("program headers", phoff, phentsize * phnum), ("section headers", shoff, shentsize * shnum)]
    table = read(phoff, phentsize * phnum)
    for i in range(phnum if len(table) == phentsize * phnum else 0):
        entry = table[i * phentsize:(i + 1) * phentsize]
        if wide:
            (kind,) = struct.unpack_from(end + "I", entry, 0)
            offset, filesz = struct.unpack_from(end + "Q", entry, 8)[0], struct.unpack_from(end + "Q", entry, 0x20)[0]
        else:
            kind, offset = struct.unpack_from(end + "II", entry, 0)
            (filesz,) = struct.unpack_from(end + "I", entry, 16)
        if kind == 1:  # PT_LOAD: the loader maps it, so a missing byte is a SIGBUS, not an error
            parts.append(("segment %d" % i, offset, filesz))
    return parts


def _parts_pe(head: bytes, read: Callable[[int, int], bytes]) -> List[Tuple[str, int, int]]:
    """(what, offset, length) of the section table and every section's data in a PE file."""
    (pe,) = struct.unpack_from("<I", head, 0x3C)
    coff = read(pe, 24)
    if len(coff) < 24 or coff[:4] != b"PE\0\0":
        return [("PE header", pe, 24)]
    sections, optional = struct.unpack_from("<H", coff, 6)[0], struct.unpack_from("<H", coff, 20)[0]
    table_at = pe + 24 + optional
    parts = [("section table", table_at, 40 * sections)]
    table = read(table_at, 40 * sections)
    for i in range(sections if len(table) == 40 * sections else 0):
        raw_size, raw_at = struct.unpack_from("<II", table, 40 * i + 16)
        parts.append(("section %d" % i, raw_at, raw_size))
    return parts


def _incomplete_library(path: str) -> Optional[str]:
    """Why the file at `path` cannot be a whole shared library, or None when it may be one. The
    system loader does not report a truncated library: it maps segments past the end of the file,
    and the process dies of SIGBUS when they are touched. So an existing file is checked first:
    its format, and that every part its header points at lies inside it."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size

            def read(offset: int, length: int) -> bytes:
                f.seek(offset)
                return f.read(length)

            head = f.read(64)
            if head[:4] == b"\x7fELF" and len(head) >= 52:
                kind, parts = "ELF", _parts_elf(head, read)
            elif head[:2] == b"MZ" and len(head) >= 64:
                kind, parts = "PE", _parts_pe(head, read)
            else:
                return "%s is not a shared library (no ELF or PE header; %d bytes)" % (path, size)
    except (OSError, struct.error):
        return None  # unreadable here: the loader's own error says why
    for what, offset, length in parts:
        if offset + length > size:
            return ("%s is incomplete: %d bytes, but its %s header places its %s up to byte %d "
                    "(a truncated copy? copy or install it again)" % (path, size, kind, what, offset + length))
    return None


def load_library(env_value: Optional[str] = None, package_dir: Optional[str] = None) -> Tuple[ctypes.CDLL, str, str]:
    """Load the library from the first working candidate; return (lib, location, version).

    Raises LibraryLoadError naming every location tried when none loads or the version is not
    the one this package needs. Exposed with explicit arguments so the search can be tested
    without the environment.
    """
    if package_dir is None:
        package_dir = os.path.dirname(os.path.abspath(__file__))
    tried: List[str] = []
    for location in _candidates(env_value, package_dir):
        if os.sep in location and not os.path.exists(location):
            tried.append("%s (no such file)" % location)
            continue
        problem = _incomplete_library(location) if os.sep in location else None
        if problem is not None:
            tried.append(problem)
            continue
        try:
            lib = ctypes.CDLL(location)
        except OSError as exc:
            tried.append("%s (%s)" % (location, exc))
            continue
        try:
            _declare_version(lib)
        except AttributeError as exc:
            tried.append("%s (not the MikroBILL library: %s)" % (location, exc))
            continue
        raw = lib.mb_version()
        version = raw.decode("utf-8", "replace") if raw is not None else "<NULL>"
        if not version.startswith(REQUIRED_VERSION_PREFIX):
            tried.append("%s (version %s, this binding needs %sx)" % (location, version, REQUIRED_VERSION_PREFIX))
            raise LibraryLoadError("libmikrobill version mismatch", tried)
        try:
            _declare(lib)
        except AttributeError as exc:
            tried.append("%s (version %s but not its C ABI: %s)" % (location, version, exc))
            continue
        return lib, location, version
    raise LibraryLoadError(
        LIB_NAME + " not found; set MIKROBILL_LIB to its path, put it next to the mikrobill "
        "package, or install it on the system library path",
        tried,
    )


def get_library() -> ctypes.CDLL:
    """The process-wide library, loaded on first use (so `import mikrobill` never fails)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = load_library(os.environ.get("MIKROBILL_LIB"))
        return _cached[0]


def library_info() -> Tuple[str, str]:
    """(location, version) of the loaded library, loading it if needed."""
    get_library()
    assert _cached is not None
    return _cached[1], _cached[2]


def _hold_across_fork() -> None:
    # A lock held by another thread at fork() stays held for ever in the child, where that thread
    # does not exist. Taking it before the fork (waiting for a load in progress to finish) and
    # releasing it on both sides means no fork ever happens while some thread holds it.
    _lock.acquire()


def _release_after_fork() -> None:
    _lock.release()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to guard against
    os.register_at_fork(before=_hold_across_fork, after_in_parent=_release_after_fork,
                        after_in_child=_release_after_fork)
