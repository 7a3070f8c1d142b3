"""Instances inherited by a forked child (multiprocessing 'fork', gunicorn preload_app).

The child gets a copy of the parent's native handle, whose socket is the very same connection the
parent still uses. The child must never talk on it: neither requests (replies would cross) nor the
DISCONNECT of close()/__del__ (it would end the parent's session). Each child is checked inside
itself and reports through its exit code, because an assert in a forked child cannot reach pytest.
"""

import asyncio
import json
import os
import signal
import threading
import time
import traceback
import warnings

from mikrobill import _loader
from mikrobill.aio import MikroBILL_API as AsyncAPI

from conftest import C1, KEY1, KEY2, make_api

MONEY_PATH = "API.Client.%d.BillingInfo.Money" % C1
MONEY_REQUEST = '{"path":"%s","value":null}' % MONEY_PATH
DISCONNECT_REQUEST = '{"path":"DISCONNECT","value":null}'
MONEY_OK = {"return": "100.01", "code": 0}


def reply(text):
    return json.loads(text)


def socket_inodes():
    """The sockets this process holds open, as the kernel names them ("socket:[N]")."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue  # the descriptor listdir itself used, gone by now
        if target.startswith("socket:"):
            found.add(target)
    return found


# A child not done by then is hung: it is killed and reported as such.
CHILD_DEADLINE_S = 30.0


def run_child(body):
    """Fork; run body() in the child and exit 0 if it returned True, 1 otherwise. Returns the
    child's exit code once it has ended, or None if it was still running after CHILD_DEADLINE_S
    (then it is killed)."""
    with warnings.catch_warnings():
        # Python 3.12+ warns that fork() in a multi-threaded process may deadlock the child
        # (these tests always have threads: the simulators' output readers at least). That the
        # binding's child does not deadlock is what these tests check.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if body() is True else 1
        except BaseException:
            traceback.print_exc()
        finally:
            # Never return into pytest in the child, and skip its atexit/finalizers: the
            # inherited fixtures belong to the parent.
            os._exit(code)
    give_up = time.monotonic() + CHILD_DEADLINE_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        if time.monotonic() > give_up:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


def test_child_close_does_not_disconnect_the_parent(fresh_api, fresh_sim):
    assert reply(fresh_api.Process(MONEY_PATH)) == MONEY_OK

    def child():
        fresh_api.close()
        return fresh_api.closed

    assert run_child(child) == 0
    # The parent's instance is untouched and its connection still answers.
    assert not fresh_api.closed
    assert reply(fresh_api.Process(MONEY_PATH)) == MONEY_OK
    # The child never said DISCONNECT (it had no connection of its own), so the server saw only
    # the parent's two requests.
    assert fresh_sim.trace_lines() == [MONEY_REQUEST, MONEY_REQUEST]


def test_child_calls_use_a_connection_of_their_own(fresh_api, fresh_sim):
    assert reply(fresh_api.Process(MONEY_PATH)) == MONEY_OK
    inherited = socket_inodes()

    def child():
        if reply(fresh_api.Process(MONEY_PATH)) != MONEY_OK:
            return False
        # The call opened one new socket instead of writing on the parent's.
        if len(socket_inodes() - inherited) != 1:
            return False
        if fresh_api.CheckConnection() is not True:
            return False
        fresh_api.close()
        # close() released the child's own connection and nothing else.
        return socket_inodes() == inherited

    assert run_child(child) == 0
    assert reply(fresh_api.Process(MONEY_PATH)) == MONEY_OK
    # Parent's call, the child's call and its DISCONNECT (on its own connection, proved by the
    # socket check above), then the parent's next call on the connection it always had.
    assert fresh_sim.trace_lines() == [MONEY_REQUEST, MONEY_REQUEST, DISCONNECT_REQUEST, MONEY_REQUEST]
    assert socket_inodes() == inherited


def test_instances_made_in_the_child_work_normally(sim):
    with make_api(sim.port) as api:
        assert reply(api.Process(MONEY_PATH)) == MONEY_OK

        def child():
            with make_api(sim.port) as own:
                if reply(own.Process(MONEY_PATH)) != MONEY_OK:
                    return False
            return reply(api.Process(MONEY_PATH)) == MONEY_OK and own.closed

        assert run_child(child) == 0
        assert reply(api.Process(MONEY_PATH)) == MONEY_OK


def test_a_fork_while_another_thread_holds_the_loader_lock(sim):
    # The binding's loader lock is held by another thread when the main thread forks. Were it
    # inherited held, the child's first construction (which loads the library through it) would
    # wait for ever for a thread that does not exist in the child.
    held, holding_for_s = threading.Event(), 0.3

    def holder():
        with _loader._lock:
            held.set()
            time.sleep(holding_for_s)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)

    def child():
        with make_api(sim.port) as api:
            return reply(api.Process(MONEY_PATH)) == MONEY_OK

    try:
        assert run_child(child) == 0
    finally:
        thread.join()


def test_an_inherited_asyncio_instance_completes_its_awaits_in_the_child(sim):
    async def one_call(api):
        return reply(await api.process(MONEY_PATH)) == MONEY_OK

    api = AsyncAPI("127.0.0.1", sim.port, "api", "secret", KEY1, KEY2)
    # Used before the fork, so that the parent's worker thread exists: the child has a copy of
    # the executor but not of its thread.
    assert asyncio.run(one_call(api))

    def child():
        async def calls():
            # Bounded, so that a hang fails here rather than at the child's deadline.
            return await asyncio.wait_for(one_call(api), 10) and await asyncio.wait_for(one_call(api), 10)
        return asyncio.run(calls())

    try:
        assert run_child(child) == 0
        # The parent's instance and its worker are untouched.
        assert asyncio.run(one_call(api))
    finally:
        asyncio.run(api.close())
