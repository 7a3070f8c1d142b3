//! Every class-tree path, every set and every error code, through the project's own client.

use mikrobill_testkit::sim::*;
use serde_json::json;

fn c(path: &str) -> String {
    format!("API.Client.{IVANOV}.{path}")
}

fn acc(path: &str) -> String {
    format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.{IVANOV_ACC}.{path}")
}

#[test]
fn get_clients_lists_and_searches() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let all = call(&mut cl, "API.GetClients", None);
    // Integers, not strings, and not rounded through a double.
    assert_eq!(
        all,
        r#"{"return":[633824158637492,9527563927532953,4611686018427387905],"code":0}"#
    );
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", Some("\"Иванов\""))),
        json!([IVANOV])
    );
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", Some("\"PETROV2\""))),
        json!([PETROV])
    );
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", Some("\"д-0003\""))),
        json!([SIDOROVA])
    );
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", Some("\"no such text\""))),
        json!([])
    );
    assert_eq!(code(&call(&mut cl, "API.GetClients", Some("5"))), 207);
}

#[test]
fn every_demo_property_reads_as_the_contract_says() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let expect = [
        (c("AutorizeInfo.Name"), json!("Иванов Иван Иванович")),
        (c("AutorizeInfo.Accounts"), json!([IVANOV_ACC])),
        (acc("IP"), json!("1.1.1.1")),
        (acc("MAC"), json!("AA:AA:AA:AA:AA:AA")),
        (acc("Login"), json!("ivanov")),
        (acc("Password"), json!("pass1")),
        (acc("PPP_IP"), json!("10.0.0.1")),
        (c("BillingInfo.Money"), json!("100.01")),
        (c("BillingInfo.DefaultInterface"), json!("ether1")),
        (c("BillingInfo.Tariff"), json!("Базовый 100")),
        (c("BillingInfo.Group"), json!("Физлица")),
        (c("StatusInfo.BlockReason"), json!(-1)),
        (c("StatusInfo.Blocked"), json!(false)),
        (c("StatusInfo.CurrentSpeedLimitIn"), json!(102400)),
        (
            c("PersonalDataInfo.Address"),
            json!("г. Москва, ул. Ленина, д. 1, кв. 2"),
        ),
        (c("PersonalDataInfo.MobileTel"), json!("+79001234567")),
        (c("PersonalDataInfo.Fields"), json!([1, 2])),
        (c("PersonalDataInfo.Field.1.FieldName"), json!("Договор")),
        (c("PersonalDataInfo.Field.1.FieldValue"), json!("Д-0001")),
        (c("PersonalDataInfo.Field.2.FieldName"), json!("Паспорт")),
        (
            c("PersonalDataInfo.Field.2.FieldValue"),
            json!("4510 123456"),
        ),
    ];
    for (path, want) in expect {
        let reply = call(&mut cl, &path, None);
        assert_eq!(code(&reply), 0, "{path}: {reply}");
        assert_eq!(ret(&reply), want, "{path}");
        // The legacy spelling names the same node.
        let legacy = path.replacen("API.Client.", "API.Clients.", 1);
        assert_eq!(call(&mut cl, &legacy, None), reply, "{legacy}");
    }
    let petrov = format!("API.Client.{PETROV}");
    let reply = call(&mut cl, &format!("{petrov}.AutorizeInfo.Accounts"), None);
    assert_eq!(
        reply,
        r#"{"return":[835354904534456,835354904534457],"code":0}"#
    );
    assert_eq!(
        ret(&call(&mut cl, &format!("{petrov}.BillingInfo.Money"), None)),
        json!("-15.50")
    );
    assert_eq!(
        ret(&call(
            &mut cl,
            &format!("{petrov}.AutorizeInfo.Accounts.{PETROV_ACC2}.MAC"),
            None
        )),
        json!("")
    );
    let sid = format!("API.Client.{SIDOROVA}");
    assert_eq!(
        ret(&call(
            &mut cl,
            &format!("{sid}.StatusInfo.BlockReason"),
            None
        )),
        json!(3)
    );
    assert_eq!(
        ret(&call(
            &mut cl,
            &format!("{sid}.AutorizeInfo.Accounts"),
            None
        )),
        json!([])
    );
}

#[test]
fn every_settable_property_changes_state() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let sets = [
        (c("AutorizeInfo.Name"), r#""Иван/Ivan""#),
        (acc("IP"), r#""192.168.25.110""#),
        (acc("MAC"), r#""aa:bb:cc:dd:ee:ff""#),
        (acc("Login"), r#""ivan2""#),
        (acc("Password"), r#""new pass""#),
        (acc("PPP_IP"), r#""10.9.9.9""#),
        (c("BillingInfo.Money"), r#""250.75""#),
        (c("BillingInfo.DefaultInterface"), r#""ether9""#),
        (c("BillingInfo.Tariff"), r#""Бизнес 500""#),
        (c("BillingInfo.Group"), r#""Юрлица""#),
        (c("StatusInfo.BlockReason"), "5"),
        (c("StatusInfo.Blocked"), "true"),
        (c("StatusInfo.CurrentSpeedLimitIn"), "2048"),
        (c("PersonalDataInfo.Address"), r#""ул. Новая, 1""#),
        (c("PersonalDataInfo.MobileTel"), r#""+70000000000""#),
        (c("PersonalDataInfo.Field.2.FieldValue"), r#""0000 000000""#),
    ];
    for (path, value) in sets {
        assert_eq!(
            call(&mut cl, &path, Some(value)),
            r#"{"return":"OK","code":0}"#,
            "{path}"
        );
        let read = ret(&call(&mut cl, &path, None));
        assert_eq!(read, parse(value), "{path}");
    }
    // Money given as a JSON number keeps its text and reads back as a string.
    call(&mut cl, &c("BillingInfo.Money"), Some("12.5"));
    assert_eq!(
        ret(&call(&mut cl, &c("BillingInfo.Money"), None)),
        json!("12.5")
    );
    // A second connection sees the change: state is shared, not per session.
    let mut other = sim.client();
    assert_eq!(
        ret(&call(&mut other, &c("AutorizeInfo.Name"), None)),
        json!("Иван/Ivan")
    );
}

#[test]
fn add_account_returns_a_new_integer_guid() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let path = format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts.AddAccount");
    let reply = call(&mut cl, &path, Some(r#"["10.1.2.3","","anna","pw"]"#));
    assert_eq!(code(&reply), 0, "{reply}");
    let guid = ret(&reply).as_u64().expect("integer GUID");
    let accounts = ret(&call(
        &mut cl,
        &format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts"),
        None,
    ));
    assert_eq!(accounts, json!([guid]));
    let base = format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts.{guid}");
    assert_eq!(
        ret(&call(&mut cl, &format!("{base}.IP"), None)),
        json!("10.1.2.3")
    );
    assert_eq!(ret(&call(&mut cl, &format!("{base}.MAC"), None)), json!(""));
    assert_eq!(
        ret(&call(&mut cl, &format!("{base}.Login"), None)),
        json!("anna")
    );
    assert_eq!(
        ret(&call(&mut cl, &format!("{base}.Password"), None)),
        json!("pw")
    );
    let second = ret(&call(
        &mut cl,
        &path,
        Some(r#"["10.1.2.4","AA:BB:CC:DD:EE:01","anna2","pw"]"#),
    ));
    assert_ne!(second.as_u64().unwrap(), guid);

    for bad in [
        "null",
        r#"["10.1.2.3","","anna"]"#,
        r#"["10.1.2.3","","anna","pw","extra"]"#,
        r#"[1,2,3,4]"#,
        r#""10.1.2.3""#,
    ] {
        let value = (bad != "null").then_some(bad);
        assert_eq!(code(&call(&mut cl, &path, value)), 207, "{bad}");
    }
    assert_eq!(
        code(&call(&mut cl, &path, Some(r#"["999.1.2.3","","a","b"]"#))),
        206
    );
    assert_eq!(
        code(&call(&mut cl, &path, Some(r#"["10.1.2.3","zz","a","b"]"#))),
        206
    );
    // Failed calls added nothing.
    let accounts = ret(&call(
        &mut cl,
        &format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts"),
        None,
    ));
    assert_eq!(accounts.as_array().unwrap().len(), 2);
}

#[test]
fn every_error_code_with_a_description() {
    let sim = Sim::start(&[]);
    let mut cl = sim.client();
    let cases: Vec<(String, Option<&str>, i64)> = vec![
        ("API.Nope".into(), None, 201),
        (c("AutorizeInfo.Nick"), None, 201),
        (c("BillingInfo"), None, 201),
        ("API.Client.1.BillingInfo.Money".into(), None, 202),
        ("API.Client.abc.BillingInfo.Money".into(), None, 202),
        ("API.Client.1.BillingInfo.Money".into(), Some("\"1\""), 202),
        (c("AutorizeInfo.Accounts.1.IP"), None, 203),
        (c("AutorizeInfo.Accounts.1.IP"), Some("\"1.2.3.4\""), 203),
        (
            format!("API.Client.{PETROV}.AutorizeInfo.Accounts.{IVANOV_ACC}.IP"),
            None,
            203,
        ),
        (c("PersonalDataInfo.Field.9.FieldValue"), None, 204),
        (c("PersonalDataInfo.Field.9.FieldValue"), Some("\"x\""), 204),
        (c("PersonalDataInfo.Field.9.FieldName"), Some("\"x\""), 204),
        (c("AutorizeInfo.Accounts"), Some("\"x\""), 205),
        (c("PersonalDataInfo.Fields"), Some("\"x\""), 205),
        (c("PersonalDataInfo.Field.1.FieldName"), Some("\"x\""), 205),
        (acc("IP"), Some("\"1.2.3\""), 206),
        (acc("IP"), Some("\"::1\""), 206),
        (acc("IP"), Some("5"), 206),
        (acc("MAC"), Some("\"aa:bb:cc:dd:ee\""), 206),
        (acc("MAC"), Some("\"not a mac at all\""), 206),
        (acc("PPP_IP"), Some("\"x\""), 206),
        (c("AutorizeInfo.Name"), Some("5"), 206),
        (c("BillingInfo.Money"), Some("\"lots\""), 206),
        (c("BillingInfo.Money"), Some("true"), 206),
        (c("StatusInfo.Blocked"), Some("\"yes\""), 206),
        (c("StatusInfo.Blocked"), Some("1"), 206),
        (c("StatusInfo.BlockReason"), Some("11"), 206),
        (c("StatusInfo.BlockReason"), Some("-2"), 206),
        (c("StatusInfo.BlockReason"), Some("\"3\""), 206),
        (c("StatusInfo.BlockReason"), Some("1.5"), 206),
        (c("StatusInfo.CurrentSpeedLimitIn"), Some("-1"), 206),
        (c("PersonalDataInfo.Field.1.FieldValue"), Some("1"), 206),
        (c("AutorizeInfo.Accounts.AddAccount"), None, 207),
    ];
    for (path, value, want) in cases {
        let reply = call(&mut cl, &path, value);
        let v = parse(&reply);
        assert_eq!(v["code"].as_i64(), Some(want), "{path} {value:?}: {reply}");
        assert!(
            !v["return"].as_str().unwrap_or("").is_empty(),
            "{path}: no description in {reply}"
        );
    }
    // None of the refused sets changed anything.
    assert_eq!(ret(&call(&mut cl, &acc("IP"), None)), json!("1.1.1.1"));
    assert_eq!(
        ret(&call(&mut cl, &c("StatusInfo.BlockReason"), None)),
        json!(-1)
    );
}

#[test]
fn request_not_understood_is_208_and_the_session_survives() {
    let sim = Sim::start(&[]);
    let mut conn = sim.conn();
    for bad in [r#"{"value":null}"#, "[1,2]", "not json", r#"{"path":5}"#] {
        conn.send(bad);
        let reply = conn.recv().expect("a reply");
        assert_eq!(code(&reply), 208, "{bad}: {reply}");
    }
    let reply = conn.process("API.GetClients", None);
    assert_eq!(code(&reply), 0);
}

#[test]
fn auth_failures_reply_then_close() {
    let sim = Sim::start(&[]);
    for (login, password, want) in [
        ("api", "wrong", 101),
        ("nobody", "secret", 101),
        ("noapi", "secret", 102),
    ] {
        let mut conn = Conn::new(sim.tcp());
        let reply = conn.auth(login, password).expect("a refusal reply");
        assert_eq!(code(&reply), want, "{login}: {reply}");
        assert!(
            conn.closed_without_reply(),
            "{login}: connection stays open"
        );
        // Through the client the refusal reply passes through with the server's code.
        let mut cl = sim.client_as(login, password);
        let err = cl.process("API.GetClients", None).unwrap_err();
        assert_eq!(err.code(), want, "{}", err.to_json());
    }
}

#[test]
fn disconnect_replies_ok_then_closes() {
    let sim = Sim::start(&[]);
    let mut conn = sim.conn();
    assert_eq!(
        conn.process("DISCONNECT", None),
        r#"{"return":"OK","code":0}"#
    );
    assert!(conn.closed_without_reply());
    // The client's disconnect leaves it usable: the next call reconnects.
    let mut cl = sim.client();
    call(&mut cl, "API.GetClients", None);
    cl.disconnect();
    assert_eq!(code(&call(&mut cl, "API.GetClients", None)), 0);
    assert!(cl.check_connection());
}
