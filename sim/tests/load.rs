//! A short load test: 300 clients calling at once beside slowloris peers and garbage senders,
//! for MIKROBILL_LOAD_SECS seconds (default 10). Every honest call must succeed; the figures are
//! printed, never asserted as timings.

use mikrobill_testkit::sim::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const CLIENTS: usize = 300;
const SLOWLORIS: usize = 50;
const GARBAGE: usize = 20;

fn seconds() -> u64 {
    std::env::var("MIKROBILL_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// Connects and sends a frame prefix one byte a second, forever, reconnecting when closed.
fn slowloris(port: u16, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        for byte in 200u32.to_le_bytes().iter().cycle() {
            if stop.load(Ordering::SeqCst) || s.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(1000));
        }
    }
}

/// Sends random bytes (sometimes a plausible prefix first), then closes, over and over.
fn garbage(port: u16, seed: u64, stop: &AtomicBool) {
    let mut x = seed | 1;
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let mut bytes = vec![0u8; 64 + (x % 512) as usize];
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if x.is_multiple_of(3) {
            bytes[..4].copy_from_slice(&48u32.to_le_bytes());
        }
        let _ = s.write_all(&bytes);
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let _ = s.read(&mut [0u8; 64]);
        thread::sleep(Duration::from_millis(20));
    }
}

/// The system's count of connections dropped because a listen queue was full (Linux), which the
/// load figures print: a queue that overflows makes clients wait for SYN-ACK retransmissions.
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

#[test]
fn three_hundred_clients_beside_slowloris_and_garbage_see_no_error() {
    let sim = Sim::start(&["--auth-timeout", "2"]);
    let port = sim.port;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut threads = Vec::new();
    for _ in 0..SLOWLORIS {
        let stop = Arc::clone(&stop);
        threads.push(thread::spawn(move || slowloris(port, &stop)));
    }
    for seed in 0..GARBAGE as u64 {
        let stop = Arc::clone(&stop);
        threads.push(thread::spawn(move || garbage(port, seed * 7919 + 1, &stop)));
    }
    let overflows_before = listen_overflows();
    let duration = Duration::from_secs(seconds());
    let started = Instant::now();
    for t in 0..CLIENTS {
        let (stop, calls, errors) = (Arc::clone(&stop), Arc::clone(&calls), Arc::clone(&errors));
        threads.push(thread::spawn(move || {
            let cfg = demo_client_config(port);
            let mut client = mikrobill::Client::new(cfg).unwrap();
            let name = format!("API.Client.{IVANOV}.AutorizeInfo.Name");
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Every tenth call also reconnects, so the auth path is under load too.
                if n % 10 == 9 {
                    client.disconnect();
                }
                let result = if t % 4 == 0 {
                    client.process(&name, Some(&format!("\"load {t} {n}\"")))
                } else {
                    client.process("API.GetClients", None)
                };
                match result {
                    Ok(reply) if code(&reply) == 0 => {}
                    Ok(reply) => errors.lock().unwrap().push(reply),
                    Err(e) => errors.lock().unwrap().push(e.to_json()),
                }
                calls.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    thread::sleep(duration);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = calls.load(Ordering::SeqCst);
    let errors = errors.lock().unwrap();
    println!(
        "load: {calls} calls from {CLIENTS} clients in {elapsed:.1} s ({:.0}/s) beside {SLOWLORIS} \
         slowloris and {GARBAGE} garbage senders; {} errors",
        calls as f64 / elapsed,
        errors.len()
    );
    if let (Some(before), Some(after)) = (overflows_before, listen_overflows()) {
        println!(
            "load: listen queue overflows on this machine meanwhile: {}",
            after.saturating_sub(before)
        );
    }
    assert!(calls >= CLIENTS, "every client made at least one call");
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    let mut c = sim.client();
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
}
