//! Prometheus metrics for `GET /metrics`: requests by token, HTTP status and code, the latency
//! of `/v1/process`, and the core connections by state. Token names appear, never tokens.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

use crate::core_pool::PoolCounts;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The token's name; `-` when the request had no valid token.
    token: String,
    route: String,
    status: String,
    /// The core's reply code or the library's or gateway's error code; `-` when there is none.
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    connections: Family<StateLabels, Gauge>,
    queued: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mikrobill_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by token name, route, HTTP status and code",
            requests.clone(),
        );
        // 0.25 ms to about 8 s.
        let latency = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register_with_unit(
            "process_duration",
            "Time from a /v1/process request's arrival to its answer",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "core_connections",
            "Connections to the core: busy (in a call), idle (open, waiting), disconnected",
            connections.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "queued_requests",
            "Requests waiting for a core connection",
            queued.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            connections,
            queued,
        }
    }

    pub fn count(&self, token: Option<&str>, route: &str, status: u16, code: Option<i64>) {
        self.requests
            .get_or_create(&RequestLabels {
                token: token.unwrap_or("-").to_string(),
                route: route.to_string(),
                status: status.to_string(),
                code: code.map_or_else(|| "-".to_string(), |c| c.to_string()),
            })
            .inc();
    }

    pub fn observe_process(&self, took: Duration) {
        self.latency.observe(took.as_secs_f64());
    }

    /// The text exposition, with the connection gauges as they are now.
    pub fn render(&self, pool: PoolCounts) -> String {
        for (state, n) in [
            ("busy", pool.busy),
            ("idle", pool.idle),
            ("disconnected", pool.disconnected),
        ] {
            self.connections
                .get_or_create(&StateLabels {
                    state: state.to_string(),
                })
                .set(n as i64);
        }
        self.queued.set(pool.queued as i64);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            out = format!("# the metrics could not be encoded: {e}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_gauges_show_in_the_text() {
        let m = Metrics::new();
        m.count(Some("bot"), "/v1/process", 200, Some(0));
        m.count(None, "/v1/process", 401, Some(9401));
        m.observe_process(Duration::from_millis(3));
        let text = m.render(PoolCounts {
            busy: 1,
            idle: 3,
            disconnected: 0,
            queued: 2,
        });
        assert!(text.contains(
            r#"mikrobill_gateway_requests_total{token="bot",route="/v1/process",status="200",code="0"} 1"#
        ), "{text}");
        assert!(text.contains(r#"token="-""#), "{text}");
        assert!(
            text.contains(r#"mikrobill_gateway_core_connections{state="idle"} 3"#),
            "{text}"
        );
        assert!(
            text.contains("mikrobill_gateway_queued_requests 2"),
            "{text}"
        );
        assert!(
            text.contains("mikrobill_gateway_process_duration_seconds_count 1"),
            "{text}"
        );
    }
}
