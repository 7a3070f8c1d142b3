"""persistent=True: a closed or collected instance leaves its authenticated connection in the
process's pool for the next instance with the same settings. The simulator's --session-counts
file tells how many sessions it granted and how many DISCONNECTs it answered."""

import gc
import json
import time

import pytest

import mikrobill
from conftest import Sim, make_api
from test_fork import run_child

PATH = "API.GetClients"


@pytest.fixture
def counted(tmp_path):
    mikrobill.pool_clear()
    counts = tmp_path / "counts.json"
    s = Sim(tmp_path, extra=["--session-counts", str(counts)])
    s.counts_file = counts
    yield s
    mikrobill.pool_clear()
    s.stop()


def counts(sim, until=lambda auths, disconnects: True):
    deadline = time.monotonic() + 5
    while True:
        v = json.loads(sim.counts_file.read_text())
        seen = (v["auths"], v["disconnects"])
        if until(*seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


def page(port, **kw):
    with make_api(port, persistent=True, **kw) as api:
        for _ in range(3):
            assert json.loads(api.Process(PATH))["code"] == 0


def test_pages_in_a_row_share_one_session(counted):
    for _ in range(4):
        page(counted.port)
    assert counts(counted) == (1, 0)
    assert mikrobill.pool_stats()["idle"] == 1
    assert mikrobill.pool_clear() == 1
    assert counts(counted, lambda a, d: d == 1) == (1, 1)


def test_a_collected_instance_also_returns_its_connection(counted):
    api = make_api(counted.port, persistent=True)
    assert json.loads(api.Process(PATH))["code"] == 0
    del api
    gc.collect()
    assert mikrobill.pool_stats()["idle"] == 1
    page(counted.port)
    assert counts(counted) == (1, 0)


def test_other_identities_get_sessions_of_their_own(counted):
    page(counted.port)
    page(counted.port, persistent_id="second shop")
    page(counted.port, io_timeout=4.321)
    with make_api(counted.port, password="not the password", persistent=True) as wrong:
        assert json.loads(wrong.Process(PATH))["code"] != 0
    assert counts(counted) == (3, 0)
    assert mikrobill.pool_stats()["identities"] == 3


def test_without_persistence_each_close_says_disconnect(counted):
    for _ in range(2):
        with make_api(counted.port) as api:
            api.Process(PATH)
    assert counts(counted, lambda a, d: d == 2) == (2, 2)


def test_bounds_and_idle_lifetime(counted):
    apis = [make_api(counted.port, persistent=True, pool_max_idle=2) for _ in range(3)]
    for api in apis:
        assert api.check_connection()
    for api in apis:
        api.close()
    assert mikrobill.pool_stats()["idle"] == 2
    assert counts(counted, lambda a, d: d == 1) == (3, 1)
    mikrobill.pool_clear()
    page(counted.port, pool_idle_timeout=0.2)
    time.sleep(0.4)
    # pool_stats() is a pure read: the expired connection is counted, and still open.
    stats = mikrobill.pool_stats()
    assert (stats["idle"], stats["expired"]) == (0, 1)
    assert mikrobill.pool_stats() == stats
    assert counts(counted) == (4, 3)
    # The pool's next use closes it with DISCONNECT (pool_clear counts only unexpired ones).
    assert mikrobill.pool_clear() == 0
    assert counts(counted, lambda a, d: d == 4) == (4, 4)
    assert mikrobill.pool_stats()["expired"] == 0


def test_a_server_restart_costs_a_reconnect_not_a_failed_call(counted):
    page(counted.port)
    port = counted.port
    counted.stop()
    counted.start(port)
    page(port)
    assert counts(counted) == (1, 0)


def test_bad_options_are_refused(counted):
    with pytest.raises(TypeError):
        make_api(counted.port, persistent=1)
    with pytest.raises(TypeError):
        make_api(counted.port, persistent_id=5)
    with pytest.raises(ValueError):
        make_api(counted.port, pool_max_idle=-1)
    with pytest.raises(ValueError):
        make_api(counted.port, pool_idle_timeout=0)


def test_a_forked_child_never_takes_the_parents_pooled_session(counted):
    page(counted.port)

    def child():
        if mikrobill.pool_stats()["idle"] != 0:
            return False
        page(counted.port)
        return True
    assert run_child(child) == 0
    assert counts(counted) == (2, 0)
    # The parent's pooled session is intact.
    page(counted.port)
    assert counts(counted) == (2, 0)


def test_the_asyncio_class_takes_the_same_option(counted):
    import asyncio
    from mikrobill.aio import MikroBILL_API as AsyncAPI
    from conftest import KEY1, KEY2

    async def pages():
        for _ in range(3):
            api = AsyncAPI("127.0.0.1", counted.port, "api", "secret", KEY1, KEY2, persistent=True)
            assert json.loads(await api.process(PATH))["code"] == 0
            await api.close()
    asyncio.run(pages())
    assert counts(counted) == (1, 0)
