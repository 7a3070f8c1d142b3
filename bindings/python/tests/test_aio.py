"""mikrobill.aio against the simulator: awaitable calls that leave the event loop free, one
connection per instance, calls in the order they were awaited, cancellation and close."""

import asyncio
import json
import random
import time

import pytest

from mikrobill import MikroBILLError
from mikrobill.aio import MikroBILL_API as AsyncAPI
from mikrobill.pytest_plugin import SimulatorDouble

from conftest import KEY1, KEY2, C1, C2, C3

MONEY = "API.Client.%d.BillingInfo.Money" % C1
NAME = "API.Client.%d.AutorizeInfo.Name" % C1
# Bounds waits that only a broken build would exceed; nothing is asserted on time.
GUARD_S = 20.0


def make(port, **kw):
    kw.setdefault("login", "api")
    kw.setdefault("password", "secret")
    login, password = kw.pop("login"), kw.pop("password")
    return AsyncAPI("127.0.0.1", port, login, password, KEY1, KEY2, **kw)


async def request_arrived(port):
    """Returns once the simulator's end of a connection holds unread bytes: a request has reached
    the (suspended) simulator, so the call that sent it is in flight."""
    give_up = time.monotonic() + 20.0
    while True:
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                local, state, queues = fields[1], fields[3], fields[4]
                if int(local.split(":")[1], 16) == port and state == "01" and int(queues.split(":")[1], 16) > 0:
                    return
        assert time.monotonic() < give_up, "no request reached the simulator"
        await asyncio.sleep(0.01)


def test_reads_writes_and_the_php_names(fresh_sim):
    async def main():
        async with make(fresh_sim.port) as api:
            assert json.loads(await api.process("API.GetClients")) == {"return": [C1, C2, C3], "code": 0}
            assert json.loads(await api.process(NAME, "Иван / Ivan"))["code"] == 0
            assert json.loads(await api.Process(NAME))["return"] == "Иван / Ivan"
            assert json.loads(await api.process_json(MONEY, None))["return"] == "100.01"
            assert await api.check_connection() is True
            assert await api.CheckConnection() is True
            await api.Close()
            # Close() only disconnects: the next call connects again.
            assert json.loads(await api.process(MONEY))["code"] == 0
            assert not api.closed
        assert api.closed

    asyncio.run(main())


def test_one_connection_per_instance_and_calls_in_order(fresh_sim):
    async def main():
        async with make(fresh_sim.port) as api:
            writes = [api.process(NAME, "name %d" % i) for i in range(20)]
            replies = await asyncio.gather(*writes)
            assert all(json.loads(r)["code"] == 0 for r in replies)
            # The listener and one connection.
            assert fresh_sim.open_sockets() == 2
            assert json.loads(await api.process(NAME))["return"] == "name 19"

    asyncio.run(main())
    sent = [json.loads(line)["value"] for line in fresh_sim.trace_lines()
            if json.loads(line)["path"] == NAME]
    assert sent == ["name %d" % i for i in range(20)] + [None]


def test_a_hung_server_never_blocks_the_event_loop(fresh_sim):
    async def main():
        async with make(fresh_sim.port, io_timeout=1.0) as api:
            assert await api.check_connection() is True
            fresh_sim.suspend()
            try:
                call = asyncio.ensure_future(api.process(MONEY))
                ticks = 0
                while not call.done():
                    await asyncio.sleep(0.01)
                    ticks += 1
            finally:
                fresh_sim.resume()
            # A call that held the loop would finish before the first tick came back.
            assert ticks > 5, ticks
            assert json.loads(call.result())["code"] == 9001

    asyncio.run(main())


def test_cancelling_a_call_in_flight_abandons_it_in_the_library(fresh_sim):
    # Timeouts far beyond the test's guards: while the simulator is frozen only the cancel can
    # end the call.
    async def main():
        async with make(fresh_sim.port, io_timeout=120.0, call_timeout=120.0) as api:
            assert await api.check_connection() is True
            fresh_sim.suspend()
            try:
                in_flight = asyncio.ensure_future(api.process(MONEY, "7.5"))
                await request_arrived(fresh_sim.port)
                in_flight.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await in_flight
                # The server is still frozen, yet the worker is free: the blocking call returned
                # (9011) and dropped its connection, so disconnect() has nothing to say and
                # returns. Had the call been left to finish, this would wait for the server.
                await asyncio.wait_for(api.disconnect(), GUARD_S)
            finally:
                fresh_sim.resume()
            # Usable afterwards: the next call opens a new connection and gets its own reply.
            assert json.loads(await api.process(NAME))["return"] == "Иванов Иван Иванович"
            # The abandoned connection was closed by the client: the simulator, reading it to its
            # end, lets go of it; the listener and the new connection remain.
            await asyncio.get_running_loop().run_in_executor(None, fresh_sim.wait_for_open_sockets, 2)

    asyncio.run(main())
    sent = [(json.loads(line)["path"], json.loads(line).get("value")) for line in fresh_sim.trace_lines()]
    # The set reached the server once (it was sent before the cancel) and was never resent.
    assert sent.count((MONEY, "7.5")) == 1
    assert sorted(sent) == sorted([(MONEY, "7.5"), (NAME, None), ("DISCONNECT", None)])


def test_cancelling_a_queued_call_never_sends_it_and_spares_the_one_in_flight(fresh_sim):
    async def main():
        async with make(fresh_sim.port, io_timeout=120.0, call_timeout=120.0) as api:
            assert await api.check_connection() is True
            fresh_sim.suspend()
            try:
                in_flight = asyncio.ensure_future(api.process(MONEY))
                queued = asyncio.ensure_future(api.process(NAME, "never sent"))
                await request_arrived(fresh_sim.port)
                queued.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await queued
            finally:
                fresh_sim.resume()
            # Cancelling the queued call did not cancel the call in flight: it gets its reply
            # (a cancel that reached it would have made it 9011).
            assert json.loads(await in_flight) == {"return": "100.01", "code": 0}
            assert json.loads(await api.process(NAME))["return"] == "Иванов Иван Иванович"
            # Still the one connection (and the listener).
            assert fresh_sim.open_sockets() == 2

    asyncio.run(main())
    paths = [json.loads(line)["path"] for line in fresh_sim.trace_lines()]
    assert paths == [MONEY, NAME, "DISCONNECT"]
    assert "never sent" not in fresh_sim.trace.read_text(encoding="utf-8")


@pytest.fixture
def traced_double(tmp_path):
    """A simulator with its control API (faults, journal, counts) and a request trace, which is
    written as each request arrives, before any fault's delay."""
    trace = tmp_path / "requests.txt"
    double = SimulatorDouble(args=["--trace-requests", str(trace)])
    double.trace = trace
    yield double
    double.stop()


def traced(double):
    return [json.loads(line) for line in double.trace.read_text(encoding="utf-8").splitlines()] \
        if double.trace.exists() else []


async def until_traced(double, path):
    give_up = time.monotonic() + GUARD_S
    while not any(request["path"] == path for request in traced(double)):
        assert time.monotonic() < give_up, "%s never reached the simulator" % path
        await asyncio.sleep(0.01)


def test_a_cancelled_delayed_call_frees_the_instance_for_a_new_connection(traced_double):
    # The server holds the set for a minute; the cancel must not wait for it.
    traced_double.add_fault("delay", path=MONEY, delay_ms=60000)

    async def main():
        async with make(traced_double.port, io_timeout=120.0, call_timeout=120.0) as api:
            in_flight = asyncio.ensure_future(api.process(MONEY, "7.5"))
            await until_traced(traced_double, MONEY)
            in_flight.cancel()
            with pytest.raises(asyncio.CancelledError):
                await in_flight
            # The guard only stops a broken build from hanging; the delay is far longer.
            reply = await asyncio.wait_for(api.process(NAME), GUARD_S)
            assert json.loads(reply)["return"] == "Иванов Иван Иванович"

    asyncio.run(main())
    # The read came on a second connection (the first was dropped with the cancelled call), and
    # the set was sent once, never again.
    assert [(e["path"], e["connection"]) for e in traced_double.journal(path=NAME)] == [(NAME, 2)]
    assert traced_double.counts()["connections"] == 2
    assert [(r["path"], r.get("value")) for r in traced(traced_double)] == [
        (MONEY, "7.5"), (NAME, None), ("DISCONNECT", None)]
    # Not applied yet: the simulator is still inside the delay.
    assert traced_double.client_state(C1)["Money"] == "100.01"


def test_a_timeout_abandons_the_call_and_the_next_call_works(traced_double):
    traced_double.add_fault("delay", path=MONEY, delay_ms=60000)

    async def main():
        async with make(traced_double.port, io_timeout=120.0, call_timeout=120.0) as api:
            # asyncio's own timeout cancels the task, and the cancel reaches the library.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(api.process(MONEY), 0.3)
            reply = await asyncio.wait_for(api.process(NAME), GUARD_S)
            assert json.loads(reply)["return"] == "Иванов Иван Иванович"

    asyncio.run(main())
    assert traced_double.counts()["connections"] == 2
    assert [r["path"] for r in traced(traced_double)] == [MONEY, NAME, "DISCONNECT"]


def test_a_cancel_never_reaches_the_call_after_it(traced_double):
    # Cancels land at every stage of the first call (queued, taken by the worker, connecting,
    # sent, answered, finished); the second call, queued behind it, must always get its reply.
    traced_double.add_fault("delay", path=NAME, delay_ms=15)
    chance = random.Random(20261201)
    outcomes = {"cancelled": 0, "finished": 0}

    async def main():
        async with make(traced_double.port, io_timeout=120.0, call_timeout=120.0) as api:
            for i in range(60):
                first = asyncio.ensure_future(api.process(NAME, "name %d" % i))
                second = asyncio.ensure_future(api.process(MONEY))
                # Every third cancel comes as soon as the call has been handed to the worker.
                await asyncio.sleep(0 if i % 3 == 0 else chance.uniform(0, 0.04))
                first.cancel()
                try:
                    assert json.loads(await first)["code"] == 0
                    outcomes["finished"] += 1
                except asyncio.CancelledError:
                    outcomes["cancelled"] += 1
                assert json.loads(await second) == {"return": "100.01", "code": 0}, i

    asyncio.run(main())
    print("cancel stress:", outcomes, traced_double.counts())
    assert outcomes["cancelled"] > 0
    # Each name was sent at most once (none resent), and every read of the money once.
    names = [r["value"] for r in traced(traced_double) if r["path"] == NAME]
    assert len(names) == len(set(names))
    assert [r["path"] for r in traced(traced_double)].count(MONEY) == 60


def test_calls_after_close_raise_9007_and_close_is_idempotent(sim):
    async def main():
        api = make(sim.port)
        assert json.loads(await api.process(MONEY))["code"] == 0
        await api.close()
        await api.close()
        assert api.closed
        for call in (api.process(MONEY), api.check_connection(), api.disconnect()):
            with pytest.raises(MikroBILLError) as info:
                await call
            assert info.value.code == 9007

    asyncio.run(main())


def test_a_rejected_login_has_return_and_result(sim):
    async def main():
        async with make(sim.port, password="not-the-password") as api:
            reply = json.loads(await api.process(MONEY))
            assert reply["code"] == 101
            assert reply["result"] == reply["return"]
            assert await api.check_connection() is False

    asyncio.run(main())


def test_bad_settings_raise_at_construction():
    with pytest.raises(MikroBILLError) as info:
        AsyncAPI("127.0.0.1", 7403, "api", "secret", "not base64!", KEY2)
    assert info.value.code == 9006
    with pytest.raises(ValueError):
        make(7403, io_timeout=0)


def test_takes_the_same_arguments_as_the_blocking_class():
    from mikrobill import MikroBILL_API as BlockingAPI
    from mikrobill._options import Configured
    # One constructor, defined once and inherited by both, not two signatures kept equal.
    assert AsyncAPI.__init__ is Configured.__init__
    assert BlockingAPI.__init__ is Configured.__init__


def test_an_instance_collected_without_close_ends_its_worker_thread(sim):
    import gc
    import threading

    async def one_call(api):
        return json.loads(await api.process(MONEY))["code"]

    before = {t for t in threading.enumerate() if t.name == "mikrobill-aio"}
    api = make(sim.port)
    assert asyncio.run(one_call(api)) == 0
    (worker,) = {t for t in threading.enumerate() if t.name == "mikrobill-aio"} - before
    del api
    gc.collect()
    worker.join(GUARD_S)
    assert not worker.is_alive()
