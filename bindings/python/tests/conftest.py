"""Shared fixtures: the native library, simulator processes and connected clients.

The simulator is spawned with --listen 127.0.0.1:0 (or a fixed port to test restarts); its first
stdout line "listening on 127.0.0.1:PORT" gives the port.

Each simulator runs in a session of its own, so a signal aimed at the test run's process group
(a terminal's Ctrl-C, a CI runner's hangup) does not kill it behind the fixtures' back. Whoever
stops the run must then be able to find it: while it runs, its pid is in a file
sim-<pid>.pid under $MIKROBILL_PY_RUN_DIR (run-tests.sh sets it and kills what is listed there
when pytest ends in any way, even by SIGKILL), and an atexit hook stops whatever the fixtures
did not.
"""

import atexit
import os
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent

KEY1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY2 = "EBESExQVFhcYGRobHB0eHw=="
# Valid AES-256 key and IV that are not the simulator's: it cannot decrypt the auth frame.
WRONG_KEY1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
WRONG_KEY2 = "AgICAgICAgICAgICAgICAg=="

C1 = 633824158637492
C2 = 9527563927532953
C3 = 4611686018427387905
A1 = 28236356495083
A2 = 835354904534456
A3 = 835354904534457

LIB_PATH = os.environ.get("MIKROBILL_LIB") or str(REPO / "target" / "release" / "libmikrobill.so")
SIM_PATH = os.environ.get("MIKROBILL_SIM") or str(REPO / "target" / "release" / "mikrobill-sim")
# The binding reads MIKROBILL_LIB itself; point it at the library under test.
os.environ["MIKROBILL_LIB"] = LIB_PATH

# Only guards against a simulator that never prints its first line; nothing is asserted on time.
_STARTUP_GUARD_S = 60

RUN_DIR = os.environ.get("MIKROBILL_PY_RUN_DIR")
# Simulators started by this process and not stopped yet.
_running = set()


def _pid_file(pid):
    return Path(RUN_DIR) / ("sim-%d.pid" % pid)


@atexit.register
def _stop_leftover_simulators():
    # Forked test children leave through os._exit and never get here, so this only ever runs in
    # the pytest process that started the simulators.
    for leftover in list(_running):
        leftover.stop()


def pytest_sessionstart(session):
    missing = [p for p in (LIB_PATH, SIM_PATH) if not os.path.isfile(p)]
    if missing:
        raise pytest.UsageError(
            "missing build outputs (run `cargo build --release` or set MIKROBILL_LIB/MIKROBILL_SIM): "
            + ", ".join(missing))


class Sim:
    """One simulator process."""

    def __init__(self, tmp_path, port=0, extra=()):
        self.tmp_path = Path(tmp_path)
        self.trace = self.tmp_path / ("trace-%d.txt" % id(self))
        self.stderr_path = self.tmp_path / ("sim-stderr-%d.txt" % id(self))
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.start(port)

    def start(self, port=0):
        args = [SIM_PATH, "--listen", "127.0.0.1:%d" % port, "--trace-requests", str(self.trace)] + self.extra
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        _running.add(self)
        if RUN_DIR:
            _pid_file(self.proc.pid).write_text("%d\n" % self.proc.pid)
        ready, _, _ = select.select([self.proc.stdout], [], [], _STARTUP_GUARD_S)
        line = self.proc.stdout.readline().decode("utf-8", "replace") if ready else ""
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        if not match:
            self.stop()
            raise RuntimeError("simulator did not start: first line %r, stderr: %s"
                               % (line, self.stderr_path.read_text(errors="replace")))
        self.port = int(match.group(1))
        # Keep draining stdout so a chatty simulator can never block on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._ended()

    def kill(self):
        """Abrupt death (SIGKILL), as a crashed core would look."""
        self.proc.kill()
        self.proc.wait()
        self._ended()

    def _ended(self):
        # Only after wait(): until the process is reaped its pid cannot be reused, so the pid file
        # never names a stranger.
        self._stderr.close()
        _running.discard(self)
        if RUN_DIR and self.proc is not None:
            try:
                _pid_file(self.proc.pid).unlink()
            except FileNotFoundError:
                pass

    def suspend(self):
        """Freeze the simulator (SIGSTOP), as a hung server looks: its connections stay open and
        the kernel still takes bytes, but nothing answers. Always pair with resume()."""
        self.proc.send_signal(signal.SIGSTOP)
        # kill() returns before every thread has stopped; until they have, a request sent now may
        # still be answered. Wait for the kernel to report each thread stopped (state T).
        give_up = time.monotonic() + 20.0
        while not self._all_threads_stopped():
            assert time.monotonic() < give_up, "the simulator did not stop after SIGSTOP"
            time.sleep(0.005)

    def _all_threads_stopped(self):
        task_dir = "/proc/%d/task" % self.proc.pid
        for tid in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, tid, "stat")) as stat:
                    # The state follows the parenthesised command name, which may contain spaces.
                    state = stat.read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                continue  # the thread ended meanwhile
            if state not in ("T", "t"):
                return False
        return True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def open_sockets(self):
        """How many sockets the simulator holds open (its listener included), from /proc."""
        fd_dir = "/proc/%d/fd" % self.proc.pid
        count = 0
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except FileNotFoundError:
                continue  # closed between listing and reading: it no longer counts
            if target.startswith("socket:"):
                count += 1
        return count

    def wait_for_open_sockets(self, count, deadline_s=20.0):
        """Wait until the simulator holds exactly `count` sockets. It closes a connection only after
        reading it to its end, so from then on every request the closed connections carried is in
        the trace: the point at which the absence of a request can be asserted."""
        give_up = time.monotonic() + deadline_s
        while True:
            now = self.open_sockets()
            if now == count:
                return
            assert time.monotonic() < give_up, (
                "simulator still holds %d sockets, not %d, after %s s" % (now, count, deadline_s))
            # Polls a condition that has no notification; the deadline above bounds it.
            time.sleep(0.01)

    def trace_lines(self):
        if not self.trace.exists():
            return []
        return self.trace.read_bytes().decode("utf-8").splitlines()


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    """A simulator shared by read-only tests."""
    s = Sim(tmp_path_factory.mktemp("sim"))
    yield s
    s.stop()


@pytest.fixture
def fresh_sim(tmp_path):
    """A simulator of its own, for tests that change state or read the request trace."""
    s = Sim(tmp_path)
    yield s
    s.stop()


def make_api(port, login="api", password="secret", key1=KEY1, key2=KEY2, **kw):
    from mikrobill import MikroBILL_API
    return MikroBILL_API("127.0.0.1", port, login, password, key1, key2, **kw)


@pytest.fixture
def api(sim):
    a = make_api(sim.port)
    yield a
    a.close()


@pytest.fixture
def fresh_api(fresh_sim):
    a = make_api(fresh_sim.port)
    yield a
    a.close()
