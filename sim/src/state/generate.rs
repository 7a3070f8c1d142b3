//! Synthetic clients for `--generate N`. A generated client is a pure function of its index, so
//! a million of them cost no memory: only clients that are changed get materialized (see store.rs).

use crate::error::DatasetError;
use crate::state::model::{Account, Client, Field};

/// First generated client GUID; above 2^53 on purpose so GUIDs that pass through a double break.
pub const CLIENT_BASE: u64 = 10_000_000_000_000_000;
/// Generated account GUIDs are `ACCOUNT_BASE + 2 * index + j`.
pub const ACCOUNT_BASE: u64 = 20_000_000_000_000_000;

const SURNAMES: [&str; 8] = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
];
const NAMES: [&str; 8] = [
    "Алексей",
    "Борис",
    "Виктор",
    "Григорий",
    "Дмитрий",
    "Евгений",
    "Олег",
    "Сергей",
];
// Lowercase twins of the lists above, so a search needs no per-client case folding.
const SURNAMES_LOWER: [&str; 8] = [
    "иванов",
    "смирнов",
    "кузнецов",
    "попов",
    "васильев",
    "соколов",
    "михайлов",
    "новиков",
];
const NAMES_LOWER: [&str; 8] = [
    "алексей",
    "борис",
    "виктор",
    "григорий",
    "дмитрий",
    "евгений",
    "олег",
    "сергей",
];
const TARIFFS: [&str; 4] = ["Базовый 100", "Стандарт 200", "Бизнес 500", "Эконом 50"];
const GROUPS: [&str; 3] = ["Физлица", "Юрлица", "Сотрудники"];
const SPEEDS: [i64; 3] = [10240, 51200, 102400];

/// Largest `--generate` count: the generated client and account GUIDs must fit in u64.
pub const MAX_COUNT: u64 = (u64::MAX - ACCOUNT_BASE) / 2;

/// Refuses a count whose GUIDs would overflow (checked, so no wrap-around in release builds).
pub fn check_count(count: u64) -> Result<(), DatasetError> {
    let fits = CLIENT_BASE.checked_add(count).is_some()
        && count
            .checked_mul(2)
            .and_then(|n| n.checked_add(ACCOUNT_BASE))
            .is_some();
    if fits && count <= MAX_COUNT {
        Ok(())
    } else {
        Err(DatasetError::TooManyGenerated {
            count,
            max: MAX_COUNT,
        })
    }
}

pub fn client_guid(index: u64) -> u64 {
    CLIENT_BASE + index
}

/// The index of a generated client GUID, if it lies in the range of `count` clients.
pub fn index_of(guid: u64, count: u64) -> Option<u64> {
    let index = guid.checked_sub(CLIENT_BASE)?;
    (index < count).then_some(index)
}

fn account_count(index: u64) -> u64 {
    1 + index % 2
}

/// One more than the largest account GUID the generator hands out for `count` clients.
pub fn next_account_guid(count: u64) -> u64 {
    if count == 0 {
        0
    } else {
        ACCOUNT_BASE + 2 * count
    }
}

fn name(index: u64) -> String {
    let surname = SURNAMES[(index % 8) as usize];
    let first = NAMES[((index / 8) % 8) as usize];
    format!("{surname} {first} {index}")
}

fn login(index: u64, j: u64) -> String {
    if j == 0 {
        format!("user{index}")
    } else {
        format!("user{index}b")
    }
}

fn contract(index: u64) -> String {
    format!("Д-{index:07}")
}

fn dotted(prefix: u8, n: u64) -> String {
    format!(
        "{prefix}.{}.{}.{}",
        (n >> 16) & 255,
        (n >> 8) & 255,
        n & 255
    )
}

fn account(index: u64, j: u64) -> Account {
    let n = 2 * index + j;
    let b = n.to_be_bytes();
    Account {
        guid: ACCOUNT_BASE + n,
        ip: dotted(10, n),
        mac: format!("02:00:{:02X}:{:02X}:{:02X}:{:02X}", b[4], b[5], b[6], b[7]),
        login: login(index, j),
        password: format!("pw{:08x}", n.wrapping_mul(2654435761) & 0xffff_ffff),
        ppp_ip: dotted(100, n),
    }
}

pub fn client(index: u64) -> Client {
    let negative = index % 10 == 9;
    let units = index.wrapping_mul(37) % 5000; // wrapping: identical below u64::MAX / 37
    let money = if negative {
        format!("-{}.{:02}", units % 100, index % 100)
    } else {
        format!("{units}.{:02}", index % 100)
    };
    Client {
        guid: client_guid(index),
        name: name(index),
        money,
        default_interface: format!("ether{}", 1 + index % 4),
        tariff: TARIFFS[(index % 4) as usize].into(),
        group: GROUPS[(index % 3) as usize].into(),
        block_reason: if negative { 0 } else { -1 },
        blocked: negative,
        current_speed_limit_in: SPEEDS[(index % 3) as usize],
        address: format!(
            "г. Москва, ул. Садовая, д. {}, кв. {}",
            1 + index % 200,
            1 + index % 300
        ),
        mobile_tel: format!("+7900{:07}", index % 10_000_000),
        accounts: (0..account_count(index))
            .map(|j| account(index, j))
            .collect(),
        fields: vec![
            Field {
                id: 1,
                name: "Договор".into(),
                value: contract(index),
            },
            Field {
                id: 2,
                name: "Паспорт".into(),
                value: format!("{} {:06}", 4500 + index % 100, index % 1_000_000),
            },
        ],
    }
}

/// `client(index).matches(needle)` without building the client: only the searched strings are
/// written, lowercase, into a reused buffer, so a search over a million clients stays fast.
pub fn matches(index: u64, needle: &str, buf: &mut String) -> bool {
    use std::fmt::Write;
    let check = |buf: &mut String, args: std::fmt::Arguments| {
        buf.clear();
        let _ = buf.write_fmt(args);
        buf.contains(needle)
    };
    let surname = SURNAMES_LOWER[(index % 8) as usize];
    let first = NAMES_LOWER[((index / 8) % 8) as usize];
    check(buf, format_args!("{surname} {first} {index}"))
        || check(buf, format_args!("user{index}"))
        || (account_count(index) > 1 && check(buf, format_args!("user{index}b")))
        || check(buf, format_args!("д-{index:07}"))
        || check(
            buf,
            format_args!("{} {:06}", 4500 + index % 100, index % 1_000_000),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_guids_exceed_2_pow_53() {
        assert_eq!(client(5), client(5));
        assert!(client_guid(0) > (1u64 << 53));
        assert_eq!(index_of(client_guid(7), 8), Some(7));
        assert_eq!(index_of(client_guid(8), 8), None);
        assert_eq!(index_of(5, 8), None);
    }

    #[test]
    fn fast_search_agrees_with_the_full_client() {
        let mut buf = String::new();
        for needle in [
            "иванов",
            "user1",
            "user3b",
            "д-00000",
            "4507",
            "сергей 6",
            "zz",
            "",
        ] {
            for i in 0..80 {
                assert_eq!(
                    matches(i, needle, &mut buf),
                    client(i).matches(needle),
                    "{needle} {i}"
                );
            }
        }
        assert_eq!(SURNAMES.map(str::to_lowercase), SURNAMES_LOWER);
        assert_eq!(NAMES.map(str::to_lowercase), NAMES_LOWER);
    }

    #[test]
    fn account_guids_are_unique_and_below_the_next_one() {
        let next = next_account_guid(10);
        let mut seen = std::collections::HashSet::new();
        for i in 0..10 {
            for a in client(i).accounts {
                assert!(a.guid < next);
                assert!(seen.insert(a.guid));
            }
        }
    }
}
