"""Exceptions raised by the binding.

Runtime failures of a call (network, server error replies, timeouts) are *not* exceptions: like
the PHP client, Process() returns them as JSON text. Exceptions are kept for what the PHP client
could not even construct (bad keys or config), for misuse (closed handle, bad arguments) and for a
missing or mismatched native library.
"""

from typing import List, Optional

from ._generated import Code

__all__ = ["Code", "MikroBILLError", "LibraryLoadError", "error_json"]


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
    """A failure the binding raises rather than returns: a configuration or key the library
    refused, a call on a closed instance, a contained panic in the library.

    ``code`` is the library's numeric code (compare with :class:`Code`: ``Code.INVALID_ARGUMENT``,
    ``Code.INVALID_KEY``, ``Code.CLOSED_HANDLE``, ...), ``message`` the library's text for it
    (mb_last_error_message) or the binding's own, ``json`` the same failure in the library's
    error JSON shape (what Process() returns for a failure it does not raise).
    """

    def __init__(self, code: int, message: str, detail: Optional[str] = None):
        self.code = int(code)
        self.message = message
        self.detail = detail
        self.json = error_json(self.code, message, detail)
        summary = "[%d] %s" % (self.code, message)
        if detail:
            summary += " (%s)" % detail
        super().__init__(summary)


class LibraryLoadError(OSError):
    """libmikrobill.so could not be loaded or has an incompatible version.

    ``tried`` lists every location attempted, each with the reason it was rejected.
    """

    def __init__(self, message: str, tried: List[str]):
        self.tried = list(tried)
        lines = [message] + ["  tried %s" % entry for entry in self.tried]
        super().__init__("\n".join(lines))
