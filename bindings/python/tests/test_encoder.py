"""The value encoder: shapes, round-trip float text and refusals. The PHP layout of floats is the
library's (php_floats); test_values.py proves it end to end against real PHP."""

import json
import math
from collections import OrderedDict
from enum import IntEnum

import pytest

from mikrobill import encode_value


def test_floats_are_round_trip_text_that_reads_as_a_double():
    values = [0.1, 1.0, -0.0, 1e25, 1e16, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 1 / 3, math.pi]
    for value in values:
        text = encode_value(value)
        assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
        assert any(c in text for c in ".e"), text
    assert encode_value([1.0, -0.0, 1e25]) == "[1.0,-0.0,1e+25]"


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
    assert encode_value({"b": 1, "a": [2.0, {"c": None}]}) == '{"b":1,"a":[2.0,{"c":null}]}'
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
