//! Batch commands: every example of docs/protocol.md, at any depth, in document order.

use mikrobill_testkit::sim::*;
use serde_json::{json, Value};

fn batch(cl: &mut mikrobill::Client, path: &str, value: &str) -> Vec<Value> {
    let reply = call(cl, path, Some(value));
    match parse(&reply) {
        Value::Array(items) => items,
        other => panic!("not a batch reply: {other}"),
    }
}

/// Checks each element is exactly {"return","code","path"} in that order.
fn keys_in_order(reply: &str) {
    for item in parse(reply).as_array().unwrap() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["return", "code", "path"], "{reply}");
    }
}

#[test]
fn manual_read_example_is_byte_exact() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let reply = call(
        &mut cl,
        "API.Client.633824158637492.AutorizeInfo.Accounts",
        Some(r#"{"28236356495083":["IP","MAC"]}"#),
    );
    assert_eq!(
        reply,
        concat!(
            r#"[{"return":"1.1.1.1","code":0,"path":"API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.IP"},"#,
            r#"{"return":"AA:AA:AA:AA:AA:AA","code":0,"path":"API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.MAC"}]"#
        )
    );
}

#[test]
fn manual_set_example_sets_both() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let prefix = "API.Client.633824158637492.AutorizeInfo.Accounts";
    let reply = call(
        &mut cl,
        prefix,
        Some(r#"{"28236356495083":{"IP":"192.168.25.110","MAC":"aa:bb:cc:dd:ee:ff"}}"#),
    );
    keys_in_order(&reply);
    assert_eq!(
        parse(&reply),
        json!([
            {"return":"OK","code":0,"path":format!("{prefix}.28236356495083.IP")},
            {"return":"OK","code":0,"path":format!("{prefix}.28236356495083.MAC")},
        ])
    );
    let read = batch(&mut cl, prefix, r#"{"28236356495083":["IP","MAC"]}"#);
    assert_eq!(read[0]["return"], json!("192.168.25.110"));
    assert_eq!(read[1]["return"], json!("aa:bb:cc:dd:ee:ff"));
}

#[test]
fn manual_mixed_example_reads_one_client_and_sets_another() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let reply = call(
        &mut cl,
        "API.Client",
        Some(
            r#"{"0":"633824158637492.BillingInfo.Money","9527563927532953.AutorizeInfo.Accounts.835354904534456":{"MAC":"aa:bb:cc:dd:ee:ff"}}"#,
        ),
    );
    keys_in_order(&reply);
    assert_eq!(
        parse(&reply),
        json!([
            {"return":"100.01","code":0,"path":"API.Client.633824158637492.BillingInfo.Money"},
            {"return":"OK","code":0,"path":"API.Client.9527563927532953.AutorizeInfo.Accounts.835354904534456.MAC"},
        ])
    );
    let mac = call(
        &mut cl,
        "API.Client.9527563927532953.AutorizeInfo.Accounts.835354904534456.MAC",
        None,
    );
    assert_eq!(ret(&mac), json!("aa:bb:cc:dd:ee:ff"));
}

#[test]
fn nested_form_equals_flat_form() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let nested = batch(
        &mut cl,
        &format!("API.Client.{IVANOV}"),
        &format!(r#"{{"AutorizeInfo":{{"Accounts":{{"{IVANOV_ACC}":{{"IP":"10.0.0.7"}}}}}}}}"#),
    );
    let flat = batch(
        &mut cl,
        &format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.{IVANOV_ACC}"),
        r#"{"IP":"10.0.0.7"}"#,
    );
    assert_eq!(nested, flat);
    assert_eq!(
        nested,
        vec![json!({"return":"OK","code":0,
            "path":format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.{IVANOV_ACC}.IP")})]
    );
}

#[test]
fn deep_mixed_batch_keeps_document_order_and_per_leaf_codes() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let value = format!(
        r#"{{"{IVANOV}":{{"AutorizeInfo":["Name","Nope"],"BillingInfo":{{"Money":"1.00","Tariff":null}},
            "AutorizeInfo.Accounts":{{"AddAccount":["10.2.2.2","","x","y"]}},
            "StatusInfo":{{"Blocked":"bad"}}}},
          "1":"{PETROV}.StatusInfo.BlockReason",
          "{SIDOROVA}.PersonalDataInfo":["Fields",{{"Field.1":["FieldName"]}}],
          "5.BillingInfo.Money":"2"}}"#
    );
    let items = batch(&mut cl, "API.Client", &value);
    let got: Vec<(String, i64)> = items
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_string(),
                i["code"].as_i64().unwrap(),
            )
        })
        .collect();
    let p = |s: &str| format!("API.Client.{s}");
    assert_eq!(
        got,
        vec![
            (p(&format!("{IVANOV}.AutorizeInfo.Name")), 0),
            (p(&format!("{IVANOV}.AutorizeInfo.Nope")), 201),
            (p(&format!("{IVANOV}.BillingInfo.Money")), 0),
            (p(&format!("{IVANOV}.BillingInfo.Tariff")), 0),
            (p(&format!("{IVANOV}.AutorizeInfo.Accounts.AddAccount")), 0),
            (p(&format!("{IVANOV}.StatusInfo.Blocked")), 206),
            (p(&format!("{PETROV}.StatusInfo.BlockReason")), 0),
            (p(&format!("{SIDOROVA}.PersonalDataInfo.Fields")), 0),
            (
                p(&format!("{SIDOROVA}.PersonalDataInfo.Field.1.FieldName")),
                0
            ),
            (p("5.BillingInfo.Money"), 202),
        ]
    );
    assert_eq!(items[0]["return"], json!("Иванов Иван Иванович"));
    assert_eq!(items[2]["return"], json!("OK"));
    assert_eq!(items[3]["return"], json!("Базовый 100"));
    assert!(items[4]["return"].as_u64().is_some());
    assert_eq!(items[6]["return"], json!(0));
    assert_eq!(items[7]["return"], json!([1, 2]));
    assert_eq!(items[8]["return"], json!("Договор"));
    assert_eq!(
        ret(&call(
            &mut cl,
            &p(&format!("{IVANOV}.BillingInfo.Money")),
            None
        )),
        json!("1.00")
    );
}

#[test]
fn empty_batches_and_search_inside_a_batch() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    assert_eq!(call(&mut cl, "API.Client", Some("[]")), "[]");
    assert_eq!(call(&mut cl, "API.Client", Some("{}")), "[]");
    let items = batch(&mut cl, "API", r#"{"GetClients":"Петров"}"#);
    assert_eq!(
        items,
        vec![json!({"return":[PETROV],"code":0,"path":"API.GetClients"})]
    );
}
