"""fork() while other threads use the library, hundreds of times (gunicorn, multiprocessing and
php-fpm-like hosts fork whenever they like).

At each fork some parent thread is inside a call on a shared instance, constructing instances (the
library's handle registry, the binding's loader lock), making and cancelling tokens, or awaiting
on a mikrobill.aio instance. Every child must still complete, within a deadline, a call on the
inherited instance, a call on an instance of its own, and awaits through the inherited and a new
aio instance. A child that hangs dumps every thread's Python stack (faulthandler) into a file and
exits non-zero, and the parent fails with that dump, so a hang shows where it is (a ctypes call
into the library, or a lock of the binding's).
"""

import asyncio
import faulthandler
import json
import os
import signal
import threading
import time
import traceback
import warnings

from mikrobill import CancelToken, _loader
from mikrobill.aio import MikroBILL_API as AsyncAPI

from conftest import C1, KEY1, KEY2, make_api

FORKS = 200
# Children alive at once: enough to keep the machine busy, few enough not to starve the threads
# that make the forks land in interesting places.
IN_FLIGHT = 4
# Each call in a child has this deadline in the library (call_timeout); a child that is not done
# well after its four calls' deadlines is hung.
CALL_TIMEOUT_S = 3.0
CHILD_DEADLINE_S = 15.0
# Hung children cost CHILD_DEADLINE_S each: after this many the verdict is clear, so stop forking.
GIVE_UP_AFTER = 3
MONEY_PATH = "API.Client.%d.BillingInfo.Money" % C1
MONEY_OK = {"return": "100.01", "code": 0}



def ok(reply):
    return json.loads(reply) == MONEY_OK


class Busy:
    """Parent threads that keep the library and the binding's locks in use until stop()."""

    def __init__(self, port):
        self.port = port
        self.stopping = threading.Event()
        self.failures = []
        self.shared = make_api(port, call_timeout=CALL_TIMEOUT_S)
        self.aio_shared = AsyncAPI("127.0.0.1", port, "api", "secret", KEY1, KEY2, call_timeout=CALL_TIMEOUT_S)
        self.threads = [threading.Thread(target=self._guard, args=(body,), daemon=True) for body in (
            self._calls, self._calls, self._constructions, self._loads, self._tokens, self._awaits)]
        for thread in self.threads:
            thread.start()

    def _guard(self, body):
        try:
            while not self.stopping.is_set():
                body()
        except BaseException:
            self.failures.append(traceback.format_exc())

    def _calls(self):
        # The shared instance, used by two threads, so that a fork often lands inside its call.
        assert ok(self.shared.process(MONEY_PATH))

    def _constructions(self):
        # mb_connect (the library's registry) and get_library (the binding's loader lock).
        with make_api(self.port, call_timeout=CALL_TIMEOUT_S) as api:
            assert api.check_connection()

    def _loads(self):
        # Holds the loader lock as much as it can, so that forks land while it is held.
        for _ in range(100):
            _loader.get_library()

    def _tokens(self):
        token = CancelToken()
        token.cancel()
        del token

    def _awaits(self):
        async def some():
            for _ in range(10):
                assert ok(await self.aio_shared.process(MONEY_PATH))
        asyncio.run(some())

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self.threads), "a parent thread hung"
        self.shared.close()
        asyncio.run(self.aio_shared.close())


def child_body(busy, port):
    """Runs in the child: True when every call answered."""
    # The inherited instance (a parent thread may have been inside a call on it at the fork).
    if not ok(busy.shared.process(MONEY_PATH)):
        return False
    # An instance of the child's own: the loader lock and the library's registry.
    with make_api(port, call_timeout=CALL_TIMEOUT_S) as own:
        if not ok(own.process(MONEY_PATH)):
            return False

    async def awaits():
        # The inherited aio instance, whose worker thread stayed in the parent, and a new one.
        if not ok(await busy.aio_shared.process(MONEY_PATH)):
            return False
        async with AsyncAPI("127.0.0.1", port, "api", "secret", KEY1, KEY2, call_timeout=CALL_TIMEOUT_S) as fresh:
            return ok(await fresh.process(MONEY_PATH))

    return asyncio.run(awaits())


def spawn(busy, port, report):
    with warnings.catch_warnings():
        # Python 3.12+ warns that fork() in a multi-threaded process may deadlock the child:
        # exactly what this file checks does not happen.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        with open(report, "w") as out:
            # A hang past the deadline dumps every thread's stack and exits 1.
            faulthandler.dump_traceback_later(CHILD_DEADLINE_S, exit=True, file=out)
            try:
                code = 0 if child_body(busy, port) is True else 1
            except BaseException:
                traceback.print_exc(file=out)
            faulthandler.cancel_dump_traceback_later()
            out.flush()
    finally:
        # Never return into pytest in the child, and skip its atexit/finalizers: the inherited
        # fixtures belong to the parent.
        os._exit(code)


def reap(pid, report, give_up):
    """The child's exit code, or None if it is still running at give_up (then it is killed)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        if time.monotonic() > give_up:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


def test_hundreds_of_forks_while_threads_use_the_library(sim, tmp_path):
    started = time.monotonic()
    busy = Busy(sim.port)
    failed, running = [], []
    try:
        for n in range(FORKS):
            if len(failed) >= GIVE_UP_AFTER:
                break
            report = tmp_path / ("child-%d.txt" % n)
            running.append((spawn(busy, sim.port, report), report, time.monotonic()))
            while len(running) >= IN_FLIGHT or (n == FORKS - 1 and running):
                pid, report, forked_at = running.pop(0)
                # The child's own watchdog ends it at CHILD_DEADLINE_S; this bound is only for a
                # child so stuck that even that did not run.
                code = reap(pid, report, forked_at + CHILD_DEADLINE_S + 10)
                if code != 0:
                    failed.append((pid, code, report.read_text(errors="replace") if report.exists() else ""))
    finally:
        # Those still running after an early stop (or an error here): none is left behind.
        for pid, report, forked_at in running:
            code = reap(pid, report, forked_at + CHILD_DEADLINE_S + 10)
            if code != 0:
                failed.append((pid, code, report.read_text(errors="replace") if report.exists() else ""))
        busy.stop()
    took = time.monotonic() - started
    print("forks in %.1f s" % took)
    assert busy.failures == [], busy.failures[0]
    assert failed == [], "%d children failed (forking stopped after %d); the first: pid %d, exit %s\n%s" % (
        (len(failed), GIVE_UP_AFTER) + failed[0])
