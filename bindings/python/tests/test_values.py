"""Value shapes on the wire: the request bytes the simulator received must equal what the
original PHP client would send for the same value (real PHP json_encode is the oracle)."""

import json
import math
import random
import struct

import pytest

from conftest import make_api
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


EDGE_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100.0, 100.01, -15.5, 1e15, 1e16, 1e17, 1e18, 1e25, 1e-3,
    1e-4, 1e-5, 1.5e-7, 0.00012345, 123456789012345678.0, 12345678901234567.0, 1234567890123456.7,
    9007199254740993.0, 2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 1e100, 1e-100, 1e308, 1.7976931348623157e308,
    5e-324, 2.2250738585072014e-308, math.pi, -math.e, 1 / 3, 2 / 3, 0.30000000000000004, 1e21, 1e22,
    123.456, 99999999999999999.0, 0.001, 0.009999999999999998, 27788389721566.5625,
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


def test_floats_reach_the_server_as_php_writes_them(fresh_api, fresh_sim):
    # Thousands of doubles in one request: the binding hands over repr text, the library lays it
    # out (php_floats), and the bytes on the wire must be what PHP itself sends.
    value = EDGE_FLOATS + random_floats(3000, seed=20240611)
    fresh_api.process(PATH, value)
    assert fresh_sim.trace_lines()[-1] == php_request(PATH, json.dumps(value))


def test_php_floats_off_sends_python_text(fresh_sim):
    # Python's repr 1e+25 is passed on as given (not PHP's 1.0e+25), and raw text as written.
    with make_api(fresh_sim.port, php_floats=False) as api:
        api.process(PATH, [1e25, 1.0])
        api.process_json(PATH, "[2.50]")
    # The simulator's fresh trace holds these two, then the DISCONNECT of the close.
    assert fresh_sim.trace_lines()[:2] == [
        '{"path":"API.Test.Echo","value":[1e+25,1.0]}', '{"path":"API.Test.Echo","value":[2.50]}']


def test_read_sends_null(fresh_api, fresh_sim):
    fresh_api.Process(PATH)
    fresh_api.process_json(PATH, None)
    assert fresh_sim.trace_lines()[-2:] == ['{"path":"API.Test.Echo","value":null}'] * 2


def test_process_json_is_reencoded_php_style(fresh_api, fresh_sim):
    fresh_api.process_json(PATH, ' { "a/b" : [ 1.50, "Ж" ] , "n" : 9527563927532953 } ')
    # Whitespace gone, "/" and non-ASCII escaped, integer text kept, the double 1.50 written as
    # PHP's json_encode(json_decode(...)) writes it.
    assert fresh_sim.trace_lines()[-1] == (
        '{"path":"API.Test.Echo","value":{"a\\/b":[1.5,"\\u0416"],"n":9527563927532953}}')


def test_process_json_invalid_json_is_an_error_reply(fresh_api, fresh_sim):
    parsed = json.loads(fresh_api.process_json(PATH, "{not json"))
    assert parsed["code"] == 9005
    assert fresh_sim.trace_lines() == []


def test_set_and_read_back_cyrillic_and_specials(fresh_api):
    path = "API.Client.633824158637492.PersonalDataInfo.Address"
    text = "г. Москва/Moscow, \"кв.\" 2 \\ 😀"
    assert json.loads(fresh_api.process(path, text)) == {"return": "OK", "code": 0}
    assert json.loads(fresh_api.process(path)) == {"return": text, "code": 0}


def test_number_beyond_a_double_is_refused_like_php(fresh_api, fresh_sim):
    # PHP's json_decode makes 1e400 infinity, which json_encode refuses; with php_floats on the
    # library refuses it too (9005) and sends nothing.
    parsed = json.loads(fresh_api.process_json(PATH, "[1, 1e400]"))
    assert parsed["code"] == 9005 and "beyond the range of a double" in parsed["return"]
    assert fresh_sim.trace_lines() == []
