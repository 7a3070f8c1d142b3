"""Failure paths: rejected logins and keys, an absent or restarted server, closed handles and
bad arguments."""

import ctypes
import json
import socket

import pytest

from mikrobill import MikroBILL_API, MikroBILLError

from mikrobill.errors import Code, error_json
from mikrobill._loader import get_library, take_string

from conftest import KEY1, KEY2, WRONG_KEY1, WRONG_KEY2, C1, make_api
from phporacle import original_style_reply, php_error_json

MONEY = "API.Client.%d.BillingInfo.Money" % C1


def reply(text):
    parsed = json.loads(text)
    assert isinstance(parsed, dict), text
    return parsed


def closed_port():
    """A loopback port with nothing listening (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_wrong_password_code_passes_through(sim):
    with make_api(sim.port, password="not-the-password") as api:
        parsed = reply(api.Process(MONEY))
        assert parsed["code"] == 101
        # The server's key and the original client's key, with the same text.
        assert isinstance(parsed["return"], str) and parsed["return"]
        assert parsed["result"] == parsed["return"]
        assert api.CheckConnection() is False


@pytest.mark.parametrize("login,password,code", [("api", "not-the-password", 101), ("noapi", "secret", 102)])
def test_a_rejected_login_reads_as_the_original_clients_reply(sim, login, password, code):
    original = json.loads(original_style_reply(sim.port, login, password, MONEY))
    assert original["code"] == code
    with make_api(sim.port, login=login, password=password) as api:
        ours = reply(api.Process(MONEY))
    assert {key: ours[key] for key in ("result", "code")} == original
    assert ours["return"] == ours["result"]


def test_cashier_without_api_right(sim):
    with make_api(sim.port, login="noapi") as api:
        assert reply(api.Process(MONEY))["code"] == 102


def test_wrong_keys_give_code_6(sim):
    with make_api(sim.port, key1=WRONG_KEY1, key2=WRONG_KEY2) as api:
        parsed = reply(api.Process(MONEY))
        assert parsed["code"] == 6
        assert parsed["result"] == "Null response! Probably incorrect encryption keys!"
        assert api.CheckConnection() is False


def test_server_down_gives_errno_111():
    with make_api(closed_port()) as api:
        parsed = reply(api.Process(MONEY))
        assert parsed["code"] == 111
        assert parsed["result"] == "Can`t connect!"
        assert api.CheckConnection() is False


def test_server_restart_reconnects_transparently(fresh_sim):
    with make_api(fresh_sim.port) as api:
        assert reply(api.Process(MONEY))["return"] == "100.01"
        port = fresh_sim.port
        fresh_sim.kill()
        assert reply(api.Process(MONEY))["code"] == 111
        fresh_sim.start(port)
        assert fresh_sim.port == port
        assert reply(api.Process(MONEY)) == {"return": "100.01", "code": 0}
        # Killed while connected (no call in between): the next call notices the dead socket
        # before sending and reconnects.
        fresh_sim.kill()
        fresh_sim.start(port)
        assert reply(api.Process(MONEY)) == {"return": "100.01", "code": 0}


@pytest.mark.parametrize("key1,key2", [("not base64!", KEY2), (KEY1, "c2hvcnQ="), ("", KEY2)])
def test_invalid_keys_raise_at_construction(key1, key2):
    with pytest.raises(MikroBILLError) as info:
        MikroBILL_API("127.0.0.1", 7403, "api", "secret", key1, key2)
    assert info.value.code == 9006
    assert reply(info.value.json)["code"] == 9006
    # The error must not echo the secrets it was given: the password, neither key (valid or
    # rejected) in any form the exception can be shown.
    shown = (str(info.value), repr(info.value), info.value.json, info.value.message)
    for secret in ("secret", key1, key2):
        if secret:  # "" is a substring of everything; the empty key has nothing to leak
            assert not any(secret in text for text in shown), secret


@pytest.mark.parametrize("kwargs,code", [
    ({"port": 0}, 9005),
    ({"port": 70000}, 9005),
    ({"max_frame_bytes": 3}, 9005),
])
def test_invalid_config_raises(kwargs, code):
    args = {"port": 7403}
    args.update(kwargs)
    port = args.pop("port")
    with pytest.raises(MikroBILLError) as info:
        MikroBILL_API("127.0.0.1", port, "api", "secret", KEY1, KEY2, **args)
    assert info.value.code == code


@pytest.mark.parametrize("kwargs,exc", [
    ({"connect_timeout": 0}, ValueError),
    ({"io_timeout": -1.0}, ValueError),
    ({"io_timeout": float("nan")}, ValueError),
    ({"connect_timeout": "5"}, TypeError),
    ({"max_frame_bytes": 1.5}, TypeError),
])
def test_invalid_arguments_raise_before_the_library(kwargs, exc):
    with pytest.raises(exc):
        MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2, **kwargs)


def test_bad_constructor_types():
    with pytest.raises(TypeError):
        MikroBILL_API("127.0.0.1", "7403", "api", "secret", KEY1, KEY2)
    with pytest.raises(TypeError):
        MikroBILL_API(None, 7403, "api", "secret", KEY1, KEY2)
    with pytest.raises(ValueError):
        MikroBILL_API("127.0.0.1", 7403, "api", "sec\x00ret", KEY1, KEY2)


def test_timeouts_are_accepted(sim):
    with make_api(sim.port, connect_timeout=0.5, io_timeout=2, max_frame_bytes=1 << 20) as api:
        assert reply(api.Process(MONEY))["return"] == "100.01"


def test_bad_values_and_paths(api, sim):
    with pytest.raises(TypeError):
        api.Process(MONEY, object())
    with pytest.raises(TypeError):
        api.process(MONEY, {"a": {1, 2}})
    with pytest.raises(ValueError):
        api.Process(MONEY, float("nan"))
    with pytest.raises(ValueError):
        api.process(MONEY, [float("inf")])
    with pytest.raises(ValueError, match="NUL"):
        api.Process("API.Client\x00.1")
    with pytest.raises(ValueError, match="NUL"):
        api.process_json(MONEY, '"a\x00b"')
    with pytest.raises(TypeError):
        api.Process(b"API.GetClients")
    with pytest.raises(TypeError):
        api.process_json(MONEY, 5)
    with pytest.raises(ValueError):
        api.process(MONEY, "lone \udc80 surrogate")
    # Refused calls leave the instance fully usable.
    assert reply(api.Process(MONEY))["return"] == "100.01"


def test_use_after_close_raises_9007(sim):
    api = make_api(sim.port)
    assert reply(api.Process(MONEY))["return"] == "100.01"
    api.close()
    assert api.closed
    api.close()
    for call in (lambda: api.Process(MONEY), lambda: api.process_json(MONEY, None),
                 api.CheckConnection, api.Close, api.disconnect):
        with pytest.raises(MikroBILLError) as info:
            call()
        assert info.value.code == 9007


def test_context_manager_releases(sim):
    with make_api(sim.port) as api:
        assert api.CheckConnection()
        assert not api.closed
    assert api.closed
    with pytest.raises(MikroBILLError):
        api.Process(MONEY)


def test_repr_hides_secrets(sim):
    with make_api(sim.port) as api:
        text = repr(api)
        assert "127.0.0.1" in text and "secret" not in text and KEY1 not in text and KEY2 not in text


def test_silent_server_reports_null_response_after_io_timeout():
    """A peer that accepts and never answers: the auth reply is absent, which the PHP client
    reported as code 6; the detail shows the configured io_timeout reached the library."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        with make_api(listener.getsockname()[1], io_timeout=0.25) as api:
            parsed = reply(api.Process(MONEY))
            assert parsed["code"] == 6
            assert "250 ms" in parsed.get("detail", "")
    finally:
        listener.close()


def test_max_frame_bytes_reaches_the_library(sim):
    # 32 bytes is less than any reply frame here (the auth reply comes first and is refused);
    # a generous limit lets the same call through.
    with make_api(sim.port, max_frame_bytes=32) as api:
        assert reply(api.Process("API.GetClients"))["code"] == 9003
    with make_api(sim.port, max_frame_bytes=1 << 16) as api:
        assert reply(api.Process("API.GetClients"))["code"] == 0


def test_binding_error_json_has_the_librarys_bytes_for_a_closed_handle():
    lib = get_library()
    # A handle never issued: the library's own 9007 error, exactly as mb_process returns it.
    reply = ctypes.c_void_p()
    assert lib.mb_process(987654321, b"API.X", None, 0, ctypes.byref(reply)) == Code.CLOSED_HANDLE
    ours = take_string(lib, reply.value).decode("utf-8")
    assert json.loads(ours)["code"] == Code.CLOSED_HANDLE
    assert error_json(Code.CLOSED_HANDLE, "Unknown or closed handle") == ours


def test_binding_error_json_has_the_librarys_bytes_with_a_detail():
    with make_api(closed_port()) as api:
        ours = api.Process(MONEY)
    parsed = json.loads(ours)
    assert "detail" in parsed, ours
    assert error_json(parsed["code"], parsed["return"], parsed["detail"]) == ours


@pytest.mark.parametrize("text", [
    "a/b \u0416",
    "tab\tnew\nline\r \"quoted\" back\\slash \b\f \x01\x1f",
    "del \x7f, astral \U0001F600, BMP end \uffff",
    "",
])
def test_binding_error_json_matches_php_json_encode(text):
    assert error_json(9005, text) == php_error_json(9005, text)
    assert error_json(9002, text, "more/\u0416") == php_error_json(9002, text, "more/\u0416")
