"""The value encoder: PHP float text (checked against real PHP), shapes and refusals."""

import json
import math
import random
import struct
from collections import OrderedDict
from enum import IntEnum

import pytest

from mikrobill import encode_value, php_float

from phporacle import php_encode_floats

EDGE_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100.0, 100.01, -15.5, 1e15, 1e16, 1e17, 1e18, 1e25, 1e-3,
    1e-4, 1e-5, 1.5e-7, 0.00012345, 123456789012345678.0, 12345678901234567.0, 1234567890123456.7,
    9007199254740993.0, 2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 1e100, 1e-100, 1e308, 1.7976931348623157e308,
    5e-324, 2.2250738585072014e-308, math.pi, -math.e, 1 / 3, 2 / 3, 0.30000000000000004, 1e21, 1e22,
    123.456, 99999999999999999.0, 0.001, 0.009999999999999998,
]


def random_floats(count, seed):
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        kind = len(out) % 3
        if kind == 0:
            # Any bit pattern: covers every exponent, subnormals included.
            value = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        elif kind == 1:
            value = rng.uniform(-1e6, 1e6)
        else:
            value = round(rng.uniform(-1000, 1000), rng.randint(0, 6)) * 10.0 ** rng.randint(-25, 25)
        if math.isfinite(value):
            out.append(value)
    return out


def test_edge_floats_match_php():
    expected = php_encode_floats(EDGE_FLOATS)
    assert [php_float(v) for v in EDGE_FLOATS] == expected


def test_random_floats_match_php():
    values = random_floats(3000, seed=20240611)
    expected = php_encode_floats(values)
    mismatches = [(v, php_float(v), e) for v, e in zip(values, expected) if php_float(v) != e]
    assert mismatches == []


def test_known_php_texts():
    # Spelled out so the difference from Python's repr is visible in the test itself.
    assert php_float(1e25) == "1.0e+25" and repr(1e25) == "1e+25"
    assert php_float(1.0) == "1"
    assert php_float(-0.0) == "-0"
    assert php_float(1e-5) == "1.0e-5"
    assert php_float(1e16) == "10000000000000000"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_refused(value):
    with pytest.raises(ValueError):
        encode_value(value)
    with pytest.raises(ValueError):
        encode_value({"a": [1, value]})


def test_shapes():
    assert encode_value(None) == "null"
    assert encode_value(True) == "true"
    assert encode_value(False) == "false"
    assert encode_value(0) == "0"
    assert encode_value(-42) == "-42"
    assert encode_value(4611686018427387905) == "4611686018427387905"
    assert encode_value(2 ** 64 + 1) == "18446744073709551617"
    assert encode_value("Иван/Ivan \"q\"") == '"Иван/Ivan \\"q\\""'
    assert encode_value([1, "a", None]) == '[1,"a",null]'
    assert encode_value((1, (2, 3))) == "[1,[2,3]]"
    assert encode_value({}) == "{}"
    assert encode_value([]) == "[]"
    assert encode_value({"b": 1, "a": [2.0, {"c": None}]}) == '{"b":1,"a":[2,{"c":null}]}'
    assert encode_value({633824158637492: "x", "y": 1}) == '{"633824158637492":"x","y":1}'
    assert encode_value(OrderedDict([("z", 1), ("a", 2)])) == '{"z":1,"a":2}'


def test_int_subclasses_give_numbers():
    class Code(IntEnum):
        OK = 0
        BAD = 7
    assert encode_value([Code.OK, Code.BAD]) == "[0,7]"
    assert encode_value({Code.BAD: 1}) == '{"7":1}'


def test_output_is_json_with_same_meaning():
    value = {"s": "x\u0000y\n\t\u2028", "n": [1, -2, 3.25], "deep": [[[{"k": "v"}]]]}
    assert json.loads(encode_value(value)) == value


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", {"a": object()}, [1, 2j]])
def test_non_serializable_refused(value):
    with pytest.raises(TypeError):
        encode_value(value)


@pytest.mark.parametrize("key", [None, 1.5, True, (1, 2)])
def test_bad_dict_keys_refused(key):
    with pytest.raises(TypeError):
        encode_value({key: 1})


def test_circular_refused():
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError):
        encode_value(loop)
    d = {}
    d["self"] = d
    with pytest.raises(ValueError):
        encode_value(d)


def test_shared_but_not_circular_is_fine():
    shared = [1]
    assert encode_value([shared, shared, {"a": shared}]) == '[[1],[1],{"a":[1]}]'
