"""Close() and close() differ on purpose, and this file pins the difference down.

Close() is the PHP method: DISCONNECT, and the object stays usable (the next call reconnects).
close() is Python's resource protocol (also `with`): DISCONNECT, and the handle is released for
good, so later calls raise MikroBILLError with Code.CLOSED_HANDLE. Both say DISCONNECT and wait
for its reply; only close() ends the object's life.
"""

import json

import pytest

from conftest import C1, make_api
from mikrobill import Code, MikroBILLError

DISCONNECT_REQUEST = '{"path":"DISCONNECT","value":null}'
MONEY_PATH = "API.Client.%d.BillingInfo.Money" % C1
MONEY_REQUEST = '{"path":"%s","value":null}' % MONEY_PATH


def test_php_Close_disconnects_and_the_object_stays_usable(fresh_sim):
    api = make_api(fresh_sim.port)
    try:
        assert json.loads(api.Process(MONEY_PATH))["code"] == 0
        api.Close()
        assert not api.closed
        assert fresh_sim.trace_lines() == [MONEY_REQUEST, DISCONNECT_REQUEST]
        # The next call connects again on its own.
        assert json.loads(api.Process(MONEY_PATH))["code"] == 0
        api.Close()
        api.Close()  # with no connection open there is nothing to say: no second DISCONNECT
        assert fresh_sim.trace_lines() == [MONEY_REQUEST, DISCONNECT_REQUEST] * 2
    finally:
        api.close()


def test_python_close_disconnects_and_releases_for_good(fresh_sim):
    api = make_api(fresh_sim.port)
    assert json.loads(api.Process(MONEY_PATH))["code"] == 0
    api.close()
    assert api.closed
    assert fresh_sim.trace_lines() == [MONEY_REQUEST, DISCONNECT_REQUEST]
    for call in (lambda: api.Process(MONEY_PATH), api.Close, api.CheckConnection):
        with pytest.raises(MikroBILLError) as info:
            call()
        assert info.value.code == Code.CLOSED_HANDLE
        assert json.loads(info.value.json) == {
            "return": "MikroBILL_API handle is closed", "result": "MikroBILL_API handle is closed",
            "code": 9007}
    api.close()  # idempotent
    assert fresh_sim.trace_lines() == [MONEY_REQUEST, DISCONNECT_REQUEST]
