"""Garbage collection of instances that were never closed.

Their handles are released with mb_discard (the socket is closed, nothing is sent), never with
mb_close, which says DISCONNECT and waits up to io_timeout for the reply: a collection runs in
whatever thread happens to allocate, and must not stall it on a hung server. close() and the
context manager keep mb_close.
"""

import gc
import threading
import weakref

from conftest import C1, make_api

DISCONNECT_REQUEST = '{"path":"DISCONNECT","value":null}'
MONEY_PATH = "API.Client.%d.BillingInfo.Money" % C1
# Bounds every wait below; nothing is asserted on time.
DEADLINE_S = 20.0


def test_collected_instance_sends_no_disconnect_but_close_does(fresh_sim):
    idle = fresh_sim.open_sockets()
    closed = make_api(fresh_sim.port)
    abandoned = make_api(fresh_sim.port)
    assert closed.CheckConnection()
    assert abandoned.CheckConnection()
    assert fresh_sim.open_sockets() == idle + 2
    gone = weakref.ref(abandoned)
    del abandoned
    gc.collect()
    assert gone() is None
    # Once the simulator has dropped the abandoned connection it has read all that was sent on it.
    fresh_sim.wait_for_open_sockets(idle + 1, DEADLINE_S)
    assert DISCONNECT_REQUEST not in fresh_sim.trace_lines()
    # close() waits for the answer to its DISCONNECT, so the trace holds it when close() returns.
    closed.close()
    assert fresh_sim.trace_lines() == [DISCONNECT_REQUEST]


def test_context_manager_exit_sends_disconnect(fresh_sim):
    with make_api(fresh_sim.port) as api:
        assert api.CheckConnection()
    assert fresh_sim.trace_lines() == [DISCONNECT_REQUEST]


def test_collection_does_not_wait_for_a_hung_server(fresh_sim):
    idle = fresh_sim.open_sockets()
    # A 60 s io_timeout: a collection that said DISCONNECT and waited for the reply would block
    # 60 s per instance, far beyond the join's bound below.
    abandoned = [make_api(fresh_sim.port, io_timeout=60.0) for _ in range(3)]
    for api in abandoned:
        assert api.CheckConnection()
    assert fresh_sim.open_sockets() == idle + 3
    refs = [weakref.ref(api) for api in abandoned]
    # A reference cycle, so that only the cyclic collector can free the instances, and automatic
    # collection off, so that it happens in the worker thread below and nowhere else.
    abandoned.append(abandoned)
    del api
    gc.disable()
    try:
        del abandoned
        assert all(ref() is not None for ref in refs), "instances still alive before the collection"
        collector = threading.Thread(target=gc.collect, daemon=True)
        fresh_sim.suspend()
        try:
            collector.start()
            # A collection blocked on DISCONNECT replies would still be running here.
            collector.join(DEADLINE_S)
            finished = not collector.is_alive()
        finally:
            fresh_sim.resume()
    finally:
        gc.enable()
    assert finished, "gc.collect() returned while the simulator was stopped"
    assert all(ref() is None for ref in refs), "the collection freed every abandoned instance"
    # The resumed simulator reads each closed connection to its end and drops it.
    fresh_sim.wait_for_open_sockets(idle, DEADLINE_S)
    assert DISCONNECT_REQUEST not in fresh_sim.trace_lines()
    # Still a working server, and the trace proves it reads requests after the resume.
    with make_api(fresh_sim.port) as api:
        assert '"code":0' in api.Process(MONEY_PATH)
    assert fresh_sim.trace_lines() == ['{"path":"%s","value":null}' % MONEY_PATH, DISCONNECT_REQUEST]
