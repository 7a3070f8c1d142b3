//! The HTTP routes: `POST /v1/process`, `GET /v1/health`, `GET /metrics`,
//! `GET /v1/openapi.json`. Each request ends with one audit line and one count in the metrics.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use mikrobill::protocol::phpjson;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::audit::{self, Entry};
use crate::core_pool::PoolError;
use crate::refusal::{code, Refusal};
use crate::state::{Gateway, Live};

pub const OPENAPI: &str = include_str!("../openapi.json");

const JSON: &str = "application/json";

/// How long a health check's outcome is reused.
const HEALTH_CACHE: Duration = Duration::from_secs(1);

/// What the audit line and the metrics record about a request.
#[derive(Default)]
struct Note {
    token: Option<String>,
    path: Option<String>,
    value_sent: bool,
    code: Option<i64>,
}

struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Answer {
    fn json(status: StatusCode, body: impl Into<Bytes>) -> Answer {
        Answer {
            status,
            content_type: JSON,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    fn refusal(refusal: Refusal, note: &mut Note) -> Answer {
        note.code = Some(refusal.code);
        Answer::json(refusal.status, refusal.body)
    }

    fn with_header(mut self, name: header::HeaderName, value: &str) -> Answer {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

pub async fn handle(
    gateway: Arc<Gateway>,
    live: Arc<Live>,
    client: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.uri().path().to_string();
    let mut note = Note::default();
    let (known_route, answer) = match (route.as_str(), &method) {
        ("/v1/process", &Method::POST) => {
            (true, process(&gateway, &live, request, &mut note).await)
        }
        ("/v1/health", &Method::GET) => (true, health(&gateway, &mut note).await),
        ("/metrics", &Method::GET) => (
            true,
            Answer {
                status: StatusCode::OK,
                content_type: crate::metrics::CONTENT_TYPE,
                body: gateway.metrics.render(gateway.pool.counts()).into(),
                headers: Vec::new(),
            },
        ),
        ("/v1/openapi.json", &Method::GET) => (true, Answer::json(StatusCode::OK, OPENAPI)),
        ("/v1/process", _) => (true, not_allowed("POST", &mut note)),
        ("/v1/health" | "/metrics" | "/v1/openapi.json", _) => {
            (true, not_allowed("GET", &mut note))
        }
        _ => (
            false,
            Answer::refusal(
                Refusal::new(StatusCode::NOT_FOUND, code::NOT_FOUND, "No such route"),
                &mut note,
            ),
        ),
    };
    let took = started.elapsed();
    // Unknown routes are counted under one label: their paths are whatever a scanner sends.
    let route_label = if known_route { route.as_str() } else { "other" };
    gateway.audit.write(&Entry {
        time: audit::rfc3339(SystemTime::now()),
        token: note.token.as_deref(),
        client,
        method: method.as_str(),
        route: route_label,
        path: note.path.as_deref(),
        value_sent: note.value_sent,
        status: answer.status.as_u16(),
        code: note.code,
        duration_ms: (took.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    });
    gateway.metrics.count(
        note.token.as_deref(),
        route_label,
        answer.status.as_u16(),
        note.code,
    );
    if route == "/v1/process" && method == Method::POST {
        gateway.metrics.observe_process(took);
    }
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    response
}

fn not_allowed(allow: &'static str, note: &mut Note) -> Answer {
    Answer::refusal(
        Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            &format!("Method not allowed here; use {allow}"),
        ),
        note,
    )
    .with_header(header::ALLOW, allow)
}

async fn process(
    gateway: &Gateway,
    live: &Live,
    request: Request<Incoming>,
    note: &mut Note,
) -> Answer {
    let Some(token) = bearer(&request).and_then(|t| live.tokens.authenticate(t)) else {
        return Answer::refusal(
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                code::UNAUTHORIZED,
                "A valid token is required: Authorization: Bearer <token>",
            ),
            note,
        )
        .with_header(header::WWW_AUTHENTICATE, "Bearer");
    };
    note.token = Some(token.name.clone());
    if let Err(wait) = token.take_rate() {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Answer::refusal(
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                "This token's rate limit is reached; retry later",
            ),
            note,
        )
        .with_header(header::RETRY_AFTER, &seconds.max(1).to_string());
    }
    let body = match read_body(live, request).await {
        Ok(body) => body,
        Err(refusal) => return Answer::refusal(refusal, note),
    };
    let (path, value) = match parse_request(&body) {
        Ok(parsed) => parsed,
        Err(refusal) => return Answer::refusal(refusal, note),
    };
    drop(body);
    note.path = Some(path.clone());
    note.value_sent = value.is_some();
    if token.read_only && value.is_some() {
        return Answer::refusal(
            Refusal::new(
                StatusCode::FORBIDDEN,
                code::FORBIDDEN,
                "This token is read-only: value must be null or absent",
            ),
            note,
        );
    }
    if let Err(outside) = token.scope.check(&path, value.as_ref()) {
        return Answer::refusal(
            Refusal::new(
                StatusCode::FORBIDDEN,
                code::FORBIDDEN,
                &format!("Path {outside} is outside this token's scope"),
            ),
            note,
        );
    }
    let value_json = value.as_ref().map(Value::to_string);
    drop(value);
    match gateway.pool.process(path, value_json).await {
        Ok(Ok(reply)) => {
            note.code = mikrobill::reply_code(&String::from_utf8_lossy(&reply));
            Answer::json(StatusCode::OK, reply)
        }
        Ok(Err(error)) => Answer::refusal(Refusal::library(&error), note),
        Err(e) => Answer::refusal(busy(e), note),
    }
}

fn busy(e: PoolError) -> Refusal {
    let text = match e {
        PoolError::QueueFull => {
            "Every core connection is busy and the queue is full; nothing was sent"
        }
        PoolError::WaitedTooLong => {
            "No core connection came free within the queue wait limit; nothing was sent"
        }
        PoolError::Stopped => "The gateway is stopping; nothing was sent",
    };
    Refusal::new(StatusCode::SERVICE_UNAVAILABLE, code::BUSY, text)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(request: &Request<Incoming>) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The whole body, refused when it is larger than the limit (announced or actual) or does not
/// arrive in time.
async fn read_body(live: &Live, request: Request<Incoming>) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::BODY_TOO_LARGE,
            &format!("The body is over {} bytes", live.max_body_bytes),
        )
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > live.max_body_bytes as u64) {
        return Err(too_large());
    }
    let limited = Limited::new(request.into_body(), live.max_body_bytes);
    match tokio::time::timeout(live.body_timeout, limited.collect()).await {
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            code::BODY_TIMEOUT,
            "The body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(Refusal::bad_request("the body could not be read")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// `{"path": STRING, "value": ANY}`: the path and the value, `None` for a read (`null` or
/// absent). Nesting is bounded before parsing (PHP's limit), so no body can exhaust the stack.
fn parse_request(body: &[u8]) -> Result<(String, Option<Value>), Refusal> {
    let text =
        std::str::from_utf8(body).map_err(|_| Refusal::bad_request("the body is not UTF-8"))?;
    let parsed = phpjson::parse(text)
        .map_err(|e| Refusal::bad_request(&format!("the body is not JSON: {e}")))?;
    let Value::Object(mut fields) = parsed else {
        return Err(Refusal::bad_request(
            r#"the body must be an object {"path": ..., "value": ...}"#,
        ));
    };
    let value = fields.remove("value").filter(|v| !v.is_null());
    let path = match fields.remove("path") {
        Some(Value::String(path)) if !path.is_empty() => path,
        _ => return Err(Refusal::bad_request("\"path\" must be a non-empty string")),
    };
    if let Some(other) = fields.keys().next() {
        return Err(Refusal::bad_request(&format!(
            "unknown member {:?}; only \"path\" and \"value\"",
            truncate(other, 64)
        )));
    }
    Ok((path, value))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

async fn health(gateway: &Gateway, note: &mut Note) -> Answer {
    let checked = {
        let mut cached = gateway.health.lock().await;
        match &*cached {
            Some((at, result)) if at.elapsed() < HEALTH_CACHE => Ok(result.clone()),
            _ => {
                let checked = gateway.pool.check().await;
                if let Ok(result) = &checked {
                    *cached = Some((Instant::now(), result.clone()));
                }
                checked
            }
        }
    };
    let counts = gateway.pool.counts();
    let mut body = serde_json::json!({
        "status": "ok",
        "core_reachable": true,
        "connections": {
            "busy": counts.busy,
            "idle": counts.idle,
            "disconnected": counts.disconnected,
        },
        "queued": counts.queued,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = match checked {
        Ok(Ok(())) => StatusCode::OK,
        Ok(Err(error)) => {
            // Why, as the library says it (its error JSON never holds a secret).
            body["status"] = "core unreachable or login refused".into();
            body["core_reachable"] = false.into();
            body["code"] = error.code().into();
            body["error"] = serde_json::from_str(&error.to_json()).unwrap_or_default();
            note.code = Some(error.code());
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(_) => {
            body["status"] = "busy".into();
            body["core_reachable"] = false.into();
            note.code = Some(code::BUSY);
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    Answer::json(status, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_strictly() {
        let (p, v) = parse_request(br#"{"path":"API.GetClients","value":null}"#).unwrap();
        assert_eq!((p.as_str(), v), ("API.GetClients", None));
        let (_, v) = parse_request(br#"{"path":"A","value":1.50}"#).unwrap();
        assert_eq!(v.unwrap().to_string(), "1.50");
        for bad in [
            &br#"{"path":"A""#[..],
            br#"["A"]"#,
            br#"{"path":""}"#,
            br#"{"path":5}"#,
            br#"{"value":1}"#,
            br#"{"path":"A","extra":1}"#,
            b"\xff",
        ] {
            let r = parse_request(bad).unwrap_err();
            assert_eq!((r.status, r.code), (StatusCode::BAD_REQUEST, 9005));
        }
        let deep = format!(
            r#"{{"path":"A","value":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(parse_request(deep.as_bytes()).unwrap_err().code, 9005);
    }
}
