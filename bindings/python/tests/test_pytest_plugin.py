"""The package's own pytest plugin: the mikrobill_sim fixture, as an extension's tests use it."""

import json
import time

import pytest

from mikrobill.pytest_plugin import ControlError, stub

PAY = [
    stub("API.Payments.*.Balance", "0", value=None, scenario="pay", required_state="Started"),
    stub("API.Payments.*.Add", value="150", scenario="pay", new_state="Paid"),
    stub("API.Payments.*.Balance", "150", value=None, scenario="pay", required_state="Paid"),
]


@pytest.mark.mikrobill_sim(stubs=PAY)
def test_an_undocumented_path_end_to_end_against_a_stub(mikrobill_sim):
    with mikrobill_sim.client() as api:
        assert json.loads(api.Process("API.Payments.633824158637492.Balance"))["return"] == "0"
        assert json.loads(api.Process("API.Payments.633824158637492.Add", "150"))["code"] == 0
        assert json.loads(api.Process("API.Payments.633824158637492.Balance"))["return"] == "150"
    paths = [e["path"] for e in mikrobill_sim.journal(path="API.Payments.*.*")]
    assert paths == ["API.Payments.633824158637492.%s" % p for p in ("Balance", "Add", "Balance")]
    counts = mikrobill_sim.counts()
    assert (counts["auths_granted"], counts["disconnects"]) == (1, 1)


@pytest.mark.mikrobill_sim(dataset={"clients": [{"GUID": 42, "Name": "Tiny", "Money": "5"}]})
def test_a_dataset_faults_and_reset(mikrobill_sim):
    with mikrobill_sim.client(io_timeout=1.0) as api:
        assert json.loads(api.Process("API.Client.42.BillingInfo.Money"))["return"] == "5"
        api.Process("API.Client.42.BillingInfo.Money", "7.5")
        assert mikrobill_sim.client_state(42)["Money"] == "7.5"
        mikrobill_sim.reset()
        assert mikrobill_sim.client_state(42)["Money"] == "5"

        fault = mikrobill_sim.add_fault("error", path="API.GetClients", code=301, text="busy")
        assert json.loads(api.Process("API.GetClients")) == {"return": "busy", "code": 301}
        mikrobill_sim.remove_fault(fault)
        mikrobill_sim.add_fault("no_reply", path="API.Client.*.BillingInfo.Money")
        # Transport failures come back as the library's error JSON, as in PHP.
        assert json.loads(api.Process("API.Client.42.BillingInfo.Money"))["code"] == 9001
        delay = mikrobill_sim.add_fault("delay", delay_ms=200)
        started = time.monotonic()
        assert json.loads(api.Process("API.GetClients"))["return"] == [42]
        assert time.monotonic() - started >= 0.2
        mikrobill_sim.remove_fault(delay)
    with pytest.raises(ControlError) as err:
        mikrobill_sim.client_state(43)
    assert err.value.status == 404


@pytest.mark.mikrobill_sim()
def test_stubs_added_at_run_time(mikrobill_sim):
    stub_id = mikrobill_sim.add_stub("API.Tariffs.*.Name", "Unlimited")
    with mikrobill_sim.client() as api:
        assert json.loads(api.Process("API.Tariffs.7.Name")) == {"return": "Unlimited", "code": 0}
        mikrobill_sim.remove_stub(stub_id)
        assert json.loads(api.Process("API.Tariffs.7.Name"))["code"] == 201
