"""A password is text (sent as the config's `password`, hashed over its UTF-8 bytes) or bytes
(sent as `password_base64`, hashed over exactly those bytes, as the original client hashes a
password read from a kassa file saved in CP1251), and is never shown.

The end-to-end tests log in to bindings/php/tests/Support/auth-check-server.php, a one-cashier
core (PHP with openssl) that accepts a login only when its hash is sha1 over the password's raw
bytes given to it, and to the simulator.
"""

import asyncio
import base64
import json
import select
import subprocess
import traceback
from pathlib import Path

import pytest

from mikrobill import MikroBILL_API, MikroBILLError
from mikrobill.aio import MikroBILL_API as AsyncAPI

from conftest import KEY1, KEY2, make_api
from phporacle import php_binary

AUTH_CHECK = Path(__file__).resolve().parents[2] / "php" / "tests" / "Support" / "auth-check-server.php"
LOGIN = "kassa"
TEXT = "Пароль-Кассы"
CP1251 = TEXT.encode("cp1251")
# Module globals, not locals of a test: a traceback that records locals never holds them here, so
# what it shows comes only from the binding's frames.
SECRET_BYTES = "Секрет-Пв-7351".encode("cp1251")
SECRET_SHOWN = (repr(SECRET_BYTES)[2:-1], base64.b64encode(SECRET_BYTES).decode("ascii"),
                SECRET_BYTES.decode("cp1251"), "Секрет")


class AuthCheckServer:
    """auth-check-server.php accepting LOGIN with `password` (bytes), on a free loopback port.

    Run under a shell that kills it once its stdin reaches end of file, which happens when
    stop() closes it or when this test process dies in any way, so the server never outlives the
    run."""

    def __init__(self, password):
        if not AUTH_CHECK.is_file():
            raise RuntimeError("%s is missing" % AUTH_CHECK)
        keeper = '"$@" & server=$!; cat >/dev/null; kill "$server" 2>/dev/null; { wait "$server"; } 2>/dev/null'
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", keeper, "auth-check", php_binary(), "-d", "display_errors=stderr",
             str(AUTH_CHECK), KEY1, KEY2, LOGIN, base64.b64encode(password).decode("ascii")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode("utf-8", "replace") if ready else ""
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            raise RuntimeError("auth-check-server.php did not start: %r" % line)
        self.port = int(line.rsplit(":", 1)[1])

    def client(self, password, **options):
        return MikroBILL_API("127.0.0.1", self.port, LOGIN, password, KEY1, KEY2, **options)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture
def cp1251_core():
    server = AuthCheckServer(CP1251)
    yield server
    server.stop()


def reply(text):
    return json.loads(text)


def test_a_cp1251_password_given_as_bytes_logs_in(cp1251_core):
    with cp1251_core.client(CP1251) as api:
        assert api.check_connection()
        assert reply(api.Process("API.GetClients")) == {"return": "authenticated", "code": 0}


def test_the_same_password_as_text_is_hashed_over_its_utf8_bytes_and_refused(cp1251_core):
    # The proof that bytes are hashed as given: the text's UTF-8 bytes are not what the core
    # holds, so the core refuses them, as it would the original client's UTF-8 kassa file.
    with cp1251_core.client(TEXT) as api:
        assert not api.check_connection()
        refused = reply(api.Process("API.GetClients"))
        assert (refused["code"], refused["return"]) == (101, "incorrect login or password")


def test_a_text_password_is_its_utf8_bytes():
    server = AuthCheckServer(TEXT.encode("utf-8"))
    try:
        for password in (TEXT, TEXT.encode("utf-8"), bytearray(TEXT.encode("utf-8"))):
            with server.client(password) as api:
                assert reply(api.Process("API.GetClients"))["code"] == 0, type(password)
        with server.client(CP1251) as api:
            assert reply(api.Process("API.GetClients"))["code"] == 101
    finally:
        server.stop()


def test_every_byte_value_and_nul_survive():
    password = bytes(range(256)) + b"\x00tail"
    server = AuthCheckServer(password)
    try:
        with server.client(password) as api:
            assert reply(api.Process("API.GetClients"))["code"] == 0
        with server.client(password[:-1]) as api:
            assert reply(api.Process("API.GetClients"))["code"] == 101
    finally:
        server.stop()


def test_asyncio_takes_a_bytes_password(cp1251_core):
    async def main():
        async with AsyncAPI("127.0.0.1", cp1251_core.port, LOGIN, CP1251, KEY1, KEY2) as api:
            return await api.process("API.GetClients")
    assert reply(asyncio.run(main())) == {"return": "authenticated", "code": 0}


def test_a_handle_rebuilt_after_a_fork_keeps_the_bytes(cp1251_core):
    api = cp1251_core.client(CP1251)
    assert reply(api.Process("API.GetClients"))["code"] == 0
    # The server takes one connection at a time: this one ends before the next can log in.
    api.disconnect()
    # What a forked child does on its first call: a handle of its own from the kept config.
    api._forget_inherited_handle()
    assert reply(api.Process("API.GetClients"))["code"] == 0
    api.close()


def test_the_simulator_takes_an_ascii_password_as_bytes(sim):
    with sim.client(password=b"secret") as api:
        assert reply(api.Process("API.GetClients"))["code"] == 0
    with sim.client(password=b"Secret") as api:
        assert reply(api.Process("API.GetClients"))["code"] == 101


def test_a_bytes_password_is_not_shown(cp1251_core):
    api = MikroBILL_API("127.0.0.1", cp1251_core.port, LOGIN, SECRET_BYTES, KEY1, KEY2)
    shown = repr(vars(api)) + repr(api)
    api.close()
    for text in SECRET_SHOWN:
        assert text not in shown


def render_failure(make, exc_type):
    try:
        make()
    except exc_type as exc:
        return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    pytest.fail("construction must fail")


@pytest.mark.parametrize("make,exc_type", [
    # The library refuses the key after the password was encoded into the config.
    (lambda: MikroBILL_API("127.0.0.1", 7403, LOGIN, SECRET_BYTES, "AAEC", KEY2), MikroBILLError),
    # The binding refuses a later argument after it has taken the password.
    (lambda: MikroBILL_API("127.0.0.1", 7403, LOGIN, SECRET_BYTES, KEY1, KEY2, io_timeout=-1), ValueError),
    (lambda: MikroBILL_API("127.0.0.1", 7403, LOGIN, SECRET_BYTES, KEY1, 5), TypeError),
])
def test_a_failed_construction_shows_no_bytes_password(make, exc_type):
    rendered = render_failure(make, exc_type)
    for text in SECRET_SHOWN:
        assert text not in rendered, rendered


def test_a_password_of_another_type_is_refused_without_being_shown():
    with pytest.raises(TypeError) as info:
        make_api(7403, password=73519284)
    assert "bytes" in str(info.value) and "73519284" not in str(info.value)
    # Text that cannot be UTF-8 (a lone surrogate, as surrogateescape leaves undecodable bytes):
    # the message points to bytes and does not quote the password's character.
    with pytest.raises(ValueError) as info:
        make_api(7403, password="pass\udccfXyzzy")
    message = str(info.value)
    assert "as bytes" in message and "\\udccf" not in message and "\udccf" not in message
    assert "Xyzzy" not in message
