//! Reads and sets on the class tree. Settable: Name, account IP/MAC/Login/Password/PPP_IP, Money,
//! DefaultInterface, Tariff, Group, BlockReason, Blocked, CurrentSpeedLimitIn, Address, MobileTel,
//! FieldValue. Read-only: Accounts, Fields, FieldName. Methods: GetClients, AddAccount.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::Ipv4Addr;

use crate::error::ReplayError;
use crate::reply::{
    json_str, json_u64_list, shorten, Reply, BAD_ARGUMENTS, MALFORMED_VALUE, NO_GUID_LEFT,
    READ_ONLY, UNKNOWN_ACCOUNT, UNKNOWN_CLIENT, UNKNOWN_FIELD,
};
use crate::state::model::{Account, Client};
use crate::state::path::{AccountProp, FieldProp, Prop, Target};
use crate::state::store::Store;

/// A state change as the write-ahead log (state::wal) records it. Sets are absolute, and
/// AddAccount carries the GUID it was given, so replaying a log over a snapshot that already
/// holds it changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub enum Change {
    #[serde(rename = "set")]
    Set { path: String, value: Value },
    #[serde(rename = "add_account")]
    AddAccount { client: u64, account: Account },
}

/// Whether a leaf changes state: any non-null value except on GetClients (a search).
pub fn is_write(target: &Target, value: &Value) -> bool {
    !value.is_null() && !matches!(target, Target::GetClients)
}

fn no_client(c: u64) -> Reply {
    Reply::error(UNKNOWN_CLIENT, &format!("unknown client: {c}"))
}

fn no_account(a: u64) -> Reply {
    Reply::error(UNKNOWN_ACCOUNT, &format!("unknown account: {a}"))
}

fn no_field(f: u64) -> Reply {
    Reply::error(UNKNOWN_FIELD, &format!("unknown field: {f}"))
}

pub fn read(store: &Store, target: &Target, value: &Value) -> Reply {
    let (c, prop) = match *target {
        Target::GetClients => {
            return match value {
                Value::Null => Reply::value(json_u64_list(store.guids())),
                Value::String(s) => Reply::value(json_u64_list(store.search(s))),
                _ => Reply::error(
                    BAD_ARGUMENTS,
                    "GetClients takes null (all clients) or a search string",
                ),
            }
        }
        Target::Client(c, prop) => (c, prop),
    };
    let Some(client) = store.client(c) else {
        return no_client(c);
    };
    let s = |text: &str| Reply::value(json_str(text));
    match prop {
        Prop::Name => s(&client.name),
        Prop::Accounts => Reply::value(json_u64_list(client.accounts.iter().map(|a| a.guid))),
        Prop::AddAccount => add_account_usage(),
        Prop::Account(a, p) => match client.account(a) {
            None => no_account(a),
            Some(acc) => s(match p {
                AccountProp::Ip => &acc.ip,
                AccountProp::Mac => &acc.mac,
                AccountProp::Login => &acc.login,
                AccountProp::Password => &acc.password,
                AccountProp::PppIp => &acc.ppp_ip,
            }),
        },
        Prop::Money => s(&client.money),
        Prop::DefaultInterface => s(&client.default_interface),
        Prop::Tariff => s(&client.tariff),
        Prop::Group => s(&client.group),
        Prop::BlockReason => Reply::value(client.block_reason.to_string()),
        Prop::Blocked => Reply::value(client.blocked.to_string()),
        Prop::CurrentSpeedLimitIn => Reply::value(client.current_speed_limit_in.to_string()),
        Prop::Address => s(&client.address),
        Prop::MobileTel => s(&client.mobile_tel),
        Prop::Fields => Reply::value(json_u64_list(client.fields.iter().map(|f| f.id))),
        Prop::Field(f, p) => match client.field(f) {
            None => no_field(f),
            Some(field) => s(match p {
                FieldProp::Name => &field.name,
                FieldProp::Value => &field.value,
            }),
        },
    }
}

fn add_account_usage() -> Reply {
    Reply::error(
        BAD_ARGUMENTS,
        "AddAccount takes the argument list [IP, MAC, Login, Password]",
    )
}

fn malformed(what: &str) -> Reply {
    Reply::error(MALFORMED_VALUE, what)
}

fn is_ipv4(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

/// Six hex pairs joined by ':' or by '-', or "" for no MAC.
fn is_mac(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    if b.len() != 17 {
        return false;
    }
    let sep = b[2];
    (sep == b':' || sep == b'-')
        && b.chunks(3).all(|chunk| {
            chunk[0].is_ascii_hexdigit()
                && chunk[1].is_ascii_hexdigit()
                && (chunk.len() == 2 || chunk[2] == sep)
        })
}

/// A decimal amount such as "100.01" or "-15.5".
fn is_amount(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn string(value: &Value, name: &str) -> Result<String, Reply> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| malformed(&format!("{name} must be a string")))
}

fn ipv4(value: &Value, name: &str, empty_ok: bool) -> Result<String, Reply> {
    let s = string(value, name)?;
    if is_ipv4(&s) || (empty_ok && s.is_empty()) {
        Ok(s)
    } else {
        Err(malformed(&format!("{name} must be an IPv4 address")))
    }
}

fn mac(value: &Value) -> Result<String, Reply> {
    let s = string(value, "MAC")?;
    if is_mac(&s) {
        Ok(s)
    } else {
        Err(malformed(
            "MAC must look like AA:BB:CC:DD:EE:FF or be empty",
        ))
    }
}

fn money(value: &Value) -> Result<String, Reply> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(malformed("Money must be a number or a numeric string")),
    };
    if is_amount(&text) {
        Ok(text)
    } else {
        Err(malformed(
            "Money must be a decimal amount such as \"100.01\"",
        ))
    }
}

fn integer(value: &Value, name: &str, min: i64, max: i64) -> Result<i64, Reply> {
    value
        .as_i64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| malformed(&format!("{name} must be an integer from {min} to {max}")))
}

/// Applies a set or a method call. On success returns the change to log.
pub fn write(
    store: &mut Store,
    target: &Target,
    path: &str,
    value: &Value,
) -> Result<(Reply, Change), Reply> {
    let Target::Client(c, prop) = *target else {
        unreachable!("GetClients is never a write (see is_write)");
    };
    check_exists(store, c, prop)?;
    let set = |()| {
        let change = Change::Set {
            path: path.to_string(),
            value: value.clone(),
        };
        (Reply::ok(), change)
    };
    match prop {
        Prop::Accounts | Prop::Fields | Prop::Field(_, FieldProp::Name) => Err(Reply::error(
            READ_ONLY,
            &format!("property is read-only: {}", shorten(path)),
        )),
        Prop::AddAccount => add_account(store, c, value),
        Prop::Account(a, p) => set_account_prop(store, c, a, p, value).map(set),
        Prop::Field(f, FieldProp::Value) => set_field_value(store, c, f, value).map(set),
        _ => set_client_scalar(store, c, prop, value).map(set),
    }
}

/// Existence first (client, then account or field), looked up once: a generated client is
/// built on each lookup. So a read-only property of a missing field still says 204.
fn check_exists(store: &Store, c: u64, prop: Prop) -> Result<(), Reply> {
    let Some(client) = store.client(c) else {
        return Err(no_client(c));
    };
    match prop {
        Prop::Account(a, _) if client.account(a).is_none() => Err(no_account(a)),
        Prop::Field(f, _) if client.field(f).is_none() => Err(no_field(f)),
        _ => Ok(()),
    }
}

fn add_account(store: &mut Store, c: u64, value: &Value) -> Result<(Reply, Change), Reply> {
    let account = add_account_args(store, value)?;
    let guid = account.guid;
    client_mut(store, c)?.accounts.push(account.clone());
    Ok((
        Reply::value(guid.to_string()),
        Change::AddAccount { client: c, account },
    ))
}

fn set_account_prop(
    store: &mut Store,
    c: u64,
    a: u64,
    p: AccountProp,
    value: &Value,
) -> Result<(), Reply> {
    let v = match p {
        AccountProp::Ip => ipv4(value, "IP", false)?,
        AccountProp::PppIp => ipv4(value, "PPP_IP", true)?,
        AccountProp::Mac => mac(value)?,
        AccountProp::Login => string(value, "Login")?,
        AccountProp::Password => string(value, "Password")?,
    };
    let acc = client_mut(store, c)?
        .account_mut(a)
        .ok_or_else(|| no_account(a))?;
    *match p {
        AccountProp::Ip => &mut acc.ip,
        AccountProp::PppIp => &mut acc.ppp_ip,
        AccountProp::Mac => &mut acc.mac,
        AccountProp::Login => &mut acc.login,
        AccountProp::Password => &mut acc.password,
    } = v;
    Ok(())
}

fn set_field_value(store: &mut Store, c: u64, f: u64, value: &Value) -> Result<(), Reply> {
    let v = string(value, "FieldValue")?;
    client_mut(store, c)?
        .field_mut(f)
        .ok_or_else(|| no_field(f))?
        .value = v;
    Ok(())
}

fn client_mut(store: &mut Store, c: u64) -> Result<&mut Client, Reply> {
    store.client_mut(c).ok_or_else(|| no_client(c))
}

fn set_client_scalar(store: &mut Store, c: u64, prop: Prop, value: &Value) -> Result<(), Reply> {
    enum V {
        S(String),
        I(i64),
        B(bool),
    }
    let v = match prop {
        Prop::Name => V::S(string(value, "Name")?),
        Prop::Money => V::S(money(value)?),
        Prop::DefaultInterface => V::S(string(value, "DefaultInterface")?),
        Prop::Tariff => V::S(string(value, "Tariff")?),
        Prop::Group => V::S(string(value, "Group")?),
        Prop::Address => V::S(string(value, "Address")?),
        Prop::MobileTel => V::S(string(value, "MobileTel")?),
        Prop::BlockReason => V::I(integer(value, "BlockReason", -1, 10)?),
        Prop::CurrentSpeedLimitIn => V::I(integer(value, "CurrentSpeedLimitIn", 0, i64::MAX)?),
        Prop::Blocked => V::B(
            value
                .as_bool()
                .ok_or_else(|| malformed("Blocked must be true or false"))?,
        ),
        _ => unreachable!("handled by write"),
    };
    let client = client_mut(store, c)?;
    match (prop, v) {
        (Prop::Name, V::S(s)) => client.name = s,
        (Prop::Money, V::S(s)) => client.money = s,
        (Prop::DefaultInterface, V::S(s)) => client.default_interface = s,
        (Prop::Tariff, V::S(s)) => client.tariff = s,
        (Prop::Group, V::S(s)) => client.group = s,
        (Prop::Address, V::S(s)) => client.address = s,
        (Prop::MobileTel, V::S(s)) => client.mobile_tel = s,
        (Prop::BlockReason, V::I(n)) => client.block_reason = n,
        (Prop::CurrentSpeedLimitIn, V::I(n)) => client.current_speed_limit_in = n,
        (Prop::Blocked, V::B(b)) => client.blocked = b,
        _ => unreachable!("value kinds follow the property"),
    }
    Ok(())
}

fn add_account_args(store: &mut Store, value: &Value) -> Result<Account, Reply> {
    let Some(args) = value.as_array().filter(|a| a.len() == 4) else {
        return Err(add_account_usage());
    };
    if !args.iter().all(Value::is_string) {
        return Err(add_account_usage());
    }
    let ip = ipv4(&args[0], "IP", false)?;
    let mac = mac(&args[1])?;
    let login = string(&args[2], "Login")?;
    let password = string(&args[3], "Password")?;
    let guid = store.allocate_account_guid().ok_or_else(|| {
        Reply::error(
            NO_GUID_LEFT,
            "no account GUID left: the dataset already uses 18446744073709551615",
        )
    })?;
    Ok(Account {
        guid,
        ip,
        mac,
        login,
        password,
        ppp_ip: String::new(),
    })
}

/// Re-applies a logged change while loading the state file.
pub fn replay(store: &mut Store, change: &Change) -> Result<(), ReplayError> {
    match change {
        Change::Set { path, value } => {
            let refused = |reply: Reply| ReplayError::Refused {
                path: path.clone(),
                reason: reply.ret,
            };
            let target = crate::state::path::parse(path).map_err(refused)?;
            write(store, &target, path, value)
                .map(|_| ())
                .map_err(refused)
        }
        Change::AddAccount { client, account } => {
            store.reserve_account_guid(account.guid);
            let c = store
                .client_mut(*client)
                .ok_or(ReplayError::UnknownClient(*client))?;
            if c.account(account.guid).is_none() {
                c.accounts.push(account.clone());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_checks() {
        assert!(is_mac("aa:bb:cc:dd:ee:ff") && is_mac("AA-BB-CC-DD-EE-FF") && is_mac(""));
        assert!(
            !is_mac("aa:bb:cc:dd:ee")
                && !is_mac("aa:bb-cc:dd:ee:ff")
                && !is_mac("gg:bb:cc:dd:ee:ff")
        );
        assert!(is_amount("100.01") && is_amount("-15.5") && is_amount("7"));
        assert!(!is_amount("1e5") && !is_amount("1.") && !is_amount("") && !is_amount("-"));
        assert!(is_ipv4("192.168.25.110") && !is_ipv4("256.1.1.1") && !is_ipv4("::1"));
    }
}
