//! The request trace (`--trace-requests FILE`): each decrypted non-auth request, one per line,
//! with account passwords out of it (by the rule in `crate::redact`). The rest of the request is
//! traced as sent.

use mikrobill::protocol::message::{self, Request};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use crate::error::SimError;
use crate::one_line;
use crate::os::file::open_private_append;
use crate::redact;

/// The open trace file; lines from concurrent connections never interleave.
pub struct Trace {
    file: Mutex<File>,
}

impl Trace {
    /// Appends to `path`. Requests may carry account data: the trace is the owner's alone.
    pub fn open(path: &Path) -> Result<Trace, SimError> {
        let file = open_private_append(path).map_err(SimError::file(path))?;
        Ok(Trace {
            file: Mutex::new(file),
        })
    }

    /// Appends one request, its passwords replaced, on one line (`crate::one_line`); a failure
    /// is reported, not fatal.
    pub fn write(&self, plain: &[u8]) {
        let traced = for_trace(plain);
        // The whole line in one buffer, so that it goes to the file in one write.
        let mut line = Vec::with_capacity(traced.len() + 1);
        let written = one_line::write(&mut line, &traced).and_then(|()| {
            line.push(b'\n');
            let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.write_all(&line)
        });
        if let Err(e) = written {
            eprintln!("mikrobill-sim: cannot write the request trace: {e}");
        }
    }
}

use crate::redact::REDACTED;

/// The request text to trace: `plain` itself, or its re-encoding with every password replaced.
pub fn for_trace(plain: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // Most requests cannot set a password at all: they are traced as sent, unparsed.
    if !redact::may_set_password(plain) {
        return plain.into();
    }
    // Parsed as the engine parses it, so exactly as deep.
    let Ok(request) = mikrobill::protocol::message::parse_request(plain) else {
        // Not JSON, so not applied: its length is all the trace needs, and the bytes may hold
        // anything.
        return format!("<{} bytes that are not a JSON request>", plain.len())
            .into_bytes()
            .into();
    };
    let Request::Process { path, mut value } = request else {
        return plain.into();
    };
    if redact::passwords(&path, &mut value, REDACTED) {
        message::request(&path, Some(&value)).into_bytes().into()
    } else {
        plain.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traced(request: &str) -> String {
        String::from_utf8(for_trace(request.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn passwords_are_replaced_wherever_a_request_sets_them() {
        for request in [
            r#"{"path":"API.Client.1.AutorizeInfo.Accounts.2.Password","value":"hunter2"}"#,
            r#"{"path":"API.Client.1.AutorizeInfo.Accounts.AddAccount","value":["1.1.1.1","","u","hunter2"]}"#,
            r#"{"path":"API.Client.1","value":{"AutorizeInfo":{"Accounts":{"2":{"Password":"hunter2","IP":"1.2.3.4"}}}}}"#,
            r#"{"path":"API.Client","value":{"1.AutorizeInfo.Accounts.2.Password":"hunter2"}}"#,
            r#"{"path":"API.Client.1.AutorizeInfo.Accounts","value":{"AddAccount":["1.1.1.1","","u","hunter2"]}}"#,
            r#"{"path":"API.Client.1.AutorizeInfo.Accounts.2.Password","value":12345}"#,
            r#"{"path":"API.Client.1.AutorizeInfo.Accounts.2","value":{"Pass\u0077ord":"hunter2"}}"#,
        ] {
            let line = traced(request);
            assert!(
                !line.contains("hunter2") && !line.contains("12345"),
                "{line}"
            );
            assert!(line.contains(REDACTED), "{line}");
        }
    }

    #[test]
    fn other_requests_are_traced_byte_for_byte() {
        let set = r#"{"path":"API.Client.1.AutorizeInfo.Name","value":"\u0418 a\/b"}"#;
        assert_eq!(traced(set), set);
        let read = r#"{"path":"API.Client.1.AutorizeInfo.Accounts.2","value":["Password","IP"]}"#;
        assert_eq!(traced(read), read);
        let read = r#"{"path":"API.Client.1.AutorizeInfo.Accounts.2.Password","value":null}"#;
        assert_eq!(traced(read), read);
        assert_eq!(traced("not json hunter2"), "not json hunter2");
        assert_eq!(
            traced("not json, Password hunter2"),
            "<26 bytes that are not a JSON request>"
        );
        let deep = format!(
            r#"{{"path":"API.X","value":{}1{}}}"#,
            "[".repeat(512),
            "]".repeat(512)
        );
        assert_eq!(traced(&deep), deep);
    }

    #[test]
    fn a_password_set_inside_deep_nesting_is_redacted_too() {
        let deep_secret = format!(
            r#"{{"path":"API.X","value":{}{{"Password":"hunter2"}}{}}}"#,
            "[".repeat(500),
            "]".repeat(500)
        );
        // Deep recursion: on a thread with the simulator's connection stack.
        let traced = std::thread::Builder::new()
            .stack_size(crate::net::CONNECTION_STACK)
            .spawn(move || traced(&deep_secret))
            .unwrap()
            .join()
            .unwrap();
        assert!(!traced.contains("hunter2") && traced.contains(REDACTED));
    }
}
