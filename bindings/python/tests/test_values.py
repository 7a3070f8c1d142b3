"""Value shapes on the wire: the request bytes the simulator received must equal what the
original PHP client would send for the same value (real PHP json_encode is the oracle)."""

import json

import pytest

from phporacle import php_request

# A path the simulator does not know: every value is traced and answered with an error, and no
# state changes whatever the value is.
PATH = "API.Test.Echo"

VALUES = [
    True,
    False,
    0,
    -17,
    633824158637492,
    4611686018427387905,
    9223372036854775807,
    0.1,
    1.0,
    -0.0,
    1e25,
    1.5e-7,
    123456789012345678.0,
    100.01,
    "",
    "plain",
    "Иванов Иван/Ivan \"quoted\" back\\slash",
    "tab\tnewline\ncontrol\u0001 emoji \U0001F600 euro \u20ac",
    "a/b/c",
    [],
    [1, "two", None, 3.5, False],
    (1, (2, 3)),
    {},
    {"IP": "192.168.25.110", "MAC": "aa:bb:cc:dd:ee:ff"},
    {"0": "633824158637492.BillingInfo.Money", "9527563927532953.AutorizeInfo": {"X": 1}},
    {"z": 1, "a": 2, "m": [{"k/1": "Ёж"}, [[], {}]], "f": 2.5e-10},
    {28236356495083: ["IP", "MAC"]},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: repr(v)[:40])
def test_request_bytes_match_php(fresh_api, fresh_sim, value):
    fresh_api.process(PATH, value)
    sent = fresh_sim.trace_lines()[-1]
    # The oracle gets the value as standard JSON (Python's own dumps), which PHP decodes into its
    # own types; json_encode then decides the text, floats included.
    assert sent == php_request(PATH, json.dumps(value))


def test_read_sends_null(fresh_api, fresh_sim):
    fresh_api.Process(PATH)
    fresh_api.process_json(PATH, None)
    assert fresh_sim.trace_lines()[-2:] == ['{"path":"API.Test.Echo","value":null}'] * 2


def test_process_json_is_reencoded_php_style(fresh_api, fresh_sim):
    fresh_api.process_json(PATH, ' { "a/b" : [ 1.50, "Ж" ] , "n" : 9527563927532953 } ')
    # Whitespace gone, "/" and non-ASCII escaped, number text (1.50) kept as given.
    assert fresh_sim.trace_lines()[-1] == (
        '{"path":"API.Test.Echo","value":{"a\\/b":[1.50,"\\u0416"],"n":9527563927532953}}')


def test_process_json_invalid_json_is_an_error_reply(fresh_api, fresh_sim):
    parsed = json.loads(fresh_api.process_json(PATH, "{not json"))
    assert parsed["code"] == 9005
    assert fresh_sim.trace_lines() == []


def test_set_and_read_back_cyrillic_and_specials(fresh_api):
    path = "API.Client.633824158637492.PersonalDataInfo.Address"
    text = "г. Москва/Moscow, \"кв.\" 2 \\ 😀"
    assert json.loads(fresh_api.process(path, text)) == {"return": "OK", "code": 0}
    assert json.loads(fresh_api.process(path)) == {"return": text, "code": 0}
