"""Turn Python values into the JSON text the library expects.

The library re-encodes whatever JSON it gets exactly as PHP's json_encode would (escaped "/",
\\uXXXX for non-ASCII, key order and number text kept), so this module only has to produce valid
JSON whose *number text* already matches PHP: the library copies number text verbatim, and
Python's float repr differs from PHP's (1e25 is "1e+25" in Python, "1.0e+25" in PHP; 1.0 is "1.0"
in Python, "1" in PHP). Everything else can be plain JSON.

The encoder is written out by hand instead of subclassing json.JSONEncoder because the standard
encoder formats floats internally (float.__repr__) with no hook to override it.
"""

import json
import math
from typing import Any, List, Set, Tuple

__all__ = ["encode_value", "php_float"]

# PHP's php_gcvt switches to exponent notation once the decimal point lies more than this many
# digits to the right of the first significant digit (precision 17 when serialize_precision=-1).
_PHP_PRECISION = 17

# json.dumps for a lone str is the C-accelerated escaper; ensure_ascii=False keeps the text short
# (the library applies PHP's \uXXXX escaping anyway).
_dump_str = json.JSONEncoder(ensure_ascii=False).encode


def php_float(value: float) -> str:
    """Format a finite float exactly as PHP json_encode does with serialize_precision=-1."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("NaN and infinite floats cannot be encoded as JSON (PHP refuses them too)")
    digits, decpt, negative = _shortest_digits(value)
    sign = "-" if negative else ""
    if (decpt < -3) if decpt < 0 else (decpt > _PHP_PRECISION):
        # Exponent form d.ddde±X; PHP always writes at least one digit after the point.
        exponent = decpt - 1
        mantissa = digits[0] + "." + (digits[1:] or "0")
        return "%s%se%s%d" % (sign, mantissa, "-" if exponent < 0 else "+", abs(exponent))
    if decpt <= 0:
        return sign + "0." + "0" * (-decpt) + digits
    if len(digits) <= decpt:
        return sign + digits + "0" * (decpt - len(digits))
    return sign + digits[:decpt] + "." + digits[decpt:]


def _shortest_digits(value: float) -> Tuple[str, int, bool]:
    """Return (significant digits, decimal point position, negative) for the shortest round-trip
    representation, the same digits as zend_dtoa mode 0 (both are David Gay's shortest output).

    The value equals 0.<digits> * 10**decpt. Zero gives ("0", 1).
    """
    text = repr(float(value))
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    decpt = len(int_part) + exponent
    stripped = all_digits.lstrip("0")
    decpt -= len(all_digits) - len(stripped)
    stripped = stripped.rstrip("0")
    if not stripped:
        return "0", 1, negative
    return stripped, decpt, negative


def encode_value(value: Any) -> str:
    """Encode a JSON-serializable Python value.

    None, bool, int (any size, exact), float (PHP text), str, list/tuple (JSON array) and dict
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
        out.append(php_float(value))
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
