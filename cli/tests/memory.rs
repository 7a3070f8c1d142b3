//! `mb process` keeps a large reply once, not several times: its peak resident memory stays
//! under twice the reply for `API.GetClients` over a million clients (about 18 MB).

use std::process::{Command, Stdio};

use mikrobill_testkit::sim::Sim;

/// Runs `mb process API.GetClients` against `port`; returns its stdout length and peak RSS
/// in bytes (from wait4's rusage, which covers exactly that child).
// The child is reaped by wait4 below, which std's Child cannot see.
#[allow(clippy::zombie_processes)]
fn mb_peak(port: u16) -> (usize, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mb"))
        .args(["process", "API.GetClients"])
        .env_clear()
        .env("MIKROBILL_PORT", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut sink).unwrap();
        sink.len()
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's pid, with live out-pointers; the Child is not waited on
    // again afterwards.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    (reader.join().unwrap(), usage.ru_maxrss as usize * 1024)
}

#[test]
fn a_reply_of_a_million_clients_costs_mb_less_than_twice_its_size() {
    let sim = Sim::start_command({
        let mut c = Command::new(env!("CARGO_BIN_EXE_mb"));
        c.args(["serve", "--generate", "1000000"]);
        c
    });
    let (reply, peak) = mb_peak(sim.port);
    assert!(reply > 17_000_000, "reply of {reply} bytes");
    println!(
        "mb peak RSS {} KiB for a reply of {} KiB: {:.2}x",
        peak / 1024,
        reply / 1024,
        peak as f64 / reply as f64
    );
    assert!(peak < 2 * reply, "peak {peak} for a reply of {reply}");
}
