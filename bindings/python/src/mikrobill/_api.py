"""MikroBILL_API: the PHP client's surface over the native handle.

PHP names (Process, Close, CheckConnection) keep PHP semantics; the snake_case names are the
Pythonic face. Note the one deliberate difference in meaning:
  Close() / disconnect()  send DISCONNECT and drop the socket; the object stays usable and the
                          next call reconnects (what PHP's Close() does);
  close()                 releases the native handle for good (also done by `with`): says
                          DISCONNECT and waits up to io_timeout for the reply; later calls raise
                          MikroBILLError 9007.
Garbage collection of an instance that was never closed releases its handle too, but with
mb_discard: the socket is just closed, without DISCONNECT, because a collection can run in any
thread at any allocation and must never wait io_timeout for a hung server.

Fork safety: a forked child inherits every instance together with the parent's native handle, whose
socket is the parent's live connection. Talking on it from the child would cross replies, and its
DISCONNECT (from close()) would end the parent's session. So in the child every
inherited instance forgets that handle without closing it and builds its own from the stored
configuration on its next call.
"""

import json
import os
import threading
import weakref
from typing import Any, Dict, NoReturn, Optional

from . import _loader
from ._encoder import encode_value
from .errors import Code, MikroBILLError, error_json

__all__ = ["MikroBILL_API"]


def _to_c_text(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError("%s must be str, not %s" % (what, type(text).__name__))
    if "\x00" in text:
        # A C string ends at the first NUL: passing it on would silently truncate the request.
        raise ValueError("%s must not contain NUL characters" % what)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("%s is not valid Unicode (lone surrogate?): %s" % (what, exc)) from None


class _Hidden:
    """Holds secrets under a repr that shows none of them."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


def _timeout_ms(seconds: Any, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds" % what)
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("%s must be a positive, finite number of seconds" % what)
    return max(1, int(round(seconds * 1000)))


class MikroBILL_API:
    """A connection to a MikroBILL core, mirroring the original PHP class.

    Construction validates the configuration and keys but does not connect: the first call does,
    and any later call reconnects if the connection was dropped. One instance may be shared by
    many threads; the library serializes calls on it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        login: str,
        password: str,
        key1: str,
        key2: str,
        *,
        connect_timeout: float = 5.0,
        io_timeout: float = 5.0,
        call_timeout: float = 30.0,
        max_frame_bytes: Optional[int] = None,
        php_floats: bool = True,
        persistent: bool = False,
        persistent_id: str = "",
        pool_max_idle: Optional[int] = None,
        pool_max_idle_total: Optional[int] = None,
        pool_idle_timeout: Optional[float] = None,
    ):
        # Set first so that __del__ of a half-built object finds nothing to release.
        self._handle = 0
        self._closed = True
        self._lock = threading.Lock()
        # The secrets leave this frame's locals at once, so that a traceback that records
        # locals (pytest, Sentry, cgitb) never shows them; they live on only inside
        # config_json, which is deleted before anything can raise with it in scope.
        secrets = _Hidden({"password": password, "key1": key1, "key2": key2})
        del password, key1, key2
        for name, text in (("host", host), ("login", login)) + tuple(secrets.value.items()):
            error = None
            try:
                _to_c_text(text, name)
            except (TypeError, ValueError) as exc:
                # Raised afresh outside the handler: the original's traceback holds the frame
                # of _to_c_text, whose locals hold the secret.
                error = type(exc)(str(exc))
            del text
            if error is not None:
                raise error
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port must be int")
        config = {
            "host": host,
            "port": port,
            "login": login,
            "connect_timeout_ms": _timeout_ms(connect_timeout, "connect_timeout"),
            "io_timeout_ms": _timeout_ms(io_timeout, "io_timeout"),
            "call_timeout_ms": _timeout_ms(call_timeout, "call_timeout"),
            # The library writes every float as PHP's json_encode writes that double; the encoder
            # hands over Python's round-trip repr.
            "php_floats": php_floats,
        }
        if not isinstance(php_floats, bool):
            raise TypeError("php_floats must be bool")
        if max_frame_bytes is not None:
            if isinstance(max_frame_bytes, bool) or not isinstance(max_frame_bytes, int):
                raise TypeError("max_frame_bytes must be int or None")
            config["max_frame_bytes"] = max_frame_bytes
        # persistent: on close (or collection) the connection waits in this process's pool for
        # the next instance with the same settings and persistent_id, instead of DISCONNECT.
        if not isinstance(persistent, bool):
            raise TypeError("persistent must be bool")
        if not isinstance(persistent_id, str):
            raise TypeError("persistent_id must be str")
        _to_c_text(persistent_id, "persistent_id")
        config["persistent"] = persistent
        config["persistent_id"] = persistent_id
        for name, count in (("pool_max_idle", pool_max_idle), ("pool_max_idle_total", pool_max_idle_total)):
            if count is not None:
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise ValueError("%s must be an int >= 0 or None" % name)
                config[name] = count
        if pool_idle_timeout is not None:
            config["pool_idle_timeout_ms"] = _timeout_ms(pool_idle_timeout, "pool_idle_timeout")
        self._lib = _loader.get_library()
        config.update(secrets.value)
        del secrets
        # The config carries the password and keys. It is kept only because a forked child must
        # build a handle of its own from it, and outside the instance (vars(api), pickling and
        # debuggers never see it); close() drops it.
        config_json = json.dumps(config, ensure_ascii=False).encode("utf-8")
        del config
        try:
            # Validates config and keys now, so that bad ones raise here as in PHP's constructor.
            self._handle = self._new_handle(config_json)
            _secret_configs[self] = config_json
        finally:
            del config_json
        self._closed = False
        self._desc = "%s:%d as %r" % (host, port, login)
        _instances.add(self)

    # -- PHP surface -------------------------------------------------------------------------

    def Process(self, Path: str, Value: Any = None) -> str:
        """Send one request and return the reply text exactly as the server sent it.

        Value None is a read. Runtime failures come back as the library's JSON error text, like
        PHP. The library only hands out UTF-8 (a non-UTF-8 server reply is its error 9004).
        """
        return self.process(Path, Value)

    def Close(self) -> None:
        """PHP Close(): send DISCONNECT and drop the socket; the object stays usable."""
        self.disconnect()

    def CheckConnection(self) -> bool:
        """PHP CheckConnection(): True when the core answers (connects and authenticates if needed)."""
        return self.check_connection()

    # -- Pythonic face -----------------------------------------------------------------------

    def process(self, path: str, value: Any = None) -> str:
        """Like Process(); value is any JSON-serializable object, encoded as PHP would send it."""
        value_json = None if value is None else encode_value(value)
        return self._call(path, value_json)

    def process_json(self, path: str, value_json: Optional[str]) -> str:
        """Like process(), with the value given as raw JSON text (None = read).

        The library checks the JSON and re-encodes it PHP-style; invalid JSON gives a 9005 error
        reply.
        """
        return self._call(path, value_json)

    def check_connection(self) -> bool:
        handle = self._live_handle()
        status = self._lib.mb_check_connection(handle)
        if status < 0:
            # The check could not be made: a handle closed from another thread (9007) or a
            # contained panic (9008); the library's last error says which.
            raw = _loader.take_string(self._lib, self._lib.mb_last_error())
            if raw is None:
                self._raise_closed()
            raise MikroBILLError(raw.decode("utf-8", "replace"))
        return bool(status == 1)

    def disconnect(self) -> None:
        """Send DISCONNECT and close the socket; the next call reconnects."""
        handle = self._live_handle()
        if self._lib.mb_disconnect(handle) == Code.CLOSED_HANDLE:
            self._raise_closed()

    def cancel(self) -> None:
        """Cancel the call in progress on this instance in another thread, without waiting.

        That call returns the library's 9011 error within about 20 ms (its request may or may
        not have reached the server, and is never resent). Later calls are not affected.
        """
        handle = self._handle
        if handle:
            self._lib.mb_cancel(handle)

    def close(self) -> None:
        """Release the native handle (disconnecting first). Idempotent and thread-safe."""
        handle = self._take_handle()
        if handle:
            self._lib.mb_close(handle)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "MikroBILL_API":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # Fallback only: objects that were never closed still give their handle back. mb_discard,
        # not mb_close: the collection may run on any thread, at any allocation, and mb_close
        # would say DISCONNECT and wait up to io_timeout for a server that may be hung. In a
        # forked child the inherited handle was already forgotten (0), so nothing is called.
        # During interpreter shutdown the attributes may already be gone; then there is nothing
        # to do.
        try:
            handle = self._take_handle()
            if handle:
                self._lib.mb_discard(handle)
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return "<MikroBILL_API %s %s>" % (getattr(self, "_desc", "?"), state)

    # -- internals ---------------------------------------------------------------------------

    def _new_handle(self, config_json: bytes) -> int:
        lib = self._lib
        handle: int = lib.mb_connect(config_json)
        del config_json
        if handle <= 0:
            raw = _loader.take_string(lib, lib.mb_last_error())
            text = raw.decode("utf-8", "replace") if raw is not None else error_json(
                Code.INTERNAL, "Internal error", "mb_connect failed without an error text")
            raise MikroBILLError(text)
        return handle

    def _take_handle(self) -> int:
        # Marks the instance closed and hands the caller the handle to release, at most once.
        with self._lock:
            handle, self._handle = self._handle, 0
            self._closed = True
            _secret_configs.pop(self, None)
        return handle

    def _live_handle(self) -> int:
        handle = self._handle
        if handle:
            return handle
        with self._lock:
            if self._closed:
                self._raise_closed()
            if not self._handle:
                # Only after a fork: this process has no handle of its own yet.
                self._handle = self._new_handle(_secret_configs[self])
            return self._handle

    def _forget_inherited_handle(self) -> None:
        # Runs in a forked child. The handle (and the library's client behind it, in this
        # process's copy of the registry) is the parent's: dropping the number without
        # mb_close/mb_disconnect keeps the child off the parent's connection. The lock may have
        # been held by another parent thread at fork time, and that thread does not exist here.
        self._lock = threading.Lock()
        self._handle = 0

    @staticmethod
    def _raise_closed() -> NoReturn:
        raise MikroBILLError(error_json(Code.CLOSED_HANDLE, "MikroBILL_API handle is closed"))

    def _call(self, path: str, value_json: Optional[str]) -> str:
        c_path = _to_c_text(path, "path")
        c_value = None if value_json is None else _to_c_text(value_json, "value_json")
        handle = self._live_handle()
        # ctypes releases the GIL for the duration of the call, so threads sharing this instance
        # really run concurrently up to the library's per-handle lock.
        raw = _loader.take_string(self._lib, self._lib.mb_process(handle, c_path, c_value))
        if raw is None:
            raise MikroBILLError(error_json(Code.INTERNAL, "Internal error", "mb_process returned NULL"))
        # surrogateescape: should a reply ever hold stray bytes, they survive the round trip
        # (reply.encode("utf-8", "surrogateescape")) instead of failing the call.
        return raw.decode("utf-8", "surrogateescape")


def pool_stats() -> Dict[str, int]:
    """This process's pool of persistent connections: idle, identities, and counts of
    connections returned, reused and closed (see the README). Closes expired ones first."""
    lib = _loader.get_library()
    raw = _loader.take_string(lib, lib.mb_pool_stats())
    if raw is None:
        raise MikroBILLError(error_json(Code.INTERNAL, "Internal error", "mb_pool_stats returned NULL"))
    stats: Dict[str, int] = json.loads(raw.decode("utf-8"))
    return stats


def pool_clear() -> int:
    """Close every idle persistent connection with DISCONNECT; returns how many."""
    return int(_loader.get_library().mb_pool_clear())


# Each live instance's config JSON (with the password and keys), outside the instances.
_secret_configs: "weakref.WeakKeyDictionary[MikroBILL_API, bytes]" = weakref.WeakKeyDictionary()

# Every live instance, so that a forked child can find them; weak so that it keeps none alive.
_instances: "weakref.WeakSet[MikroBILL_API]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for api in list(_instances):
        api._forget_inherited_handle()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to guard against
    os.register_at_fork(after_in_child=_after_fork_in_child)
