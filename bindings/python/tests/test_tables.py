"""The tables the binding uses come from the library's own (mikrobill._generated, written by
`cargo xtask codegen` from src/abi.rs): codes, configuration keys, version."""

import inspect
import json

import pytest

import mikrobill
from mikrobill import MikroBILL_API
from mikrobill import _generated, _options

from conftest import KEY1, KEY2


def test_code_is_the_generated_enum():
    assert mikrobill.Code is _generated.Code
    assert mikrobill.Code.OK == 0 and mikrobill.Code.CANCELLED == 9011
    # The PHP shim's own codes are not the library's.
    assert 5 not in set(mikrobill.Code) and 9010 not in set(mikrobill.Code)


def test_every_keyword_is_a_configuration_key_of_the_library():
    parameters = inspect.signature(MikroBILL_API.__init__).parameters
    keywords = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert sorted(keywords) == sorted(_options._KEYWORDS)
    for name, (key, in_seconds) in _options._KEYWORDS.items():
        spec = _generated.CONFIG_KEYS[key]
        assert not spec.required
        default = parameters[name].default
        library_default = json.loads(spec.default_json)
        if name == "php_floats":
            # The one deliberate difference (see mikrobill._options).
            assert (default, library_default) == (True, False)
        elif in_seconds:
            assert key.endswith("_ms") and default * 1000 == library_default, name
        else:
            assert default == library_default, name
    # The positional arguments are the keys that have no default.
    required = {key for key, spec in _generated.CONFIG_KEYS.items() if spec.required}
    assert required <= {"host", "login", "key1", "key2"} | set(parameters)


@pytest.mark.parametrize("name,value,error", [
    ("persistent", 1, TypeError),
    ("persistent_id", 5, TypeError),
    ("persistent_id", "a\x00b", ValueError),
    ("max_frame_bytes", True, TypeError),
    ("max_frame_bytes", -1, ValueError),
    ("pool_max_idle", "4", TypeError),
    ("php_floats", "yes", TypeError),
])
def test_values_are_checked_against_the_keys_type(name, value, error):
    with pytest.raises(error) as info:
        MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2, **{name: value})
    assert name in str(info.value)


def test_the_library_accepts_every_key_the_binding_sends():
    # All options away from their defaults, so that each key is really sent and checked.
    with MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2, connect_timeout=1.5,
                       io_timeout=2.5, call_timeout=3.5, max_frame_bytes=1 << 20, php_floats=False,
                       persistent=True, persistent_id="shop", pool_max_idle=1, pool_max_idle_total=2,
                       pool_idle_timeout=0.5) as api:
        assert not api.closed
