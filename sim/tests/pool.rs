//! Persistent clients against the real simulator: reuse without a new auth, identity
//! separation, bounds, idle lifetime, server restart and idle close, fork, and clearing. The
//! simulator's --session-counts file is the witness of how many sessions were opened and closed.
//! The pool is process-wide, so these tests take turns.

use mikrobill::{pool, Client, Config};
use mikrobill_testkit::sim::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    pool::clear();
    guard
}

struct Counted {
    sim: Sim,
    counts: PathBuf,
}

fn counts_file(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mb-pool-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("counts.json")
}

impl Counted {
    fn start(tag: &str, extra: &[&str]) -> Counted {
        let counts = counts_file(tag);
        let mut args = vec!["--session-counts", counts.to_str().unwrap()];
        args.extend_from_slice(extra);
        Counted {
            sim: Sim::start(&args),
            counts,
        }
    }

    /// (auths, disconnects) once `until` holds, or the last seen after 5 s.
    fn counts_when(&self, until: impl Fn(u64, u64) -> bool) -> (u64, u64) {
        read_counts_when(&self.counts, until)
    }

    fn counts(&self) -> (u64, u64) {
        read_counts_when(&self.counts, |_, _| true)
    }

    fn config(&self) -> Config {
        let mut c = self.sim.config();
        c.persistent = true;
        c
    }
}

fn read_counts_when(path: &Path, until: impl Fn(u64, u64) -> bool) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let seen = (
            v["auths"].as_u64().unwrap(),
            v["disconnects"].as_u64().unwrap(),
        );
        if until(seen.0, seen.1) || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats() -> Value {
    serde_json::from_str(&pool::stats()).unwrap()
}

fn stat(name: &str) -> u64 {
    stats()[name].as_u64().unwrap()
}

/// Three calls, then the client goes away as a page's object does at the end of a request.
fn page(config: &Config) {
    let mut c = Client::new(config.clone()).unwrap();
    for _ in 0..3 {
        assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
    }
}

#[test]
fn pages_in_a_row_share_one_session() {
    let _turn = one_at_a_time();
    let s = Counted::start("pages", &[]);
    let reused = stat("reused");
    for _ in 0..5 {
        page(&s.config());
    }
    assert_eq!(s.counts(), (1, 0), "one auth, no DISCONNECT for five pages");
    assert_eq!(stat("reused") - reused, 4);
    assert_eq!(stat("idle"), 1);
    assert_eq!(pool::clear(), 1);
    assert_eq!(
        s.counts_when(|_, d| d == 1),
        (1, 1),
        "clear says DISCONNECT"
    );
}

#[test]
fn a_client_without_persistence_still_says_disconnect() {
    let _turn = one_at_a_time();
    let s = Counted::start("plain", &[]);
    let mut config = s.config();
    config.persistent = false;
    page(&config);
    page(&config);
    assert_eq!(s.counts_when(|_, d| d == 2), (2, 2));
    assert_eq!(stat("idle"), 0);
}

#[test]
fn a_connection_is_never_handed_to_another_identity() {
    let _turn = one_at_a_time();
    let s = Counted::start("identity", &[]);
    page(&s.config());
    assert_eq!(s.counts(), (1, 0));

    // The wrong password must meet the server's refusal, not the pooled session.
    let mut wrong_password = s.config();
    wrong_password.password = "not the password".into();
    let mut c = Client::new(wrong_password).unwrap();
    let reply = c.process("API.GetClients", None).unwrap_err();
    assert_ne!(reply.code(), 0, "{}", reply.to_json());
    drop(c);

    // Other keys: the server stays silent on an auth it cannot decrypt (code 6).
    let mut other_keys = s.config();
    other_keys.key2 = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    let mut c = Client::new(other_keys).unwrap();
    assert_eq!(c.process("API.GetClients", None).unwrap_err().code(), 6);
    drop(c);

    // Same credentials, other tunables or another persistent_id: a session of their own.
    let mut other_timeout = s.config();
    other_timeout.io_timeout = Duration::from_millis(4321);
    page(&other_timeout);
    let mut other_id = s.config();
    other_id.persistent_id = "second shop".into();
    page(&other_id);
    assert_eq!(s.counts(), (3, 0));
    assert_eq!(stat("identities"), 3);

    // And the first identity still finds its own.
    page(&s.config());
    assert_eq!(s.counts(), (3, 0));
    pool::clear();
}

#[test]
fn bounds_per_identity_in_all_and_idle_lifetime() {
    let _turn = one_at_a_time();
    let s = Counted::start("bounds", &[]);
    let mut config = s.config();
    config.pool_limits.max_idle_per_identity = 2;
    let before = stat("closed_over_limit");
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::new(config.clone()).unwrap())
        .collect();
    for c in &mut clients {
        assert!(c.check_connection());
    }
    drop(clients);
    assert_eq!(stat("idle"), 2);
    assert_eq!(stat("closed_over_limit") - before, 1);
    assert_eq!(
        s.counts_when(|_, d| d == 1),
        (3, 1),
        "the third said DISCONNECT"
    );
    pool::clear();

    let mut totals = Vec::new();
    for id in ["a", "b", "c"] {
        let mut c = s.config();
        c.persistent_id = id.into();
        c.pool_limits.max_idle_total = 2;
        let mut client = Client::new(c).unwrap();
        assert!(client.check_connection());
        totals.push(client);
    }
    drop(totals);
    assert_eq!(stat("idle"), 2);
    assert_eq!(stat("identities"), 2);
    pool::clear();

    let mut short = s.config();
    short.pool_limits.idle_timeout = Duration::from_millis(200);
    let (_, disconnects) = s.counts_when(|_, d| d == 6);
    assert_eq!(disconnects, 6, "two evictions and four cleared");
    let expired = stat("closed_idle_timeout");
    page(&short);
    assert_eq!(stat("idle"), 1);
    std::thread::sleep(Duration::from_millis(400));
    // Reading the stats is a pure read: the expired connection is counted, not closed.
    let after = stats();
    assert_eq!(after["idle"], 0);
    assert_eq!(after["expired"], 1);
    assert_eq!(after["closed_idle_timeout"].as_u64().unwrap(), expired);
    assert_eq!(s.counts_when(|_, d| d == disconnects).1, disconnects);
    // The pool's next use closes it, as an idle-lifetime close.
    assert_eq!(pool::clear(), 0, "nothing within its lifetime was cleared");
    let after = stats();
    assert_eq!(after["expired"], 0);
    assert_eq!(after["closed_idle_timeout"].as_u64().unwrap() - expired, 1);
    assert_eq!(
        s.counts_when(|_, d| d == disconnects + 1).1,
        disconnects + 1,
        "an expired connection is closed with DISCONNECT"
    );
}

fn start_on(port: u16, counts: &Path) -> Sim {
    Sim::launch()
        .args(&["--session-counts", counts.to_str().unwrap()])
        .listen(&format!("127.0.0.1:{port}"))
        .start()
}

#[test]
fn a_server_restart_costs_one_transparent_reconnect() {
    let _turn = one_at_a_time();
    let first = Counted::start("restart", &[]);
    let config = first.config();
    page(&config);
    let port = first.sim.port;
    drop(first);
    let counts = counts_file("restart-2");
    let second = start_on(port, &counts);
    let dead = stat("closed_dead");
    page(&config);
    assert_eq!(stat("closed_dead") - dead, 1);
    assert_eq!(read_counts_when(&counts, |_, _| true), (1, 0));
    pool::clear();
    drop(second);
}

#[test]
fn a_server_side_idle_close_costs_one_transparent_reconnect() {
    let _turn = one_at_a_time();
    let s = Counted::start("idle-close", &["--idle-timeout", "1"]);
    let mut held = Client::new(s.config()).unwrap();
    assert_eq!(code(&call(&mut held, "API.GetClients", None)), 0);
    page(&s.config());
    std::thread::sleep(Duration::from_millis(1600));
    page(&s.config());
    assert_eq!(
        s.counts(),
        (3, 0),
        "the pooled session was closed by the server"
    );
    // The held client's session was closed too; it reconnects through the pool, where the last
    // page left a live one.
    assert_eq!(code(&call(&mut held, "API.GetClients", None)), 0);
    assert_eq!(s.counts(), (3, 0));
    drop(held);
    pool::clear();
}

#[test]
fn a_forked_child_never_uses_its_parents_sessions() {
    let _turn = one_at_a_time();
    let s = Counted::start("fork", &[]);
    let config = s.config();
    let mut held = Client::new(config.clone()).unwrap();
    assert_eq!(code(&call(&mut held, "API.GetClients", None)), 0);
    page(&config);
    let mut plain_config = config.clone();
    plain_config.persistent = false;
    let mut plain = Client::new(plain_config).unwrap();
    assert_eq!(code(&call(&mut plain, "API.GetClients", None)), 0);
    assert_eq!(s.counts(), (3, 0));

    // SAFETY: the child only runs this test's code, with no lock of ours held (tests take turns),
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let ok = (|| {
            let v = stats();
            if v["idle"] != 0 || v["forgotten_after_fork"] != 1 {
                return Some(false);
            }
            let mut c = Client::new(config.clone()).ok()?;
            let fresh = c.process("API.GetClients", None).ok()?;
            let inherited = held.process("API.GetClients", None).ok()?;
            drop(c);
            // The inherited held connection is closed, not pooled: one entry only.
            let one_idle = stats()["idle"] == 1;
            // A plain client inherited with its connection closes it without DISCONNECT.
            plain.disconnect();
            Some(code(&fresh) == 0 && code(&inherited) == 0 && one_idle)
        })()
        .unwrap_or(false);
        // SAFETY: _exit ends the child without running the parent's atexit handlers or test
        // harness teardown.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed"
    );
    assert_eq!(
        s.counts(),
        (5, 0),
        "the child opened two sessions of its own and said no DISCONNECT"
    );
    // The parent's sessions were left intact by the child.
    assert_eq!(code(&call(&mut held, "API.GetClients", None)), 0);
    assert_eq!(code(&call(&mut plain, "API.GetClients", None)), 0);
    page(&config);
    assert_eq!(s.counts(), (5, 0));
    drop(held);
    drop(plain);
    pool::clear();
}
