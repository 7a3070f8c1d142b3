"""CancelToken: the library's one way to stop a call (mb_cancel_token_*), for the calls it is given.

A token concerns only the calls that were given it, never another call on the same instance, so
cancelling one can never reach the next call. Cancelled once, it stays cancelled: a call that
starts with it later returns at once, having sent nothing.
"""

import ctypes

from . import _loader
from .errors import MikroBILLError

__all__ = ["CancelToken"]


class CancelToken:
    """Pass it to process(), process_json() or check_connection(); cancel() from any thread.

    A call running with it returns the library's 9011 error within about 20 ms (its request may
    or may not have reached the server, and is never resent; its connection is dropped and the
    next call opens a new one); a call that starts with it after the cancel returns 9011 at once
    without sending anything. The token is released with the object.
    """

    __slots__ = ("_lib", "_id", "_cancelled")

    def __init__(self) -> None:
        self._id = 0
        self._cancelled = False
        lib = _loader.get_library()
        out = ctypes.c_longlong()
        status = lib.mb_cancel_token_new(ctypes.byref(out))
        if status != 0:
            raise MikroBILLError(status, _loader.last_error_message(lib) or "mb_cancel_token_new failed")
        self._lib = lib
        self._id = out.value

    @property
    def native(self) -> int:
        """The library's number for this token (what mb_process takes)."""
        return self._id

    def cancel(self) -> None:
        """Cancels every call given this token, now and later; returns without waiting."""
        self._cancelled = True
        status = self._lib.mb_cancel_token_cancel(self._id)
        if status != 0:
            raise MikroBILLError(status, _loader.last_error_message(self._lib) or "mb_cancel_token_cancel failed")

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def __del__(self) -> None:
        # Only when no call holds the token any more (each holds a reference while it runs). In a
        # forked child this frees the child's copy of the token and leaves the parent's alone.
        # During interpreter shutdown the attributes may already be gone; then there is nothing
        # to do.
        try:
            if self._id:
                self._lib.mb_cancel_token_free(self._id)
                self._id = 0
        except Exception:
            pass

    def __repr__(self) -> str:
        return "<mikrobill.CancelToken %s>" % ("cancelled" if self._cancelled else "armed")
