"""Exceptions raised by the binding.

Runtime failures of a call (network, server error replies, timeouts) are *not* exceptions: like
the PHP client, Process() returns them as JSON text. Exceptions are kept for what the PHP client
could not even construct (bad keys or config), for misuse (closed handle, bad arguments) and for a
missing or mismatched native library.
"""

import json
from typing import List, Optional

__all__ = ["MikroBILLError", "LibraryLoadError"]


class MikroBILLError(Exception):
    """A failure reported by the native library as JSON error text.

    ``code`` is the library's numeric code (see the contract: 9005 invalid argument, 9006 invalid
    key, 9007 closed handle, ...), ``json`` the exact error text, ``message`` its description.
    """

    def __init__(self, json_text: str):
        self.json = json_text
        self.code: Optional[int] = None
        self.message = json_text
        self.detail: Optional[str] = None
        try:
            parsed = json.loads(json_text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            code = parsed.get("code")
            if isinstance(code, int) and not isinstance(code, bool):
                self.code = code
            text = parsed.get("return", parsed.get("result"))
            if isinstance(text, str):
                self.message = text
            detail = parsed.get("detail")
            if isinstance(detail, str):
                self.detail = detail
        summary = "[%s] %s" % (self.code, self.message)
        if self.detail:
            summary += " (%s)" % self.detail
        super().__init__(summary)


class LibraryLoadError(OSError):
    """libmikrobill.so could not be loaded or has an incompatible version.

    ``tried`` lists every location attempted, each with the reason it was rejected.
    """

    def __init__(self, message: str, tried: List[str]):
        self.tried = list(tried)
        lines = [message] + ["  tried %s" % entry for entry in self.tried]
        super().__init__("\n".join(lines))
