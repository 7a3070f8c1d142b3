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
``stubs``, ``faults`` (lists, as in the simulator's config), ``args`` (more command-line flags).
"""

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
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional

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
    """A running simulator with its control API (``--admin``) on free loopback ports."""

    def __init__(self, dataset: Optional[Dict[str, Any]] = None,
                 stubs: Iterable[Dict[str, Any]] = (), faults: Iterable[Dict[str, Any]] = (),
                 args: Iterable[str] = (), binary: Optional[str] = None) -> None:
        self._dir = tempfile.mkdtemp(prefix="mikrobill-sim-")
        config = {
            "key1": DEMO_KEY1, "key2": DEMO_KEY2,
            "cashiers": [{"login": DEMO_LOGIN, "password": DEMO_PASSWORD}],
            "stubs": list(stubs), "faults": list(faults),
        }
        config_path = Path(self._dir) / "config.json"
        config_path.write_text(json.dumps(config))
        cmd = [binary or simulator_binary(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
               "--config", str(config_path)]
        if dataset is not None:
            dataset_path = Path(self._dir) / "dataset.json"
            dataset_path.write_text(json.dumps(dataset))
            cmd += ["--dataset", str(dataset_path)]
        cmd += list(args)
        self._stderr = open(Path(self._dir) / "stderr.txt", "wb")
        # Unbuffered: the two startup lines are read one by one with select, which a buffered
        # reader would defeat by swallowing the second line along with the first.
        self.proc: "subprocess.Popen[bytes]" = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._run_dir = os.environ.get("MIKROBILL_PY_RUN_DIR")
        if self._run_dir:
            # The binding's run-tests.sh stops whatever is listed there if pytest dies.
            Path(self._run_dir, "sim-%d.pid" % self.proc.pid).write_text("%d\n" % self.proc.pid)
        try:
            self.port = int(self._line(r"listening on 127\.0\.0\.1:(\d+)"))
            self.admin_url = "http://%s/" % self._line(r"admin on http://([0-9.:]+)/")
        except Exception:
            self.stop()
            raise
        threading.Thread(target=self._stdout().read, daemon=True).start()

    def _stdout(self) -> IO[bytes]:
        out = self.proc.stdout
        assert out is not None, "started with stdout=PIPE"
        return out

    def _line(self, pattern: str) -> str:
        out = self._stdout()
        ready, _, _ = select.select([out], [], [], _STARTUP_GUARD_S)
        line = out.readline().decode("utf-8", "replace") if ready else ""
        match = re.fullmatch(pattern + r"\n", line)
        if not match:
            raise RuntimeError("simulator did not start: line %r, stderr: %s" % (
                line, (Path(self._dir) / "stderr.txt").read_text(errors="replace")))
        return match.group(1)

    # --- the client side -----------------------------------------------------------------
    def client(self, login: str = DEMO_LOGIN, password: str = DEMO_PASSWORD,
               **options: Any) -> MikroBILL_API:
        """A MikroBILL_API connected to this simulator (use it in a ``with`` block)."""
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        if self._run_dir:
            try:
                Path(self._run_dir, "sim-%d.pid" % self.proc.pid).unlink()
            except FileNotFoundError:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mikrobill_sim(dataset=None, stubs=(), faults=(), args=()): "
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
