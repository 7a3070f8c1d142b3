"""Exceptions raised by the binding.

Runtime failures of a call (network, server error replies, timeouts) are *not* exceptions: like
the PHP client, Process() returns them as JSON text. Exceptions are kept for what the PHP client
could not even construct (bad keys or config), for misuse (closed handle, bad arguments) and for a
missing or mismatched native library.
"""

import json
from enum import IntEnum
from typing import List, Optional

__all__ = ["Code", "MikroBILLError", "LibraryLoadError", "error_json"]


class Code(IntEnum):
    """The library's error codes by name (enum mb_code in include/mikrobill.h, whose source is
    src/error.rs; tests/abi_consistency.rs fails when this table differs). A failed connect
    reports the OS errno instead, always below 4096."""

    OK = 0
    CONFIG_NOT_FOUND = 5
    NULL_RESPONSE = 6
    TIMEOUT = 9001
    CONNECTION_LOST = 9002
    FRAME_TOO_LARGE = 9003
    MALFORMED_REPLY = 9004
    INVALID_ARGUMENT = 9005
    INVALID_KEY = 9006
    CLOSED_HANDLE = 9007
    INTERNAL = 9008
    HOST_NOT_RESOLVED = 9009
    KEY2_ROW_MISSING = 9010
    CANCELLED = 9011
    OUT_OF_STEP = 9012
    REPLY_NOT_JSON = 9013


def _php_string(text: str) -> str:
    """`text` as a JSON string written byte for byte as PHP's json_encode (and the library) write
    it: `/` as `\\/`, every other character outside printable ASCII as lowercase `\\uXXXX`
    (surrogate pairs above U+FFFF), DEL kept as is. json.dumps differs on `/` and DEL."""
    out = ['"']
    for char in text:
        point = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif point < 0x20 or 0x7F < point <= 0xFFFF:
            out.append("\\u%04x" % point)
        elif point > 0xFFFF:
            point -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (point >> 10), 0xDC00 + (point & 0x3FF)))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# After the Code table on purpose: tests/abi_consistency.rs reads that table up to the next def.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t"}


def error_json(code: int, text: str, detail: Optional[str] = None) -> str:
    """The library's error shape, for the few errors the binding makes itself: TEXT under both
    "return" and "result", the number under "code", and "detail" when there is more to say. The
    bytes are the library's own (and PHP's json_encode's): no spaces, ASCII only, `/` escaped."""
    body = '{"return":%s,"result":%s,"code":%d' % (_php_string(text), _php_string(text), int(code))
    if detail:
        body += ',"detail":%s' % _php_string(detail)
    return body + "}"


class MikroBILLError(Exception):
    """A failure reported by the native library as JSON error text.

    ``code`` is the library's numeric code (compare with :class:`Code`: ``Code.INVALID_ARGUMENT``,
    ``Code.INVALID_KEY``, ``Code.CLOSED_HANDLE``, ...), ``json`` the exact error text, ``message``
    its description.
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
