"""CancelToken: the library's cancel tokens, which stop the calls they are given and no other."""

import json
import threading
import time

from mikrobill import CancelToken, Code

from conftest import C1, make_api

MONEY_PATH = "API.Client.%d.BillingInfo.Money" % C1
MONEY_REQUEST = '{"path":"%s","value":null}' % MONEY_PATH
NAME_PATH = "API.Client.%d.AutorizeInfo.Name" % C1
# Bounds waits that only a broken build would exceed.
GUARD_S = 20.0


def code(reply):
    return json.loads(reply)["code"]


def test_a_call_given_a_cancelled_token_returns_9011_at_once_and_sends_nothing(fresh_sim):
    token = CancelToken()
    token.cancel()
    assert token.cancelled
    with make_api(fresh_sim.port) as api:
        for call in (lambda: api.process(NAME_PATH, "never sent", cancel_token=token),
                     lambda: api.process_json(NAME_PATH, '"never sent"', cancel_token=token)):
            started = time.monotonic()
            reply = json.loads(call())
            assert reply["code"] == Code.CANCELLED, reply
            assert reply["return"] == reply["result"]
            assert time.monotonic() - started < 1.0
        assert api.check_connection(cancel_token=token) is False
        # The instance is unaffected: the same call without the token goes through.
        assert code(api.process(MONEY_PATH)) == 0
    assert "never sent" not in fresh_sim.trace.read_text(encoding="utf-8")
    assert fresh_sim.trace_lines() == [MONEY_REQUEST, '{"path":"DISCONNECT","value":null}']


def test_a_token_stops_only_the_call_it_was_given(fresh_sim):
    # Two threads on one instance, each call with its own token; the first is held by a frozen
    # server when its token is cancelled. The second, queued behind it on the same handle, is
    # not cancelled: it gets its reply once the server answers again.
    with make_api(fresh_sim.port, io_timeout=120.0, call_timeout=120.0) as api:
        assert api.check_connection()
        first, second = CancelToken(), CancelToken()
        replies = {}
        fresh_sim.suspend()
        try:
            threads = [
                threading.Thread(target=lambda: replies.update(first=api.process(NAME_PATH, cancel_token=first))),
                threading.Thread(target=lambda: replies.update(second=api.process(MONEY_PATH, cancel_token=second))),
            ]
            threads[0].start()
            time.sleep(0.2)
            threads[1].start()
            time.sleep(0.2)
            first.cancel()
            threads[0].join(GUARD_S)
            assert not threads[0].is_alive()
            assert code(replies["first"]) == Code.CANCELLED
            assert "second" not in replies
        finally:
            fresh_sim.resume()
        threads[1].join(GUARD_S)
        assert json.loads(replies["second"]) == {"return": "100.01", "code": 0}
        assert not second.cancelled


def test_cancelling_a_token_twice_is_harmless_and_tokens_are_independent():
    a, b = CancelToken(), CancelToken()
    assert a.native != b.native and a.native > 0 and b.native > 0
    a.cancel()
    a.cancel()
    assert a.cancelled and not b.cancelled
    assert "cancelled" in repr(a) and "armed" in repr(b)


def test_a_freed_token_is_refused_by_the_library():
    from mikrobill._loader import get_library
    lib = get_library()
    token = CancelToken()
    number = token.native
    del token
    # Freed with the object: the library no longer knows the number.
    assert lib.mb_cancel_token_cancel(number) == Code.INVALID_ARGUMENT
