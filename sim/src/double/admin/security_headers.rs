//! Headers on every control-API response that keep other pages away from it: no framing (the
//! dashboard's clear button must not be clickjacked), no MIME sniffing, and a Content-Security-
//! Policy that allows only the dashboard's own inline script and style (named by their SHA-256)
//! and requests back to this port.

use base64::Engine;
use hyper::header::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use super::api::DASHBOARD;

/// The text between `open` and `close` in the dashboard; the page has exactly one of each element.
fn element(open: &str, close: &str) -> &'static str {
    let start = DASHBOARD.find(open).expect("the dashboard has the element") + open.len();
    let end = start
        + DASHBOARD[start..]
            .find(close)
            .expect("the element is closed");
    &DASHBOARD[start..end]
}

fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        sha256_source(element("<script>", "</script>")),
        sha256_source(element("<style>", "</style>")),
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
});

pub fn add(headers: &mut HeaderMap) {
    headers.insert(hyper::header::CONTENT_SECURITY_POLICY, POLICY.clone());
    headers.insert(
        hyper::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_one_script_and_the_one_style() {
        assert_eq!(DASHBOARD.matches("<script").count(), 1);
        assert_eq!(DASHBOARD.matches("<style").count(), 1);
        let policy = POLICY.to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
    }
}
