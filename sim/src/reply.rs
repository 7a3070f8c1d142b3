//! Reply codes and the JSON text of replies. The real core's error numbers are not documented;
//! these are the simulator's, fixed by the shared contract.

use mikrobill::protocol::phpjson;

pub const OK: i64 = 0;
pub const BAD_LOGIN: i64 = 101;
pub const NO_API_RIGHT: i64 = 102;
pub const UNKNOWN_PATH: i64 = 201;
pub const UNKNOWN_CLIENT: i64 = 202;
pub const UNKNOWN_ACCOUNT: i64 = 203;
pub const UNKNOWN_FIELD: i64 = 204;
pub const READ_ONLY: i64 = 205;
pub const MALFORMED_VALUE: i64 = 206;
pub const BAD_ARGUMENTS: i64 = 207;
pub const NOT_UNDERSTOOD: i64 = 208;
/// A request over the simulator's limits (path length, batch size, reply size).
pub const TOO_LARGE: i64 = 209;
/// AddAccount cannot hand out a new account GUID (the dataset already uses the largest one).
pub const NO_GUID_LEFT: i64 = 210;

/// Longest piece of a request quoted in an error description, in bytes.
pub const MAX_ECHO: usize = 256;

/// `s`, cut to at most MAX_ECHO bytes (on a character boundary) with "..." when cut.
pub fn shorten(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_ECHO {
        return s.into();
    }
    let mut end = MAX_ECHO;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end]).into()
}

/// One result: `ret` is the JSON text of the "return" member.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub ret: String,
    pub code: i64,
}

impl Reply {
    pub fn value(ret: String) -> Reply {
        Reply { ret, code: OK }
    }

    pub fn text(s: &str) -> Reply {
        Reply::value(json_str(s))
    }

    pub fn ok() -> Reply {
        Reply::text("OK")
    }

    pub fn error(code: i64, description: &str) -> Reply {
        Reply {
            ret: json_str(description),
            code,
        }
    }

    /// `{"return":...,"code":N}`
    pub fn to_json(&self) -> String {
        format!(r#"{{"return":{},"code":{}}}"#, self.ret, self.code)
    }

    /// `{"return":...,"code":N,"path":"..."}`, a batch element.
    pub fn to_json_with_path(&self, path: &str) -> String {
        format!(
            r#"{{"return":{},"code":{},"path":{}}}"#,
            self.ret,
            self.code,
            json_str(path)
        )
    }
}

pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    phpjson::write_str(&mut out, s);
    out
}

pub fn json_u64_list(items: impl IntoIterator<Item = u64>) -> String {
    let mut out = String::from("[");
    for (i, n) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&n.to_string());
    }
    out.push(']');
    out
}
