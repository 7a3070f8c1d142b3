"""A core that answers a little differently from the simulator's defaults, run through the
package's own pytest plugin (the mikrobill_sim marker's ``args``): batch replies whose paths are
echoed normalised (``--batch-paths normalised``), replies written in CP1251
(``--reply-encoding cp1251``) and a cashier whose password is raw CP1251 bytes
(``--cashier LOGIN:BASE64``). Each is served without a failure code; a reply that is not UTF-8
keeps its bytes, recoverable exactly with reply.encode("utf-8", "surrogateescape").
"""

import asyncio
import base64
import json

import pytest

from mikrobill.aio import MikroBILL_API as AsyncAPI
from mikrobill.pytest_plugin import DEMO_KEY1, DEMO_KEY2

from conftest import A1, C1, C2

P1 = "API.Client.%d" % C1
ACC1 = "%s.AutorizeInfo.Accounts.%d" % (P1, A1)
NAME1 = P1 + ".AutorizeInfo.Name"

NORMALISED = pytest.mark.mikrobill_sim(args=["--batch-paths", "normalised"])
IN_CP1251 = pytest.mark.mikrobill_sim(args=["--reply-encoding", "cp1251"])

KASSA = "kassa"
KASSA_TEXT = "Пароль-Кассы"
KASSA_BYTES = KASSA_TEXT.encode("cp1251")
KASSA_FLAG = ["--cashier", "%s:%s" % (KASSA, base64.b64encode(KASSA_BYTES).decode("ascii"))]

# Cyrillic, Ё/ё, guillemets and № (all in CP1251), and ✓, which CP1251 lacks and the simulator
# therefore keeps as an escape. "Иё" is C8 B8 in CP1251, which happens to be valid UTF-8 (U+0238):
# the bytes must come back exactly all the same.
CYRILLIC = "Семён «Ёж» №5 Иё ✓"


def server_bytes(reply):
    return reply.encode("utf-8", "surrogateescape")


# -- batch paths echoed normalised -------------------------------------------------------------

@NORMALISED
def test_a_batch_read_with_normalised_paths_is_passed_through(mikrobill_sim):
    with mikrobill_sim.client() as api:
        reply = api.Process(P1 + ".AutorizeInfo.Accounts", {str(A1): ["IP", "MAC"]})
    # Client -> Clients, a leading zero on each number, the last segment's case swapped: no path
    # is textually under the request's, and the reply is handed over as the core wrote it.
    echoed = "API.Clients.0%d.AutorizeInfo.Accounts.0%d." % (C1, A1)
    assert json.loads(reply) == [
        {"return": "1.1.1.1", "code": 0, "path": echoed + "ip"},
        {"return": "AA:AA:AA:AA:AA:AA", "code": 0, "path": echoed + "mac"},
    ]


@NORMALISED
def test_a_batch_set_with_normalised_paths_succeeds_and_is_applied_once(mikrobill_sim):
    with mikrobill_sim.client() as api:
        reply = api.Process(P1 + ".AutorizeInfo.Accounts",
                            {A1: {"IP": "192.168.25.110", "MAC": "aa:bb:cc:dd:ee:ff"}})
        echoed = "API.Clients.0%d.AutorizeInfo.Accounts.0%d." % (C1, A1)
        assert json.loads(reply) == [
            {"return": "OK", "code": 0, "path": echoed + "ip"},
            {"return": "OK", "code": 0, "path": echoed + "mac"},
        ]
        assert json.loads(api.Process(ACC1 + ".IP")) == {"return": "192.168.25.110", "code": 0}
        assert json.loads(api.Process(ACC1 + ".MAC"))["return"].lower() == "aa:bb:cc:dd:ee:ff"
    # Reported as done, and done once: the core saw the batch exactly one time.
    assert len(mikrobill_sim.journal(path="API.Client.*.AutorizeInfo.Accounts")) == 1


@NORMALISED
def test_a_mixed_batch_under_the_old_spelling_is_passed_through(mikrobill_sim):
    acc2 = "%d.AutorizeInfo.Accounts.835354904534456" % C2
    with mikrobill_sim.client() as api:
        reply = api.Process("API.Clients", {"0": "%d.BillingInfo.Money" % C1, acc2: {"MAC": "aa:bb:cc:dd:ee:01"}})
        assert json.loads(reply) == [
            {"return": "100.01", "code": 0, "path": "API.Client.0%d.BillingInfo.mONEY" % C1},
            {"return": "OK", "code": 0, "path": "API.Client.0%d.AutorizeInfo.Accounts.0835354904534456.mac" % C2},
        ]
        assert json.loads(api.Process("API.Client.%s.MAC" % acc2))["return"] == "aa:bb:cc:dd:ee:01"


@NORMALISED
def test_asyncio_passes_normalised_batch_paths_through(mikrobill_sim):
    async def main():
        async with AsyncAPI("127.0.0.1", mikrobill_sim.port, "api", "secret", DEMO_KEY1, DEMO_KEY2) as api:
            return await api.process(P1 + ".BillingInfo", ["Money", "Tariff"])
    assert [(e["code"], e["path"]) for e in json.loads(asyncio.run(main()))] == [
        (0, "API.Clients.0%d.BillingInfo.mONEY" % C1), (0, "API.Clients.0%d.BillingInfo.tARIFF" % C1)]


# -- replies in CP1251 -----------------------------------------------------------------------

@IN_CP1251
def test_a_cyrillic_name_in_cp1251_keeps_the_servers_bytes(mikrobill_sim):
    with mikrobill_sim.client() as api:
        reply = api.Process(NAME1)
    assert server_bytes(reply) == (b'{"return":"' + "Иванов Иван Иванович".encode("cp1251")
                                   + b'","code":0}')
    # Not UTF-8: the stray bytes are surrogates in the str, and JSON still parses around them.
    assert "\udcc8" in reply
    assert json.loads(server_bytes(reply).decode("cp1251")) == {"return": "Иванов Иван Иванович", "code": 0}


@IN_CP1251
def test_a_name_set_and_read_back_in_cp1251_is_exact(mikrobill_sim):
    with mikrobill_sim.client() as api:
        assert json.loads(api.Process(NAME1, CYRILLIC)) == {"return": "OK", "code": 0}
        reply = api.Process(NAME1)
    # The request went as PHP sends it (\u escapes); the reply holds the CP1251 bytes, ✓ escaped.
    expected = (b'{"return":"' + "Семён «Ёж» №5 Иё ".encode("cp1251") + b'\\u2713","code":0}')
    assert server_bytes(reply) == expected
    assert json.loads(server_bytes(reply).decode("cp1251"))["return"] == CYRILLIC


@IN_CP1251
def test_asyncio_keeps_the_cp1251_bytes_too(mikrobill_sim):
    async def main():
        async with AsyncAPI("127.0.0.1", mikrobill_sim.port, "api", "secret", DEMO_KEY1, DEMO_KEY2) as api:
            return await api.process("API.Client.%d.BillingInfo.Tariff" % C1)
    assert server_bytes(asyncio.run(main())) == (b'{"return":"' + "Базовый 100".encode("cp1251")
                                                 + b'","code":0}')


@pytest.mark.mikrobill_sim(args=["--reply-encoding", "cp1251", "--batch-paths", "normalised"])
def test_a_cp1251_batch_with_normalised_paths(mikrobill_sim):
    with mikrobill_sim.client() as api:
        reply = api.Process("API.Client", {"0": "%d.AutorizeInfo.Name" % C1, "1": "%d.AutorizeInfo.Name" % C2})
    entries = json.loads(server_bytes(reply).decode("cp1251"))
    assert entries == [
        {"return": "Иванов Иван Иванович", "code": 0, "path": "API.Clients.0%d.AutorizeInfo.nAME" % C1},
        {"return": "Петров Пётр Петрович", "code": 0, "path": "API.Clients.0%d.AutorizeInfo.nAME" % C2},
    ]


# -- a cashier whose password is CP1251 bytes --------------------------------------------------

@pytest.mark.mikrobill_sim(args=KASSA_FLAG)
def test_the_cp1251_cashier_logs_in_with_the_password_bytes(mikrobill_sim):
    with mikrobill_sim.client(KASSA, KASSA_BYTES) as api:
        assert api.check_connection()
        assert json.loads(api.Process(P1 + ".BillingInfo.Money")) == {"return": "100.01", "code": 0}
    # The same text hashed over its UTF-8 bytes is another password to the core.
    with mikrobill_sim.client(KASSA, KASSA_TEXT) as api:
        assert not api.check_connection()
        assert json.loads(api.Process(P1 + ".BillingInfo.Money"))["code"] == 101
    # One login granted (check_connection, then its connection served the read), two refused.
    counts = mikrobill_sim.counts()
    assert (counts["auths_granted"], counts["auths_refused"]) == (1, 2)


@pytest.mark.mikrobill_sim(args=KASSA_FLAG + ["--reply-encoding", "cp1251"])
def test_a_cp1251_installation_end_to_end(mikrobill_sim):
    # The kassa's password and the core's replies both in CP1251.
    with mikrobill_sim.client(KASSA, KASSA_BYTES) as api:
        assert json.loads(api.Process(NAME1, CYRILLIC)) == {"return": "OK", "code": 0}
        assert json.loads(server_bytes(api.Process(NAME1)).decode("cp1251"))["return"] == CYRILLIC
