//! `mb process` holds a large reply about once, in every output style: --json and --pretty lay it
//! out without building it into a tree. Alone in its test binary: the peak is read with
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
fn a_large_reply_is_held_about_once_also_as_a_json_line_or_indented() {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mb"));
    serve.args(["serve", "--generate", "2300000"]);
    let sim = Sim::start_command(serve);
    let port = sim.port.to_string();
    // (style, output bytes, peak so far)
    let mut runs = Vec::new();
    for style in ["(raw)", "--json", "--pretty"] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
        command.args(["process", "--port", &port]);
        command.args(style.strip_prefix("--").map(|_| style));
        let out = command.arg("API.GetClients").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push((style, out.stdout.len(), children_peak()));
    }
    // The raw output is the reply itself; the others are measured against it.
    let reply = runs[0].1;
    assert!(reply > 40_000_000, "the reply is {reply} bytes");
    // The peak only grows (it is the largest child so far): each is checked against the reply.
    for (style, out, peak) in runs {
        println!(
            "mb process {style}: {} MiB out, peak {} MiB, {:.2}x the {} MiB reply",
            out >> 20,
            peak >> 20,
            peak as f64 / reply as f64,
            reply >> 20
        );
        assert!(
            peak < reply * 3 / 2,
            "{style}: peak {peak} for a reply of {reply}"
        );
    }
}
