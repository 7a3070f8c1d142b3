//! SIGINT/SIGTERM/SIGHUP (Ctrl-C, Ctrl-Break and console close on Windows) set a flag that the
//! accept loop polls, so shutdown is clean and exits 0. The ctrlc crate does the per-platform
//! work: a self-pipe on Unix, SetConsoleCtrlHandler on Windows.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

pub fn install() {
    // A second install in one process (ctrlc allows one handler) keeps the first, which sets
    // the same flag; any other failure leaves the platform's default, which ends the process.
    if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)) {
        if !matches!(e, ctrlc::Error::MultipleHandlers) {
            eprintln!("mikrobill-sim: cannot catch stop signals: {e}");
        }
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
