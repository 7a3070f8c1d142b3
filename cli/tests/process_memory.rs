//! `mb process` holds a large reply about once, in every output style but --pretty (which builds
//! it into a tree to indent it). Alone in its test binary: the peak is read with
//! getrusage(RUSAGE_CHILDREN), which covers every child this process has waited for.

use mikrobill_testkit::sim::Sim;
use std::process::Command;

/// The largest peak resident memory of the children waited for so far, in bytes.
fn children_peak() -> usize {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` is valid for getrusage to fill; it is read only after it succeeded.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    usize::try_from(usage.ru_maxrss).unwrap() * 1024
}

#[test]
fn a_large_reply_is_held_about_once_also_as_a_json_line() {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mb"));
    serve.args(["serve", "--generate", "2300000"]);
    let sim = Sim::start_command(serve);
    let port = sim.port.to_string();
    let mut sizes = Vec::new();
    for style in [None, Some("--json")] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
        command.args(["process", "--port", &port]);
        command.args(style);
        let out = command.arg("API.GetClients").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peak = children_peak();
        println!(
            "mb process {}: a {} MiB reply, peak {} MiB ({:.2}x)",
            style.unwrap_or("(raw)"),
            out.stdout.len() >> 20,
            peak >> 20,
            peak as f64 / out.stdout.len() as f64
        );
        sizes.push((out.stdout.len(), peak));
    }
    let (reply, raw_peak) = sizes[0];
    let (_, json_peak) = sizes[1];
    assert!(reply > 40_000_000, "the reply is {reply} bytes");
    // The peak only grows (it is the largest child so far): each is checked against the reply.
    assert!(raw_peak < reply * 3 / 2, "raw: peak {raw_peak} for {reply}");
    assert!(
        json_peak < reply * 3 / 2,
        "--json: peak {json_peak} for {reply}"
    );
}
