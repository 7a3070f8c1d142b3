"""Every example of the protocol manual, through the binding against the simulator."""

import json

from conftest import A1, A2, A3, C1, C2, C3

P1 = "API.Client.%d" % C1
ACC1 = "%s.AutorizeInfo.Accounts.%d" % (P1, A1)


def ok_value(reply):
    parsed = json.loads(reply)
    assert parsed["code"] == 0, reply
    return parsed["return"]


def test_get_clients_all(api):
    reply = api.Process("API.GetClients")
    assert ok_value(reply) == [C1, C2, C3]
    # GUIDs above 2**53 arrive as exact integer text, not rounded through a double.
    assert "4611686018427387905" in reply


def test_get_clients_search(api):
    assert ok_value(api.Process("API.GetClients", "Иванов")) == [C1]
    assert ok_value(api.process("API.GetClients", "иванов")) == [C1]
    assert ok_value(api.process("API.GetClients", "no such client anywhere")) == []


def test_client_reads(api):
    expected = {
        "AutorizeInfo.Name": "Иванов Иван Иванович",
        "AutorizeInfo.Accounts": [A1],
        "BillingInfo.Money": "100.01",
        "BillingInfo.DefaultInterface": "ether1",
        "BillingInfo.Tariff": "Базовый 100",
        "BillingInfo.Group": "Физлица",
        "StatusInfo.BlockReason": -1,
        "StatusInfo.Blocked": False,
        "StatusInfo.CurrentSpeedLimitIn": 102400,
        "PersonalDataInfo.Address": "г. Москва, ул. Ленина, д. 1, кв. 2",
        "PersonalDataInfo.MobileTel": "+79001234567",
        "PersonalDataInfo.Fields": [1, 2],
        "PersonalDataInfo.Field.1.FieldName": "Договор",
        "PersonalDataInfo.Field.1.FieldValue": "Д-0001",
        "PersonalDataInfo.Field.2.FieldName": "Паспорт",
        "PersonalDataInfo.Field.2.FieldValue": "4510 123456",
    }
    got = {prop: ok_value(api.Process("%s.%s" % (P1, prop))) for prop in expected}
    assert got == expected


def test_account_reads(api):
    expected = {"IP": "1.1.1.1", "MAC": "AA:AA:AA:AA:AA:AA", "Login": "ivanov", "Password": "pass1",
                "PPP_IP": "10.0.0.1"}
    assert {k: ok_value(api.Process("%s.%s" % (ACC1, k))) for k in expected} == expected


def test_other_demo_clients(api):
    p2 = "API.Client.%d" % C2
    assert ok_value(api.Process(p2 + ".AutorizeInfo.Name")) == "Петров Пётр Петрович"
    assert ok_value(api.Process(p2 + ".BillingInfo.Money")) == "-15.50"
    assert ok_value(api.Process(p2 + ".AutorizeInfo.Accounts")) == [A2, A3]
    assert ok_value(api.Process("%s.AutorizeInfo.Accounts.%d.MAC" % (p2, A3))) == ""
    p3 = "API.Client.%d" % C3
    assert ok_value(api.Process(p3 + ".StatusInfo.BlockReason")) == 3
    assert ok_value(api.Process(p3 + ".AutorizeInfo.Accounts")) == []


def test_old_clients_spelling(api):
    assert ok_value(api.Process("API.Clients.%d.BillingInfo.Money" % C1)) == "100.01"


def test_set_then_read(fresh_api, fresh_sim):
    path = P1 + ".AutorizeInfo.Name"
    assert json.loads(fresh_api.Process(path, "Иван/Ivan")) == {"return": "OK", "code": 0}
    # The exact plaintext of the protocol's test vector: PHP escaping applied by the library.
    assert fresh_sim.trace_lines()[-1] == (
        '{"path":"API.Client.633824158637492.AutorizeInfo.Name",'
        '"value":"\\u0418\\u0432\\u0430\\u043d\\/Ivan"}')
    assert ok_value(fresh_api.Process(path)) == "Иван/Ivan"
    assert json.loads(fresh_api.process(ACC1 + ".IP", "10.1.2.3")) == {"return": "OK", "code": 0}
    assert ok_value(fresh_api.process(ACC1 + ".IP")) == "10.1.2.3"


def test_batch_read(api):
    reply = api.Process("%s.AutorizeInfo.Accounts" % P1, {str(A1): ["IP", "MAC"]})
    assert json.loads(reply) == [
        {"return": "1.1.1.1", "code": 0, "path": ACC1 + ".IP"},
        {"return": "AA:AA:AA:AA:AA:AA", "code": 0, "path": ACC1 + ".MAC"},
    ]


def test_batch_set(fresh_api):
    reply = fresh_api.Process("%s.AutorizeInfo.Accounts" % P1,
                              {A1: {"IP": "192.168.25.110", "MAC": "aa:bb:cc:dd:ee:ff"}})
    assert json.loads(reply) == [
        {"return": "OK", "code": 0, "path": ACC1 + ".IP"},
        {"return": "OK", "code": 0, "path": ACC1 + ".MAC"},
    ]
    assert ok_value(fresh_api.Process(ACC1 + ".IP")) == "192.168.25.110"
    assert ok_value(fresh_api.Process(ACC1 + ".MAC")).lower() == "aa:bb:cc:dd:ee:ff"


def test_batch_mixed_read_and_set(fresh_api, fresh_sim):
    acc2 = "%d.AutorizeInfo.Accounts.%d" % (C2, A2)
    value = {"0": "%d.BillingInfo.Money" % C1, acc2: {"MAC": "aa:bb:cc:dd:ee:ff"}}
    reply = fresh_api.Process("API.Client", value)
    assert json.loads(reply) == [
        {"return": "100.01", "code": 0, "path": P1 + ".BillingInfo.Money"},
        {"return": "OK", "code": 0, "path": "API.Client." + acc2 + ".MAC"},
    ]
    assert fresh_sim.trace_lines()[-1] == (
        '{"path":"API.Client","value":{"0":"633824158637492.BillingInfo.Money",'
        '"9527563927532953.AutorizeInfo.Accounts.835354904534456":{"MAC":"aa:bb:cc:dd:ee:ff"}}}')
    assert ok_value(fresh_api.Process("API.Client." + acc2 + ".MAC")).lower() == "aa:bb:cc:dd:ee:ff"


def test_batch_nested_equals_flat(fresh_api):
    nested = fresh_api.Process(P1, {"AutorizeInfo": {"Accounts": {str(A1): {"IP": "172.16.0.9"}}}})
    flat = fresh_api.Process(ACC1, {"IP": "172.16.0.9"})
    assert json.loads(nested) == json.loads(flat) == [{"return": "OK", "code": 0, "path": ACC1 + ".IP"}]


def test_add_account(fresh_api):
    accounts = P1 + ".AutorizeInfo.Accounts"
    reply = fresh_api.Process(accounts + ".AddAccount", ["10.9.8.7", "", "newuser", "newpass"])
    assert json.loads(reply)["code"] == 0, reply
    guids = ok_value(fresh_api.Process(accounts))
    assert len(guids) == 2 and guids[0] == A1
    new = "%s.%d" % (accounts, guids[1])
    assert ok_value(fresh_api.Process(new + ".IP")) == "10.9.8.7"
    assert ok_value(fresh_api.Process(new + ".Login")) == "newuser"
    assert ok_value(fresh_api.Process(new + ".Password")) == "newpass"


def test_unknown_path_error_passes_through(api):
    parsed = json.loads(api.Process("API.Client.%d.NoSuchThing" % C1))
    assert parsed["code"] == 201
    parsed = json.loads(api.Process("API.Client.1.AutorizeInfo.Name"))
    assert parsed["code"] == 202


def test_check_connection_and_close_reconnect(fresh_api, fresh_sim):
    assert fresh_api.CheckConnection() is True
    assert fresh_api.check_connection() is True
    fresh_api.Close()
    assert fresh_sim.trace_lines()[-1] == '{"path":"DISCONNECT","value":null}'
    # Like PHP, the object stays usable after Close(): the next call connects again.
    assert ok_value(fresh_api.Process(P1 + ".BillingInfo.Money")) == "100.01"
    fresh_api.disconnect()
    assert ok_value(fresh_api.process(P1 + ".BillingInfo.Money")) == "100.01"


def test_release_says_disconnect(fresh_sim):
    from conftest import make_api
    with make_api(fresh_sim.port) as api:
        assert ok_value(api.Process(P1 + ".BillingInfo.Money")) == "100.01"
    assert fresh_sim.trace_lines() == ['{"path":"API.Client.633824158637492.BillingInfo.Money","value":null}',
                                       '{"path":"DISCONNECT","value":null}']
