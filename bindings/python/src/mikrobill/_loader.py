"""Find and load the native library (libmikrobill.so, mikrobill.dll on Windows) for ctypes.

Search order (first that loads wins):
  1. $MIKROBILL_LIB, when set: that exact file and nothing else, so a misconfigured override is
     reported instead of silently picking up some other copy;
  2. the library inside this package's directory (a wheel or checkout can ship it there);
  3. the system search path: ctypes.util.find_library("mikrobill"), then the plain names
     ("libmikrobill.so", then the soname "libmikrobill.so.0" that a runtime-only install has;
     "mikrobill.dll" on Windows), which honour LD_LIBRARY_PATH and the ld.so cache (PATH on
     Windows).
"""

import ctypes
import ctypes.util
import os
import threading
from typing import List, Optional, Tuple

from .errors import LibraryLoadError

__all__ = ["get_library", "load_library", "REQUIRED_VERSION_PREFIX"]

REQUIRED_VERSION_PREFIX = "0.2."
WINDOWS_LIB_NAME = "mikrobill.dll"
LINUX_LIB_NAME = "libmikrobill.so"
LINUX_SONAME = "libmikrobill.so.0"
LIB_NAME = WINDOWS_LIB_NAME if os.name == "nt" else LINUX_LIB_NAME

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
    # Every char* the library returns is owned by it and must go back through mb_free, so those
    # are c_void_p (a c_char_p restype would copy and lose the pointer).
    c_ll, c_int, c_char_p, c_void_p = ctypes.c_longlong, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p
    lib.mb_connect.argtypes = [c_char_p]
    lib.mb_connect.restype = c_ll
    lib.mb_last_error.argtypes = []
    lib.mb_last_error.restype = c_void_p
    lib.mb_process.argtypes = [c_ll, c_char_p, c_char_p]
    lib.mb_process.restype = c_void_p
    lib.mb_check_connection.argtypes = [c_ll]
    lib.mb_check_connection.restype = c_int
    lib.mb_disconnect.argtypes = [c_ll]
    lib.mb_disconnect.restype = c_int
    lib.mb_close.argtypes = [c_ll]
    lib.mb_close.restype = c_int
    lib.mb_discard.argtypes = [c_ll]
    lib.mb_discard.restype = c_int
    lib.mb_cancel.argtypes = [c_ll]
    lib.mb_cancel.restype = c_int
    lib.mb_free.argtypes = [c_void_p]
    lib.mb_free.restype = None
    lib.mb_version.argtypes = []
    lib.mb_version.restype = c_void_p
    lib.mb_pool_stats.argtypes = []
    lib.mb_pool_stats.restype = c_void_p
    lib.mb_pool_clear.argtypes = []
    lib.mb_pool_clear.restype = c_ll


def take_string(lib: ctypes.CDLL, pointer: Optional[int]) -> Optional[bytes]:
    """Copy a library-owned C string and free it; None for NULL."""
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer)
    finally:
        lib.mb_free(pointer)


def load_library(env_value: Optional[str] = None, package_dir: Optional[str] = None) -> Tuple[ctypes.CDLL, str, str]:
    """Load the library from the first working candidate; return (lib, location, version).

    Raises LibraryLoadError naming every location tried when none loads or the version is not
    0.2.x. Exposed with explicit arguments so the search can be tested without the environment.
    """
    if package_dir is None:
        package_dir = os.path.dirname(os.path.abspath(__file__))
    tried: List[str] = []
    for location in _candidates(env_value, package_dir):
        if os.sep in location and not os.path.exists(location):
            tried.append("%s (no such file)" % location)
            continue
        try:
            lib = ctypes.CDLL(location)
        except OSError as exc:
            tried.append("%s (%s)" % (location, exc))
            continue
        try:
            _declare(lib)
        except AttributeError as exc:
            tried.append("%s (not the MikroBILL library: %s)" % (location, exc))
            continue
        raw = take_string(lib, lib.mb_version())
        version = raw.decode("utf-8", "replace") if raw is not None else "<NULL>"
        if not version.startswith(REQUIRED_VERSION_PREFIX):
            tried.append("%s (version %s, this binding needs %sx)" % (location, version, REQUIRED_VERSION_PREFIX))
            raise LibraryLoadError("libmikrobill version mismatch", tried)
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
