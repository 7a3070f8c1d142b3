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

import ctypes
import json
import os
import threading
import weakref
from typing import Any, Dict, NoReturn, Optional

from . import _loader
from ._cancel import CancelToken
from ._encoder import encode_value
from ._options import Configured, Hidden, to_c_text
from .errors import Code, MikroBILLError, error_json

__all__ = ["MikroBILL_API", "pool_stats", "pool_clear"]

# Codes that mean the call itself was misused or the library failed, not that the server or the
# network said no: check_connection(), disconnect() and close() raise these instead of returning.
_RAISED = (Code.INVALID_ARGUMENT, Code.CLOSED_HANDLE, Code.INTERNAL)


class MikroBILL_API(Configured):
    """A connection to a MikroBILL core, mirroring the original PHP class.

    Construction validates the configuration and keys but does not connect: the first call does,
    and any later call reconnects if the connection was dropped. One instance may be shared by
    many threads; the library serializes calls on it. The constructor's arguments are described
    in mikrobill._options.Configured, shared with mikrobill.aio.MikroBILL_API.
    """

    # Until _open has made a handle, __del__ and close() find nothing to release.
    _handle = 0
    _closed = True

    def _open(self, config_json: Hidden, description: str) -> None:
        self._lock = threading.Lock()
        self._lib = _loader.get_library()
        # Validates config and keys now, so that bad ones raise here as in PHP's constructor.
        self._handle = self._new_handle(config_json)
        # The config carries the password and keys. It is kept only because a forked child must
        # build a handle of its own from it, and outside the instance (vars(api), pickling and
        # debuggers never see it); close() drops it.
        _secret_configs[self] = config_json
        self._closed = False
        self._desc = description
        _instances.add(self)

    # -- PHP surface -------------------------------------------------------------------------

    def Process(self, Path: str, Value: Any = None) -> str:
        """Send one request and return the reply text exactly as the server sent it.

        Value None is a read. Runtime failures come back as the library's JSON error text, like
        PHP. A reply that is not UTF-8 (a core answering in another encoding) keeps its stray
        bytes as surrogates: reply.encode("utf-8", "surrogateescape") gives the server's bytes.
        """
        return self.process(Path, Value)

    def Close(self) -> None:
        """PHP Close(): send DISCONNECT and drop the socket; the object stays usable."""
        self.disconnect()

    def CheckConnection(self) -> bool:
        """PHP CheckConnection(): True when the core answers (connects and authenticates if needed)."""
        return self.check_connection()

    # -- Pythonic face -----------------------------------------------------------------------

    def process(self, path: str, value: Any = None, *, cancel_token: Optional[CancelToken] = None) -> str:
        """Like Process(); value is any JSON-serializable object, encoded as PHP would send it.

        cancel_token: a CancelToken whose cancel() (from any thread) stops this call; it then
        returns the library's 9011 error.
        """
        value_json = None if value is None else encode_value(value)
        return self._call(path, value_json, cancel_token)

    def process_json(self, path: str, value_json: Optional[str], *,
                     cancel_token: Optional[CancelToken] = None) -> str:
        """Like process(), with the value given as raw JSON text (None = read).

        The library checks the JSON and re-encodes it PHP-style; invalid JSON gives a 9005 error
        reply.
        """
        return self._call(path, value_json, cancel_token)

    def check_connection(self, *, cancel_token: Optional[CancelToken] = None) -> bool:
        """True when the core answers and accepts the login (connects if needed); False for any
        reason it does not (no route, refused login, timeout, cancelled)."""
        token = 0 if cancel_token is None else cancel_token.native
        status: int = self._lib.mb_check_connection(self._live_handle(), token)
        self._raise_if_misused(status)
        return status == 0

    def disconnect(self) -> None:
        """Send DISCONNECT and close the socket; the next call reconnects.

        As PHP's Close(), it does not report how the goodbye went: the connection is dropped
        either way. It takes no cancel token: the library bounds it by io_timeout."""
        self._raise_if_misused(self._lib.mb_disconnect(self._live_handle()))

    def close(self) -> None:
        """Release the native handle (disconnecting first). Idempotent and thread-safe.

        Like disconnect() it is bounded by io_timeout, so it needs no cancel token."""
        handle = self._take_handle()
        if handle:
            status: int = self._lib.mb_close(handle)
            if status == Code.INTERNAL:
                self._raise_if_misused(status)

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

    def _new_handle(self, config_json: Hidden) -> int:
        lib = self._lib
        handle = ctypes.c_longlong()
        status: int = lib.mb_connect(config_json.value, ctypes.byref(handle))
        if status != 0:
            raise MikroBILLError(status, _loader.last_error_message(lib) or "mb_connect failed")
        return handle.value

    def _raise_if_misused(self, status: int) -> None:
        if status in _RAISED:
            message = _loader.last_error_message(self._lib)
            if status == Code.CLOSED_HANDLE:
                # Closed by another thread between our look at the handle and the library's.
                self._raise_closed()
            raise MikroBILLError(status, message or "the library returned %d" % status)

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
        raise MikroBILLError(Code.CLOSED_HANDLE, "MikroBILL_API handle is closed")

    def _call(self, path: str, value_json: Optional[str], cancel_token: Optional[CancelToken]) -> str:
        c_path = to_c_text(path, "path")
        c_value = None if value_json is None else to_c_text(value_json, "value_json")
        token = 0 if cancel_token is None else cancel_token.native
        handle = self._live_handle()
        reply = ctypes.c_void_p()
        # ctypes releases the GIL for the duration of the call, so threads sharing this instance
        # really run concurrently up to the library's per-handle lock. On success the reply is the
        # server's; on failure the library's error JSON (what the original PHP client returns).
        status: int = self._lib.mb_process(handle, c_path, c_value, token, ctypes.byref(reply))
        raw = _loader.take_string(self._lib, reply.value)
        if raw is None:
            # No reply at all: only a failure the library could not even describe as JSON.
            message = _loader.last_error_message(self._lib) or "mb_process gave no reply"
            return error_json(status or Code.INTERNAL, message)
        # surrogateescape: the library passes the server's bytes through as they are, and a core
        # might answer in another encoding than UTF-8; stray bytes then survive the round trip
        # (reply.encode("utf-8", "surrogateescape")) instead of failing the call.
        return raw.decode("utf-8", "surrogateescape")


def pool_stats() -> Dict[str, int]:
    """This process's pool of persistent connections: idle, identities, and counts of
    connections returned, reused and closed (see the README). A pure read: expired connections
    are closed by the pool's own use and by pool_clear(), not by looking."""
    lib = _loader.get_library()
    out = ctypes.c_void_p()
    status = lib.mb_pool_stats(ctypes.byref(out))
    raw = _loader.take_string(lib, out.value) if status == 0 else None
    if raw is None:
        raise MikroBILLError(status or Code.INTERNAL, _loader.last_error_message(lib) or "mb_pool_stats failed")
    stats: Dict[str, int] = json.loads(raw.decode("utf-8"))
    return stats


def pool_clear() -> int:
    """Close every idle persistent connection with DISCONNECT; returns how many."""
    lib = _loader.get_library()
    closed = ctypes.c_longlong()
    status = lib.mb_pool_clear(ctypes.byref(closed))
    if status != 0:
        raise MikroBILLError(status, _loader.last_error_message(lib) or "mb_pool_clear failed")
    return closed.value


# Each live instance's config JSON (with the password and keys), outside the instances.
_secret_configs: "weakref.WeakKeyDictionary[MikroBILL_API, Hidden]" = weakref.WeakKeyDictionary()

# Every live instance, so that a forked child can find them; weak so that it keeps none alive.
_instances: "weakref.WeakSet[MikroBILL_API]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for api in list(_instances):
        api._forget_inherited_handle()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to guard against
    os.register_at_fork(after_in_child=_after_fork_in_child)
