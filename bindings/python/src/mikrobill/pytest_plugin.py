"""pytest plugin: a ``mikrobill_sim`` fixture that runs the MikroBILL core simulator as a test
double for the duration of one test.

Installed with the package (entry point ``pytest11``), so a project that depends on ``mikrobill``
gets the fixture without any conftest code::

    import json, pytest
    from mikrobill.pytest_plugin import stub

    @pytest.mark.mikrobill_sim(stubs=[stub("API.Tariffs.*.Name", "Unlimited")])
    def test_tariff_name(mikrobill_sim):
        with mikrobill_sim.client() as api:
            reply = json.loads(api.Process("API.Tariffs.7.Name"))
        assert (reply["return"], reply["code"]) == ("Unlimited", 0)
        assert mikrobill_sim.journal()[0]["path"] == "API.Tariffs.7.Name"

The simulator binary is ``$MIKROBILL_SIM`` or ``mikrobill-sim`` on ``PATH``; a missing binary
fails the test (it is never skipped). Marker arguments: ``dataset`` (a dataset dict),
``stubs``, ``faults`` (lists, as in the simulator's config), ``args`` (more command-line flags),
``admin`` (False: no control API), ``port`` (a fixed port instead of a free one).
"""

import atexit
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Set, Union

import pytest

from ._api import MikroBILL_API

DEMO_KEY1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
DEMO_KEY2 = "EBESExQVFhcYGRobHB0eHw=="
DEMO_LOGIN = "api"
DEMO_PASSWORD = "secret"

_STARTUP_GUARD_S = 60


def stub(path: str, ret: Any = "OK", code: int = 0, **more: Any) -> Dict[str, Any]:
    """A stub spec for the marker or add_stub: ``more`` takes value, scenario, required_state and
    new_state (``value=None`` matches reads only; leave it out to match any value)."""
    spec: Dict[str, Any] = dict(path=path, code=code, **more)
    spec["return"] = ret
    return spec


def simulator_binary() -> str:
    """The simulator to run: $MIKROBILL_SIM, else mikrobill-sim on PATH."""
    path = os.environ.get("MIKROBILL_SIM") or shutil.which("mikrobill-sim")
    if not path or not os.path.isfile(path):
        raise RuntimeError("mikrobill-sim not found: set MIKROBILL_SIM or put it on PATH")
    return path


class ControlError(Exception):
    """The control API answered with an error status; ``status`` and ``body`` say which."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__("%d: %s" % (status, body))
        self.status = status
        self.body = body


class SimulatorDouble:
    """A running simulator on a free loopback port, with its control API (``--admin``) on another
    unless ``admin=False``.

    The one launcher of the simulator for the package's users and for the binding's own tests.
    Without ``stubs`` or ``faults`` the simulator runs its built-in demo configuration (the same
    keys and ``api``/``secret`` cashier as DEMO_*, and more cashiers); with them, a configuration
    of DEMO_* and those.

    Each simulator runs in a session of its own, so a signal aimed at the test run's process group
    (a terminal's Ctrl-C, a CI runner's hangup) does not kill it behind the fixture's back. Whoever
    stops the run can still find it: while it runs, its pid is in a file ``sim-<pid>.pid`` under
    ``$MIKROBILL_PY_RUN_DIR`` when that is set (the binding's run-tests.sh kills what is listed
    there when pytest ends in any way, even by SIGKILL), and an atexit hook stops whatever was not
    stopped.
    """

    def __init__(self, dataset: Optional[Dict[str, Any]] = None,
                 stubs: Iterable[Dict[str, Any]] = (), faults: Iterable[Dict[str, Any]] = (),
                 args: Iterable[str] = (), binary: Optional[str] = None, admin: bool = True,
                 port: int = 0) -> None:
        self._binary = binary or simulator_binary()
        stubs, faults = list(stubs), list(faults)
        self._config = None if not (stubs or faults) else {
            "key1": DEMO_KEY1, "key2": DEMO_KEY2,
            "cashiers": [{"login": DEMO_LOGIN, "password": DEMO_PASSWORD}],
            "stubs": stubs, "faults": faults,
        }
        self._dataset = dataset
        self._args = list(args)
        self._admin = admin
        self._dir: Optional[str] = None
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.port = 0
        self.admin_url = ""
        self.start(port)

    def start(self, port: int = 0) -> None:
        """Starts the simulator (again, after stop() or kill()), on ``port`` (0 = any free one);
        ``self.port`` is the port it listens on. State changed by requests starts afresh unless
        ``args`` gave it a ``--state`` file."""
        assert self.proc is None or self.proc.poll() is not None, "the simulator is running"
        self._dir = tempfile.mkdtemp(prefix="mikrobill-sim-")
        cmd = [self._binary, "--listen", "127.0.0.1:%d" % port]
        if self._admin:
            cmd += ["--admin", "127.0.0.1:0"]
        if self._config is not None:
            config_path = Path(self._dir) / "config.json"
            config_path.write_text(json.dumps(self._config))
            cmd += ["--config", str(config_path)]
        if self._dataset is not None:
            dataset_path = Path(self._dir) / "dataset.json"
            dataset_path.write_text(json.dumps(self._dataset))
            cmd += ["--dataset", str(dataset_path)]
        cmd += self._args
        self._stderr = open(Path(self._dir) / "stderr.txt", "wb")
        # Unbuffered: the two startup lines are read one by one with select, which a buffered
        # reader would defeat by swallowing the second line along with the first.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        _running.add(self)
        if _RUN_DIR:
            _pid_file(self.proc.pid).write_text("%d\n" % self.proc.pid)
        try:
            self.port = int(self._line(r"listening on 127\.0\.0\.1:(\d+)"))
            if self._admin:
                self.admin_url = "http://%s/" % self._line(r"admin on http://([0-9.:]+)/")
        except Exception:
            self.stop()
            raise
        # Keep draining stdout so a chatty simulator can never block on a full pipe.
        threading.Thread(target=self._stdout().read, daemon=True).start()

    def _stdout(self) -> IO[bytes]:
        assert self.proc is not None and self.proc.stdout is not None, "started with stdout=PIPE"
        return self.proc.stdout

    def _line(self, pattern: str) -> str:
        out = self._stdout()
        ready, _, _ = select.select([out], [], [], _STARTUP_GUARD_S)
        line = out.readline().decode("utf-8", "replace") if ready else ""
        match = re.fullmatch(pattern + r"\n", line)
        if not match:
            assert self._dir is not None
            raise RuntimeError("simulator did not start: line %r, stderr: %s" % (
                line, (Path(self._dir) / "stderr.txt").read_text(errors="replace")))
        return match.group(1)

    # --- the client side -----------------------------------------------------------------
    def client(self, login: str = DEMO_LOGIN, password: Union[str, bytes] = DEMO_PASSWORD,
               **options: Any) -> MikroBILL_API:
        """A MikroBILL_API connected to this simulator (use it in a ``with`` block); a password
        given as bytes is sent as its raw bytes (see MikroBILL_API)."""
        return MikroBILL_API("127.0.0.1", self.port, login, password, DEMO_KEY1, DEMO_KEY2,
                             **options)

    # --- the control API -----------------------------------------------------------------
    def call(self, method: str, route: str, body: Any = None) -> Any:
        """One control-API call; returns the decoded JSON, raises ControlError on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(urllib.parse.urljoin(self.admin_url, route), data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            raise ControlError(e.code, e.read().decode(errors="replace")) from None

    def journal(self, path: Optional[str] = None, since: Optional[int] = None,
                limit: int = 10000) -> List[Dict[str, Any]]:
        """Journalled requests, oldest first; ``path`` is a pattern (``*`` = one segment)."""
        query: Dict[str, Any] = {"limit": limit}
        if path is not None:
            query["path"] = path
        if since is not None:
            query["since"] = since
        entries: List[Dict[str, Any]] = self.call(
            "GET", "api/journal?" + urllib.parse.urlencode(query))["entries"]
        return entries

    def clear_journal(self) -> None:
        self.call("DELETE", "api/journal")

    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = self.call("GET", "api/counts")
        return counts

    def client_state(self, guid: int) -> Dict[str, Any]:
        state: Dict[str, Any] = self.call("GET", "api/clients/%s" % guid)
        return state

    def reset(self) -> None:
        self.call("POST", "api/reset")

    def add_stub(self, path: str, ret: Any = "OK", code: int = 0, **more: Any) -> int:
        """Adds a stub (``value=``, ``scenario=``, ``required_state=``, ``new_state=``)."""
        stub_id: int = self.call("POST", "api/stubs", stub(path, ret, code, **more))["id"]
        return stub_id

    def remove_stub(self, stub_id: int) -> None:
        self.call("DELETE", "api/stubs/%d" % stub_id)

    def add_fault(self, action: str, path: Optional[str] = None, **more: Any) -> int:
        """Adds a fault: action is delay, no_reply, close, truncate or error."""
        spec: Dict[str, Any] = dict(action=action, **more)
        if path is not None:
            spec["path"] = path
        fault_id: int = self.call("POST", "api/faults", spec)["id"]
        return fault_id

    def remove_fault(self, fault_id: int) -> None:
        self.call("DELETE", "api/faults/%d" % fault_id)

    # --- the process ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stops the simulator cleanly (SIGTERM; SIGKILL if it has not ended within 30 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._ended()

    def kill(self) -> None:
        """Abrupt death (SIGKILL), as a crashed core looks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._ended()

    def _ended(self) -> None:
        # Only after wait(): until the process is reaped its pid cannot be reused, so the pid file
        # never names a stranger.
        if self.proc is None:
            return
        self._stderr.close()
        _running.discard(self)
        if _RUN_DIR:
            try:
                _pid_file(self.proc.pid).unlink()
            except FileNotFoundError:
                pass
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


_RUN_DIR = os.environ.get("MIKROBILL_PY_RUN_DIR")
# Simulators started by this process and not stopped yet.
_running: Set[SimulatorDouble] = set()


def _pid_file(pid: int) -> Path:
    assert _RUN_DIR is not None
    return Path(_RUN_DIR) / ("sim-%d.pid" % pid)


@atexit.register
def _stop_leftover_simulators() -> None:
    # A forked child leaves through os._exit and never gets here, so this only runs in the
    # process that started the simulators.
    for leftover in list(_running):
        leftover.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mikrobill_sim(dataset=None, stubs=(), faults=(), args=(), admin=True, port=0): "
                   "how the mikrobill_sim fixture starts the simulator")


@pytest.fixture
def mikrobill_sim(request: pytest.FixtureRequest) -> Iterator[SimulatorDouble]:
    """A simulator for this test: ``.client()``, ``.journal()``, ``.counts()``, ``.add_stub()``,
    ``.add_fault()``, ``.reset()``; stopped when the test ends."""
    marker = request.node.get_closest_marker("mikrobill_sim")
    kwargs: Dict[str, Any] = dict(marker.kwargs) if marker else {}
    sim = SimulatorDouble(**kwargs)
    try:
        yield sim
    finally:
        sim.stop()
