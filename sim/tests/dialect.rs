//! A core that answers a little differently: --batch-paths normalised, --reply-encoding cp1251,
//! and a cashier whose password is raw bytes (password_base64, --cashier LOGIN:BASE64).

use base64::Engine as _;
use mikrobill_testkit::sim::*;

const ACCOUNTS: &str = "API.Client.633824158637492.AutorizeInfo.Accounts";
const READ_IP_MAC: &str = r#"{"28236356495083":["IP","MAC"]}"#;

fn batch_reply(args: &[&str]) -> Vec<u8> {
    let sim = Sim::start(args);
    sim.client()
        .process_bytes(ACCOUNTS, Some(READ_IP_MAC), None)
        .unwrap()
}

#[test]
fn normalised_batch_paths_differ_only_in_the_paths() {
    let exact = String::from_utf8(batch_reply(&["--batch-paths", "exact"])).unwrap();
    let normalised = String::from_utf8(batch_reply(&["--batch-paths", "normalised"])).unwrap();
    let echoed = "API.Clients.0633824158637492.AutorizeInfo.Accounts.028236356495083";
    assert_eq!(
        normalised,
        concat!(
            r#"[{"return":"1.1.1.1","code":0,"path":"API.Clients.0633824158637492.AutorizeInfo.Accounts.028236356495083.ip"},"#,
            r#"{"return":"AA:AA:AA:AA:AA:AA","code":0,"path":"API.Clients.0633824158637492.AutorizeInfo.Accounts.028236356495083.mac"}]"#
        )
    );
    // Everything but the paths is the same reply, and no path is under the request's text.
    let as_exact = normalised
        .replace(
            &format!("{echoed}.ip"),
            &format!("{ACCOUNTS}.28236356495083.IP"),
        )
        .replace(
            &format!("{echoed}.mac"),
            &format!("{ACCOUNTS}.28236356495083.MAC"),
        );
    assert_eq!(as_exact, exact);
    for item in parse(&normalised).as_array().unwrap() {
        assert!(
            !item["path"].as_str().unwrap().starts_with(ACCOUNTS),
            "{item}"
        );
    }
    // A single (non-batch) request has no path to echo: its reply is unchanged.
    let sim = Sim::start(&["--batch-paths", "normalised"]);
    let money = call(
        &mut sim.client(),
        "API.Client.633824158637492.BillingInfo.Money",
        None,
    );
    assert_eq!(money, r#"{"return":"100.01","code":0}"#);
}

#[test]
fn cp1251_replies_carry_cyrillic_as_cp1251_bytes() {
    let path = "API.Client.633824158637492.AutorizeInfo.Name";
    let utf8 = Sim::start(&[])
        .client()
        .process_bytes(path, None, None)
        .unwrap();
    // The default writes Cyrillic as \uXXXX escapes, as PHP's json_encode does.
    assert_eq!(
        String::from_utf8(utf8).unwrap(),
        r#"{"return":"\u0418\u0432\u0430\u043d\u043e\u0432 \u0418\u0432\u0430\u043d \u0418\u0432\u0430\u043d\u043e\u0432\u0438\u0447","code":0}"#
    );
    let sim = Sim::start(&["--reply-encoding", "cp1251"]);
    let mut client = sim.client();
    let reply = client.process_bytes(path, None, None).unwrap();
    assert!(std::str::from_utf8(&reply).is_err(), "{reply:?}");
    let (name, _, malformed) = encoding_rs::WINDOWS_1251.decode(&reply);
    assert!(!malformed);
    assert_eq!(name, r#"{"return":"Иванов Иван Иванович","code":0}"#);
    // A batch reply too, and an error reply's ASCII text stays as it was.
    let batch = client
        .process_bytes(
            "API.Client.633824158637492",
            Some(r#"["AutorizeInfo.Name","BillingInfo.Money"]"#),
            None,
        )
        .unwrap();
    assert_eq!(
        encoding_rs::WINDOWS_1251.decode(&batch).0,
        concat!(
            r#"[{"return":"Иванов Иван Иванович","code":0,"path":"API.Client.633824158637492.AutorizeInfo.Name"},"#,
            r#"{"return":"100.01","code":0,"path":"API.Client.633824158637492.BillingInfo.Money"}]"#
        )
    );
    let unknown = client.process_bytes("API.Nothing", None, None).unwrap();
    assert_eq!(code(std::str::from_utf8(&unknown).unwrap()), 201);
}

/// "пароль" in CP1251: not UTF-8.
fn cp1251_password() -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode("пароль");
    assert!(!unmappable);
    bytes.into_owned()
}

fn client_with_password(port: u16, login: &str, password: Vec<u8>) -> mikrobill::Client {
    let mut config = mikrobill::Config::new("127.0.0.1", port, login, "", KEY1, KEY2);
    config.password = password;
    mikrobill::Client::new(config).unwrap()
}

fn assert_only_the_bytes_log_in(sim: &Sim, login: &str) {
    let money = "API.Client.633824158637492.BillingInfo.Money";
    let mut right = client_with_password(sim.port, login, cp1251_password());
    assert_eq!(
        call(&mut right, money, None),
        r#"{"return":"100.01","code":0}"#
    );
    // The same word in UTF-8 is another password.
    let mut utf8 = client_with_password(sim.port, login, "пароль".as_bytes().to_vec());
    let e = utf8.process(money, None).unwrap_err();
    assert_eq!(e.code(), 101, "{e}");
}

#[test]
fn a_cp1251_password_from_the_config_logs_in_by_its_bytes() {
    let dir = TempDir::new("sim-dialect-config");
    let config = dir.file("config.json");
    let b64 = base64::engine::general_purpose::STANDARD.encode(cp1251_password());
    std::fs::write(
        &config,
        format!(
            r#"{{"key1":"{KEY1}","key2":"{KEY2}","cashiers":[{{"login":"kassa","password_base64":"{b64}"}}]}}"#
        ),
    )
    .unwrap();
    let sim = Sim::start(&["--config", &config]);
    assert_only_the_bytes_log_in(&sim, "kassa");
}

#[test]
fn a_cp1251_password_from_the_cashier_flag_logs_in_by_its_bytes() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(cp1251_password());
    let sim = Sim::start(&["--cashier", &format!("kassa:{b64}")]);
    assert_only_the_bytes_log_in(&sim, "kassa");
    // The demo cashier is still there beside it.
    let mut demo = sim.client();
    assert_eq!(
        code(&call(
            &mut demo,
            "API.Client.633824158637492.BillingInfo.Money",
            None
        )),
        0
    );
}

#[test]
fn a_bad_raw_password_is_refused_without_showing_it() {
    let (status, stderr) = start_fails(&["--cashier", "kassa:zz9%secret"]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("--cashier") && !stderr.contains("zz9%secret"),
        "{stderr}"
    );
    let dir = TempDir::new("sim-dialect-bad");
    let config = dir.file("config.json");
    for (cashier, says) in [
        (
            r#"{"login":"k","password_base64":"zz9%secret"}"#,
            "not valid base64",
        ),
        (
            r#"{"login":"k","password":"a","password_base64":"YQ=="}"#,
            "not both",
        ),
        (r#"{"login":"k"}"#, "is required"),
    ] {
        std::fs::write(
            &config,
            format!(r#"{{"key1":"{KEY1}","key2":"{KEY2}","cashiers":[{cashier}]}}"#),
        )
        .unwrap();
        let (status, stderr) = start_fails(&["--config", &config]);
        assert_eq!(status, Some(1), "{stderr}");
        assert!(
            stderr.contains(says) && !stderr.contains("zz9%secret"),
            "{stderr}"
        );
    }
}
