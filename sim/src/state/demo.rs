//! The built-in demo dataset, fixed by the shared contract (the manual's GUIDs, Cyrillic names).

use crate::state::model::{Account, Client, Dataset, Field};

fn account(guid: u64, ip: &str, mac: &str, login: &str, password: &str, ppp_ip: &str) -> Account {
    Account {
        guid,
        ip: ip.into(),
        mac: mac.into(),
        login: login.into(),
        password: password.into(),
        ppp_ip: ppp_ip.into(),
    }
}

fn field(id: u64, name: &str, value: &str) -> Field {
    Field {
        id,
        name: name.into(),
        value: value.into(),
    }
}

pub fn dataset() -> Dataset {
    let ivanov = Client {
        guid: 633824158637492,
        name: "Иванов Иван Иванович".into(),
        money: "100.01".into(),
        default_interface: "ether1".into(),
        tariff: "Базовый 100".into(),
        group: "Физлица".into(),
        block_reason: -1,
        blocked: false,
        current_speed_limit_in: 102400,
        address: "г. Москва, ул. Ленина, д. 1, кв. 2".into(),
        mobile_tel: "+79001234567".into(),
        accounts: vec![account(
            28236356495083,
            "1.1.1.1",
            "AA:AA:AA:AA:AA:AA",
            "ivanov",
            "pass1",
            "10.0.0.1",
        )],
        fields: vec![
            field(1, "Договор", "Д-0001"),
            field(2, "Паспорт", "4510 123456"),
        ],
    };
    let petrov = Client {
        guid: 9527563927532953,
        name: "Петров Пётр Петрович".into(),
        money: "-15.50".into(),
        default_interface: "ether2".into(),
        tariff: "Базовый 100".into(),
        group: "Физлица".into(),
        block_reason: 0,
        blocked: true,
        current_speed_limit_in: 0,
        address: "г. Москва, ул. Гагарина, д. 5, кв. 10".into(),
        mobile_tel: "+79007654321".into(),
        accounts: vec![
            account(
                835354904534456,
                "192.168.1.20",
                "00:11:22:33:44:55",
                "petrov",
                "pass2",
                "10.0.0.2",
            ),
            account(
                835354904534457,
                "192.168.1.21",
                "",
                "petrov2",
                "pass3",
                "10.0.0.3",
            ),
        ],
        fields: vec![
            field(1, "Договор", "Д-0002"),
            field(2, "Паспорт", "4511 654321"),
        ],
    };
    let sidorova = Client {
        guid: 4611686018427387905,
        name: "Сидорова Анна".into(),
        money: "0.00".into(),
        default_interface: "ether1".into(),
        tariff: "Бизнес 500".into(),
        group: "Юрлица".into(),
        block_reason: 3,
        blocked: true,
        current_speed_limit_in: 0,
        address: "г. Санкт-Петербург, Невский пр., д. 20".into(),
        mobile_tel: "+79110000001".into(),
        accounts: Vec::new(),
        fields: vec![field(1, "Договор", "Д-0003"), field(2, "Паспорт", "")],
    };
    Dataset {
        generate: 0,
        clients: vec![ivanov, petrov, sidorova],
    }
}
