//! The MikroBILL core simulator behind `mikrobill-sim` and `mb serve`. See docs/simulator.md.
//!
//! The source by concept:
//! - `net`: listening, accepting, connection slots and the limits on unauthenticated peers;
//! - `session`: the loop one connection runs once admitted (auth, requests, the request trace);
//! - `state`: the dataset, the class tree that reads and changes it, and its write-ahead log;
//! - `double`: the test double (stubs, faults, replay, the request journal, the control API);
//! - `os`: every call on the operating system beyond plain std I/O;
//! - `redact`: account passwords out of everything written down (trace, journal, recording);
//! - `one_line`: a request written down on one line (trace, recording);
//! - `options`, `config`, `error`, `reply`: the command line, the config file, what stops the
//!   simulator, and the protocol's replies.

pub mod config;
pub mod double;
pub mod error;
pub mod net;
pub mod one_line;
pub mod options;
pub mod os;
pub mod redact;
pub mod reply;
pub mod session;
pub mod state;

pub use config::Config;
pub use double::TestDouble;
pub use error::SimError;
pub use net::Server;
pub use options::Options;
// `mb` checks request paths with the simulator's own parser.
pub use state::path;

use std::io::Write;
use std::sync::Arc;

use mikrobill::protocol::crypto::Cipher;
use state::wal::Wal;
use state::{demo, Dataset, Engine, Store};

fn initial_dataset(options: &Options) -> Result<Dataset, SimError> {
    if let Some(path) = &options.dataset {
        let text = std::fs::read_to_string(path).map_err(SimError::file(path))?;
        return serde_json::from_str(&text).map_err(|source| SimError::Json {
            path: path.clone(),
            source,
        });
    }
    if let Some(n) = options.generate {
        return Ok(Dataset {
            generate: n,
            clients: Vec::new(),
        });
    }
    Ok(demo::dataset())
}

/// Runs the simulator until SIGINT/SIGTERM.
pub fn run(options: Options) -> Result<(), SimError> {
    let mut config = match &options.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let (Some(k1), Some(k2)) = (&options.key1, &options.key2) {
        config.key1 = k1.clone();
        config.key2 = k2.clone();
    }
    for flag in &options.cashiers {
        let cashier = config::Cashier::from_flag(flag).ok_or(SimError::CashierFlag)?;
        config.cashiers.retain(|c| c.login != cashier.login);
        config.cashiers.push(cashier);
    }
    let cipher = Cipher::from_base64(&config.key1, &config.key2).map_err(SimError::Keys)?;
    let (store, wal) = match &options.state {
        Some(path) => {
            let (store, wal) = Wal::open(path, || initial_dataset(&options))?;
            (store, Some(wal))
        }
        None => (Store::from_dataset(initial_dataset(&options)?)?, None),
    };
    let test_double =
        double::from_options(&config, &options.double).map_err(SimError::TestDouble)?;
    let admin_addr = match &options.double.admin {
        Some(addr) => Some(
            double::admin::check_address(addr, options.double.admin_allow_remote)
                .map_err(SimError::TestDouble)?,
        ),
        None => None,
    };
    os::signal::install();
    let listener = os::bind(&options.listen).map_err(|source| SimError::Listen {
        addr: options.listen.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(SimError::Io)?;
    let sessions =
        double::session_counts::SessionCounts::publishing_to(options.session_counts.clone())?;
    let test_double = Arc::new(test_double.with_session_counts(sessions));
    let engine = Engine::new(store, wal).with_batch_paths(options.double.batch_paths);
    let reset_options = options.clone();
    let server = Arc::new(
        Server::new(engine, cipher, config, options)?.with_double(Arc::clone(&test_double)),
    );
    let admin_bound = match admin_addr {
        Some(at) => {
            let admin = double::admin::api::Admin {
                server: Arc::clone(&server),
                double: test_double,
                allow_remote: reset_options.double.admin_allow_remote,
                reset: Box::new(move || {
                    let dataset = initial_dataset(&reset_options).map_err(|e| e.to_string())?;
                    Store::from_dataset(dataset).map_err(|e| e.to_string())
                }),
            };
            Some(double::admin::start(at, Arc::new(admin)).map_err(SimError::TestDouble)?)
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(SimError::Io)?;
    if let Some(at) = admin_bound {
        // Whoever read the first line may have closed the pipe already: not an error.
        let _ = writeln!(out, "admin on http://{at}/").and_then(|()| out.flush());
    }
    drop(out);
    server.run(listener).map_err(SimError::Io)
}

/// Runs the simulator with options already parsed (`mb serve`); returns the exit code.
pub fn serve(options: Options) -> i32 {
    match run(options) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mikrobill-sim: {e}");
            1
        }
    }
}

/// The whole command line after the program name; returns the exit code: 0 (also after --help
/// and --version), 1 when the simulator cannot start or stops on an error, 2 for a bad command
/// line.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> i32 {
    match options::parse(args) {
        Ok(options) => serve(options),
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr.
            let _ = e.print();
            e.exit_code()
        }
    }
}
