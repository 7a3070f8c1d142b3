"""Network faults injected between the binding and the simulator by `fault-proxy` (built with
`cargo build --release --examples`): each gets its documented code, the next call works, and no
set is applied twice (counted in the simulator's request trace). Also: the whole-call deadline,
non-JSON replies, and secrets kept out of the instance and of tracebacks."""

import json
import os
import subprocess
import time
import traceback
from pathlib import Path

import pytest

from conftest import LIB_PATH, make_api

PROXY_PATH = os.environ.get("MIKROBILL_FAULT_PROXY") or str(
    Path(LIB_PATH).parent / "examples" / "fault-proxy")

NAME = "API.Client.633824158637492.AutorizeInfo.Name"
SECRET_TEXT = "Py-S3cret-Pw"
SECRET_NUMBER = 73519284


class Proxy:
    """fault-proxy in front of a simulator; it exits when its stdin closes."""

    def __init__(self, upstream_port):
        if not os.path.isfile(PROXY_PATH):
            raise RuntimeError("fault-proxy not found at %s (cargo build --release --examples)" % PROXY_PATH)
        self.proc = subprocess.Popen([PROXY_PATH, "--upstream", str(upstream_port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().strip()
        assert first.startswith("listening on 127.0.0.1:"), first
        self.port = int(first.rsplit(":", 1)[1])

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer != "" and not answer.startswith("error"), (line, answer)
        return answer

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def proxy(fresh_sim):
    p = Proxy(fresh_sim.port)
    yield p
    p.stop()


def code(reply):
    return json.loads(reply)["code"]


def applied(sim, marker):
    return sum(marker in line for line in sim.trace_lines())


FAULTS = [
    ("pass", 0, 0),
    ("delay", 150, 0),
    ("bytewise", 0, 0),
    ("stall", 0, 9001),
    ("reset", 0, 9002),
    ("truncate", 0, 9002),
    ("lose", 0, 9002),
    ("duplicate", 0, 9012),
    ("late-duplicate", 50, 0),
    ("unsolicited", 0, 0),
]


def test_each_fault_gets_its_code_and_no_set_is_applied_twice(fresh_sim, proxy):
    api = make_api(proxy.port, io_timeout=0.4, call_timeout=3)
    for i, (fault, ms, expected) in enumerate(FAULTS):
        marker = "py-%d-%s" % (i, fault)
        proxy.command("fault %s %d" % (fault, ms))
        assert code(api.process(NAME, marker)) == expected, fault
        time.sleep(0.12)
        read = api.process(NAME)
        assert code(read) == 0, (fault, read)
        assert json.loads(read)["return"] == marker, fault
        assert applied(fresh_sim, marker) == 1, fault
    api.close()


def test_a_restart_between_calls_is_transparent(fresh_sim, proxy):
    api = make_api(proxy.port)
    assert code(api.process(NAME, "before restart")) == 0
    proxy.command("restart")
    time.sleep(0.05)
    assert json.loads(api.process(NAME))["return"] == "before restart"
    api.close()


def test_a_trickled_reply_ends_at_call_timeout(fresh_sim, proxy):
    api = make_api(proxy.port, io_timeout=1.0, call_timeout=1.2)
    proxy.command("fault trickle 100")
    started = time.monotonic()
    reply = api.process(NAME, "trickled")
    took = time.monotonic() - started
    assert code(reply) == 9001 and "call_timeout_ms" in reply, reply
    assert 1.1 <= took < 2.5, took
    assert code(api.process(NAME)) == 0
    api.close()


def test_a_stalled_call_is_cancelled_from_another_thread(fresh_sim, proxy):
    import threading
    from mikrobill import CancelToken
    api = make_api(proxy.port, io_timeout=20, call_timeout=30)
    assert code(api.process(NAME)) == 0
    proxy.command("fault stall")
    result = {}
    token = CancelToken()
    worker = threading.Thread(target=lambda: result.update(reply=api.process(NAME, "cancelled", cancel_token=token)))
    worker.start()
    time.sleep(0.3)
    cancelled_at = time.monotonic()
    token.cancel()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 1.0
    assert code(result["reply"]) == 9011, result
    assert json.loads(api.process(NAME))["return"] == "cancelled"
    api.close()


def test_password_stays_out_of_the_instance_and_of_traceback_locals(sim):
    api = make_api(sim.port, password="secret")
    assert "secret" not in repr(vars(api)) + repr(api)
    # The password still reaches the library, also for a handle rebuilt later (after a fork).
    assert code(api.process("API.GetClients")) == 0
    api._forget_inherited_handle()
    assert code(api.process("API.GetClients")) == 0
    api.close()
    # A constructor that fails leaves no secret in any frame's locals. The secrets are globals
    # (which tracebacks do not list), so that no frame of this test holds them either.
    from conftest import KEY1, KEY2
    from mikrobill import MikroBILL_API
    port = sim.port
    for make, exc_type in [
        (lambda: MikroBILL_API("127.0.0.1", port, "api", SECRET_TEXT, "AAEC", KEY2), Exception),
        (lambda: MikroBILL_API("127.0.0.1", port, "api", SECRET_NUMBER, KEY1, KEY2), TypeError),
        (lambda: MikroBILL_API("127.0.0.1", port, "api", SECRET_TEXT, KEY1, SECRET_NUMBER), TypeError),
    ]:
        rendered = render_failure(make, exc_type)
        assert "S3cret" not in rendered and "73519284" not in rendered, rendered


def render_failure(make, exc_type):
    try:
        make()
    except exc_type as exc:
        return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    pytest.fail("construction must fail")
