//! Round trips against the simulator, side by side in one run: the Rust client, the PHP shim over
//! FFI, and a PHP client written the way the original apicore.php is (mcrypt, fsockopen). Prints
//! time per call, throughput, peak memory and the ratios; asserts nothing about speed.
//!
//!     cargo bench --bench roundtrip            (needs php8.2-cli and php8.2-mcrypt)
//!
//! Each client runs in its own process so that its peak RSS is its own. The variants take turns,
//! three rounds each, and the median round counts, so background noise hits all of them alike.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mikrobill::{Client, Config};
use mikrobill_testkit::sim::{Sim, KEY1, KEY2};

const ROUNDS: usize = 3;

#[derive(Clone, Copy)]
struct Run {
    seconds: f64,
    calls: usize,
    peak_rss_kib: u64,
}

fn field(json: &serde_json::Value, name: &str) -> f64 {
    json[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} in {json}"))
}

fn parse_run(stdout: &[u8]) -> Run {
    let json: serde_json::Value = serde_json::from_slice(stdout).expect("a JSON result line");
    Run {
        seconds: field(&json, "seconds"),
        calls: field(&json, "calls") as usize,
        peak_rss_kib: field(&json, "peak_rss_kib") as u64,
    }
}

/// The Rust client, run as a child of this same binary so that its memory is measured alone.
fn rust_child(port: u16, calls: usize, path: &str, fresh: bool) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--client", &port.to_string(), &calls.to_string(), path])
        .args(fresh.then_some("fresh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "rust client failed");
    parse_run(&out.stdout)
}

fn php_child(kind: &str, port: u16, calls: usize, path: &str, fresh: bool) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bindings/php/bench/roundtrip.php");
    let out = Command::new("php")
        .env("MIKROBILL_LIB", library())
        .arg(script)
        .args([kind, &port.to_string(), &calls.to_string(), path])
        .args(fresh.then_some("fresh"))
        .output()
        .expect("php is required (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "php {kind} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_run(&out.stdout)
}

fn library() -> PathBuf {
    std::env::var_os("MIKROBILL_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/libmikrobill.so")
        })
}

fn client_main(args: &[String]) {
    let port: u16 = args[0].parse().unwrap();
    let calls: usize = args[1].parse().unwrap();
    let path = &args[2];
    let fresh = args.get(3).map(String::as_str) == Some("fresh");
    let make = || {
        let mut config = Config::new("127.0.0.1", port, "api", "secret", KEY1, KEY2);
        config.io_timeout = std::time::Duration::from_secs(60);
        config.call_timeout = std::time::Duration::from_secs(600);
        Client::new(config).unwrap()
    };
    let mut client = make();
    client.process(path, None).unwrap();
    let mut bytes = 0;
    let start = Instant::now();
    for _ in 0..calls {
        if fresh {
            let mut each = make();
            bytes += each.process(path, None).unwrap().len();
            each.disconnect();
        } else {
            bytes += client.process(path, None).unwrap().len();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    client.disconnect();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    println!(r#"{{"seconds":{seconds},"calls":{calls},"bytes":{bytes},"peak_rss_kib":{peak}}}"#);
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    runs[runs.len() / 2]
}

/// `fresh`: every call is a new client + call + close. The original-style client makes fewer
/// calls: it writes each frame in two pieces without TCP_NODELAY, as the original does, and waits
/// for a delayed ACK (tens of milliseconds) on every request.
fn workload(title: &str, sim: &Sim, calls: usize, path: &str, fresh: bool) {
    let original_calls = (calls / 50).clamp(1, 100);
    let variants: [(&str, &dyn Fn() -> Run); 3] = [
        ("Rust client", &|| rust_child(sim.port, calls, path, fresh)),
        ("PHP shim (FFI)", &|| {
            php_child("shim", sim.port, calls, path, fresh)
        }),
        ("PHP original-style (mcrypt)", &|| {
            php_child("original", sim.port, original_calls, path, fresh)
        }),
    ];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, run)) in variants.iter().enumerate() {
            runs[i].push(run());
        }
    }
    let medians: Vec<Run> = runs.into_iter().map(median).collect();
    println!(
        "\n{title}: {calls} calls of {path} ({original_calls} for the original-style client), \
         median of {ROUNDS} rounds"
    );
    println!(
        "{:<30} {:>12} {:>12} {:>14}",
        "client", "us/call", "calls/s", "peak RSS KiB"
    );
    for ((name, _), run) in variants.iter().zip(&medians) {
        let per_call = run.seconds / run.calls as f64;
        println!(
            "{name:<30} {:>12.1} {:>12.0} {:>14}",
            per_call * 1e6,
            1.0 / per_call,
            run.peak_rss_kib
        );
    }
    let original = medians[2];
    let per_call = |r: &Run| r.seconds / r.calls as f64;
    for (i, label) in [(0, "Rust client"), (1, "PHP shim")] {
        println!(
            "ratio {label} / original-style: time per call {:.4}x, peak RSS {:.2}x",
            per_call(&medians[i]) / per_call(&original),
            medians[i].peak_rss_kib as f64 / original.peak_rss_kib as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        return client_main(&args[1..]);
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let demo = Sim::start(&[]);
    let money = "API.Client.633824158637492.BillingInfo.Money";
    workload("small reads", &demo, 5000, money, false);
    workload("new object + call + close", &demo, 1000, money, true);
    drop(demo);
    let big = Sim::start(&["--generate", "200000"]);
    workload("large replies", &big, 20, "API.GetClients", false);
}
