"""The constructor both client classes share, written once: its arguments, their defaults and
their checks, and the configuration JSON it builds for mb_connect.

mikrobill.MikroBILL_API and mikrobill.aio.MikroBILL_API both inherit __init__ from ``Configured``
and only say what they do with the finished configuration (``_open``), so the two can never take
different arguments.

The defaults and the types come from the library's own table of configuration keys
(_generated.CONFIG_KEYS), with one deliberate exception: php_floats is on by default here, because
the binding's encoder hands floats over as Python's repr and relies on the library to lay them out
as PHP's json_encode does.
"""

import base64
import json
import math
from typing import Any, Dict, Tuple, Union

from ._generated import CONFIG_KEYS

__all__ = ["Configured", "Hidden", "to_c_text"]


class Hidden:
    """Holds secrets under a repr that shows none of them, so that a traceback that records
    locals (pytest, Sentry, cgitb) or a debugger never prints them."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


def _default(key: str) -> Any:
    default_json = CONFIG_KEYS[key].default_json
    assert default_json is not None, "the library's table gives %s no default" % key
    return json.loads(default_json)


def _seconds(key_ms: str) -> float:
    return float(_default(key_ms)) / 1000.0


# Keyword argument -> (configuration key, True when the argument is in seconds and the key in ms).
_KEYWORDS: Dict[str, Tuple[str, bool]] = {
    "connect_timeout": ("connect_timeout_ms", True),
    "io_timeout": ("io_timeout_ms", True),
    "call_timeout": ("call_timeout_ms", True),
    "max_frame_bytes": ("max_frame_bytes", False),
    "php_floats": ("php_floats", False),
    "persistent": ("persistent", False),
    "persistent_id": ("persistent_id", False),
    "pool_max_idle": ("pool_max_idle", False),
    "pool_max_idle_total": ("pool_max_idle_total", False),
    "pool_idle_timeout": ("pool_idle_timeout_ms", True),
}

_PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool}


def to_c_text(text: str, what: str, secret: bool = False) -> bytes:
    """`text` as the UTF-8 bytes of a C string, refusing what C would cut short or cannot carry.
    For a `secret` the error does not quote the offending character."""
    if not isinstance(text, str):
        raise TypeError("%s must be str, not %s" % (what, type(text).__name__))
    if "\x00" in text:
        # A C string ends at the first NUL: passing it on would silently truncate the request.
        raise ValueError("%s must not contain NUL characters" % what)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        detail = "" if secret else ": %s" % exc
        raise ValueError("%s is not valid Unicode (lone surrogate?)%s" % (what, detail)) from None


def _check_password(password: Any) -> None:
    """TypeError/ValueError when `password` is neither text nor bytes the library can take. The
    messages never hold the password."""
    if isinstance(password, (bytes, bytearray)):
        return  # any bytes: they travel as base64, NULs and all
    if not isinstance(password, str):
        raise TypeError("password must be str, or bytes for a password that is not UTF-8, not %s"
                        % type(password).__name__)
    try:
        to_c_text(password, "password", secret=True)
    except ValueError as exc:
        raise ValueError("%s; give a password that is not UTF-8 as bytes" % exc) from None


def _secret_config(secrets: "Hidden") -> Dict[str, str]:
    """The configuration's secret keys: the password as `password` (text) or, given as bytes, as
    `password_base64` (its raw bytes: a password saved in a legacy encoding such as CP1251, which
    the library hashes byte for byte as the original client does), and the two keys."""
    password = secrets.value["password"]
    entries = {"key1": secrets.value["key1"], "key2": secrets.value["key2"]}
    if isinstance(password, (bytes, bytearray)):
        entries["password_base64"] = base64.b64encode(password).decode("ascii")
    else:
        entries["password"] = password
    return entries


def _milliseconds(seconds: Any, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds" % what)
    if not seconds > 0 or math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("%s must be a positive, finite number of seconds" % what)
    return max(1, int(round(seconds * 1000)))


def _checked(name: str, value: Any, key: str) -> Any:
    """The value of keyword `name` as configuration `key` takes it, or TypeError/ValueError."""
    expected = _PYTHON_TYPES[CONFIG_KEYS[key].kind]
    # bool is an int in Python, but never a number of anything here.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TypeError("%s must be %s, not %s" % (name, expected.__name__, type(value).__name__))
    if isinstance(value, str):
        to_c_text(value, name)
    elif isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ValueError("%s must be an int >= 0" % name)
    return value


class Configured:
    """Base of both client classes: the constructor, and nothing else."""

    def __init__(
        self,
        host: str,
        port: int,
        login: str,
        password: Union[str, bytes],
        key1: str,
        key2: str,
        *,
        connect_timeout: float = _seconds("connect_timeout_ms"),
        io_timeout: float = _seconds("io_timeout_ms"),
        call_timeout: float = _seconds("call_timeout_ms"),
        max_frame_bytes: int = _default("max_frame_bytes"),
        php_floats: bool = True,
        persistent: bool = _default("persistent"),
        persistent_id: str = _default("persistent_id"),
        pool_max_idle: int = _default("pool_max_idle"),
        pool_max_idle_total: int = _default("pool_max_idle_total"),
        pool_idle_timeout: float = _seconds("pool_idle_timeout_ms"),
    ) -> None:
        """Validates the configuration and keys (the library checks the keys too, raising
        MikroBILLError 9006), but does not connect: the first call does.

        connect_timeout, io_timeout and call_timeout (the whole call, however slowly the reply
        trickles) and pool_idle_timeout are in seconds. password is text, or bytes for a password
        that is not UTF-8 (a kassa file saved in CP1251), whose bytes are hashed as they are.
        persistent=True hands the connection to this process's pool on close, for the next
        instance with the same settings and persistent_id; pool_max_idle and pool_max_idle_total
        bound that pool.
        """
        # The secrets leave this frame's locals at once, so that a traceback that records locals
        # never shows them; from here on they travel only inside Hidden.
        secrets = Hidden({"password": password, "key1": key1, "key2": key2})
        del password, key1, key2
        for name, text in (("host", host), ("login", login)) + tuple(secrets.value.items()):
            error = None
            try:
                if name == "password":
                    _check_password(text)
                else:
                    to_c_text(text, name, secret=name in secrets.value)
            except (TypeError, ValueError) as exc:
                # Raised afresh outside the handler: the original's traceback holds the frame of
                # to_c_text, whose locals hold the secret.
                error = type(exc)(str(exc))
            del text
            if error is not None:
                raise error
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port must be int")
        config: Dict[str, Any] = {"host": host, "port": port, "login": login}
        given = dict(connect_timeout=connect_timeout, io_timeout=io_timeout, call_timeout=call_timeout,
                     max_frame_bytes=max_frame_bytes, php_floats=php_floats, persistent=persistent,
                     persistent_id=persistent_id, pool_max_idle=pool_max_idle,
                     pool_max_idle_total=pool_max_idle_total, pool_idle_timeout=pool_idle_timeout)
        for name, value in given.items():
            key, in_seconds = _KEYWORDS[name]
            config[key] = _checked(name, _milliseconds(value, name) if in_seconds else value, key)
        config.update(_secret_config(secrets))
        del secrets
        hidden = Hidden(json.dumps(config, ensure_ascii=False).encode("utf-8"))
        del config
        self._open(hidden, "%s:%d as %r" % (host, port, login))

    def _open(self, config_json: Hidden, description: str) -> None:
        """Takes the validated configuration (JSON bytes for mb_connect, password and keys
        included) and a description without secrets for repr()."""
        raise NotImplementedError
