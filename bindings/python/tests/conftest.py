"""Shared fixtures: the native library, simulator processes and connected clients.

The simulators are started by the package's own pytest plugin (mikrobill.pytest_plugin's
SimulatorDouble), the launcher the package ships: it spawns each one in a session of its own,
keeps its pid under $MIKROBILL_PY_RUN_DIR while it runs (run-tests.sh kills what is listed there
however pytest ends) and stops leftovers at exit. Sim adds what only these tests need: a request
trace, freezing the process, and counting its sockets.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from mikrobill.pytest_plugin import SimulatorDouble

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
# The binding reads MIKROBILL_LIB itself, and the plugin MIKROBILL_SIM: point them at the build
# under test.
os.environ["MIKROBILL_LIB"] = LIB_PATH
os.environ["MIKROBILL_SIM"] = SIM_PATH


def pytest_sessionstart(session):
    missing = [p for p in (LIB_PATH, SIM_PATH) if not os.path.isfile(p)]
    if missing:
        raise pytest.UsageError(
            "missing build outputs (run `cargo build --release` or set MIKROBILL_LIB/MIKROBILL_SIM): "
            + ", ".join(missing))


class Sim(SimulatorDouble):
    """One simulator with the built-in demo configuration and dataset, no control API (so that
    its sockets are the listener and the clients' connections only), and a request trace."""

    def __init__(self, tmp_path, port=0, extra=()):
        self.trace = Path(tmp_path) / ("trace-%d.txt" % id(self))
        super().__init__(args=["--trace-requests", str(self.trace)] + list(extra), admin=False, port=port)

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
