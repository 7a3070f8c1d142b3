"""Turn Python values into the JSON text the library expects.

The library re-encodes whatever JSON it gets exactly as PHP's json_encode would (escaped "/",
\\uXXXX for non-ASCII, key order and integer text kept), and with the php_floats option this
binding turns on it also writes every float as PHP writes that double (1e25 as 1.0e+25, 1.0 as
1). So this module only has to produce valid JSON: floats go out as Python's own round-trip repr.

The encoder is written out by hand instead of calling json.dumps because json.dumps turns bool
and float dict keys into "true"/"1.5" silently, and lets NaN through unless told not to.
"""

import json
import math
from typing import Any, List, Set

__all__ = ["encode_value"]

# json.dumps for a lone str is the C-accelerated escaper; ensure_ascii=False keeps the text short
# (the library applies PHP's \\uXXXX escaping anyway).
_dump_str = json.JSONEncoder(ensure_ascii=False).encode


def _float_text(value: float) -> str:
    # repr is the shortest text that reads back as the same double and always carries a "." or
    # an exponent ("1.0", "1e+25"), so the library sees a double and lays it out as PHP does.
    if math.isnan(value) or math.isinf(value):
        raise ValueError("NaN and infinite floats cannot be encoded as JSON (PHP refuses them too)")
    return float.__repr__(value)


def encode_value(value: Any) -> str:
    """Encode a JSON-serializable Python value.

    None, bool, int (any size, exact), float (round-trip text), str, list/tuple (JSON array) and dict
    (JSON object; keys str or int, int keys become strings as in PHP) are accepted. Anything else
    raises TypeError; NaN/infinity and circular containers raise ValueError.
    """
    parts: List[str] = []
    _encode(value, parts, set())
    return "".join(parts)


def _encode(value: Any, out: List[str], active: Set[int]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_dump_str(value))
    elif isinstance(value, int):
        # int.__repr__ so that IntEnum members and other subclasses give their number.
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, (list, tuple)):
        _enter(value, active)
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, active)
        out.append("]")
        active.discard(id(value))
    elif isinstance(value, dict):
        _enter(value, active)
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_dump_str(_key_text(key)))
            out.append(":")
            _encode(item, out, active)
        out.append("}")
        active.discard(id(value))
    else:
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _enter(container: Any, active: Set[int]) -> None:
    marker = id(container)
    if marker in active:
        raise ValueError("Circular reference detected")
    active.add(marker)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    # bool is an int subclass, but PHP would turn True into key 1 and json.dumps into "true";
    # rather than pick one silently, refuse it.
    if isinstance(key, int) and not isinstance(key, bool):
        return int.__repr__(key)
    raise TypeError("dict keys must be str or int, not %s" % type(key).__name__)
