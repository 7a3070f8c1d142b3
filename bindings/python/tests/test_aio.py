"""mikrobill.aio against the simulator: awaitable calls that leave the event loop free, one
connection per instance, calls in the order they were awaited, cancellation and close."""

import asyncio
import json
import time

import pytest

from mikrobill import MikroBILLError
from mikrobill.aio import MikroBILL_API as AsyncAPI

from conftest import KEY1, KEY2, C1, C2, C3

MONEY = "API.Client.%d.BillingInfo.Money" % C1
NAME = "API.Client.%d.AutorizeInfo.Name" % C1


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


def test_cancelling_drops_queued_calls_and_lets_the_sent_one_finish(fresh_sim):
    async def main():
        async with make(fresh_sim.port, io_timeout=10.0) as api:
            assert await api.check_connection() is True
            fresh_sim.suspend()
            try:
                in_flight = asyncio.ensure_future(api.process(MONEY))
                queued = asyncio.ensure_future(api.process(NAME, "never sent"))
                await request_arrived(fresh_sim.port)
                queued.cancel()
                in_flight.cancel()
                for task in (queued, in_flight):
                    with pytest.raises(asyncio.CancelledError):
                        await task
            finally:
                fresh_sim.resume()
            # The next call comes after the cancelled one, on the same connection, and gets its
            # own reply.
            assert json.loads(await api.process(NAME))["return"] == "Иванов Иван Иванович"

    asyncio.run(main())
    paths = [json.loads(line)["path"] for line in fresh_sim.trace_lines()]
    assert paths == [MONEY, NAME, "DISCONNECT"]


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
    import inspect
    from mikrobill import MikroBILL_API as BlockingAPI
    blocking = inspect.signature(BlockingAPI.__init__).parameters
    awaitable = inspect.signature(AsyncAPI.__init__).parameters
    assert list(awaitable.values()) == list(blocking.values())
