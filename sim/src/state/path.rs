//! Parsing a dotted request path into the class-tree node it names.

use crate::reply::{shorten, Reply, UNKNOWN_ACCOUNT, UNKNOWN_CLIENT, UNKNOWN_FIELD, UNKNOWN_PATH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    GetClients,
    Client(u64, Prop),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prop {
    Name,
    Accounts,
    AddAccount,
    Account(u64, AccountProp),
    Money,
    DefaultInterface,
    Tariff,
    Group,
    BlockReason,
    Blocked,
    CurrentSpeedLimitIn,
    Address,
    MobileTel,
    Fields,
    Field(u64, FieldProp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountProp {
    Ip,
    Mac,
    Login,
    Password,
    PppIp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProp {
    Name,
    Value,
}

/// A GUID segment: decimal digits only, so "+5", " 5" or "5.0" never alias a real GUID.
fn guid(segment: &str) -> Option<u64> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

fn unknown(path: &str) -> Reply {
    Reply::error(
        UNKNOWN_PATH,
        &format!("unknown path or property: {}", shorten(path)),
    )
}

/// Resolves `path`. The shape is checked before any GUID, so a misspelt property is 201 even
/// under a client that does not exist; existence is checked later against the store.
pub fn parse(path: &str) -> Result<Target, Reply> {
    let segments: Vec<&str> = path.split('.').collect();
    match segments.as_slice() {
        ["API", "GetClients"] => Ok(Target::GetClients),
        ["API", "Client" | "Clients", c, rest @ ..] => {
            let prop = parse_prop(rest).ok_or_else(|| unknown(path))?;
            let c = guid(c).ok_or_else(|| {
                Reply::error(UNKNOWN_CLIENT, &format!("unknown client: {}", shorten(c)))
            })?;
            let prop = match prop {
                RawProp::Ready(p) => p,
                RawProp::Account(a, p) => Prop::Account(
                    guid(a).ok_or_else(|| {
                        Reply::error(UNKNOWN_ACCOUNT, &format!("unknown account: {}", shorten(a)))
                    })?,
                    p,
                ),
                RawProp::Field(f, p) => Prop::Field(
                    guid(f).ok_or_else(|| {
                        Reply::error(UNKNOWN_FIELD, &format!("unknown field: {}", shorten(f)))
                    })?,
                    p,
                ),
            };
            Ok(Target::Client(c, prop))
        }
        _ => Err(unknown(path)),
    }
}

enum RawProp<'a> {
    Ready(Prop),
    Account(&'a str, AccountProp),
    Field(&'a str, FieldProp),
}

fn parse_prop<'a>(rest: &[&'a str]) -> Option<RawProp<'a>> {
    use RawProp::Ready;
    Some(match rest {
        ["AutorizeInfo", "Name"] => Ready(Prop::Name),
        ["AutorizeInfo", "Accounts"] => Ready(Prop::Accounts),
        ["AutorizeInfo", "Accounts", "AddAccount"] => Ready(Prop::AddAccount),
        ["AutorizeInfo", "Accounts", a, p] => RawProp::Account(
            a,
            match *p {
                "IP" => AccountProp::Ip,
                "MAC" => AccountProp::Mac,
                "Login" => AccountProp::Login,
                "Password" => AccountProp::Password,
                "PPP_IP" => AccountProp::PppIp,
                _ => return None,
            },
        ),
        ["BillingInfo", "Money"] => Ready(Prop::Money),
        ["BillingInfo", "DefaultInterface"] => Ready(Prop::DefaultInterface),
        ["BillingInfo", "Tariff"] => Ready(Prop::Tariff),
        ["BillingInfo", "Group"] => Ready(Prop::Group),
        ["StatusInfo", "BlockReason"] => Ready(Prop::BlockReason),
        ["StatusInfo", "Blocked"] => Ready(Prop::Blocked),
        ["StatusInfo", "CurrentSpeedLimitIn"] => Ready(Prop::CurrentSpeedLimitIn),
        ["PersonalDataInfo", "Address"] => Ready(Prop::Address),
        ["PersonalDataInfo", "MobileTel"] => Ready(Prop::MobileTel),
        ["PersonalDataInfo", "Fields"] => Ready(Prop::Fields),
        ["PersonalDataInfo", "Field", f, p] => RawProp::Field(
            f,
            match *p {
                "FieldName" => FieldProp::Name,
                "FieldValue" => FieldProp::Value,
                _ => return None,
            },
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_client_spellings_and_big_guids() {
        assert_eq!(
            parse("API.Clients.9527563927532953.BillingInfo.Money"),
            Ok(Target::Client(9527563927532953, Prop::Money))
        );
        assert_eq!(
            parse("API.Client.1.AutorizeInfo.Accounts.18446744073709551615.MAC"),
            Ok(Target::Client(1, Prop::Account(u64::MAX, AccountProp::Mac)))
        );
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(parse("API.Client.1.Nope").unwrap_err().code, UNKNOWN_PATH);
        assert_eq!(
            parse("API.Client.x.BillingInfo.Money").unwrap_err().code,
            UNKNOWN_CLIENT
        );
        assert_eq!(
            parse("API.Client.1.AutorizeInfo.Accounts.+1.IP")
                .unwrap_err()
                .code,
            UNKNOWN_ACCOUNT
        );
        assert_eq!(
            parse("API.Client.1.PersonalDataInfo.Field.z.FieldName")
                .unwrap_err()
                .code,
            UNKNOWN_FIELD
        );
        assert_eq!(parse("API.GetClients.").unwrap_err().code, UNKNOWN_PATH);
        assert_eq!(parse("").unwrap_err().code, UNKNOWN_PATH);
    }
}
