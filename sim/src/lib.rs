//! The MikroBILL core simulator behind `mikrobill-sim` and `mb serve`. See docs/simulator.md.

pub mod batch;
pub mod config;
pub mod demo;
pub mod double;
pub mod engine;
pub mod error;
pub mod generate;
pub mod journal;
pub mod listen;
pub mod model;
pub mod options;
pub mod path;
pub mod redact;
pub mod reply;
pub mod server;
pub mod signal;
pub mod stats;
pub mod store;
pub mod tree;

use std::io::Write;
use std::sync::Arc;

use config::Config;
use engine::Engine;
use error::SimError;
use journal::Journal;
use mikrobill::protocol::crypto::Cipher;
use model::Dataset;
use options::Options;
use server::Server;
use store::Store;

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
    let cipher = Cipher::from_base64(&config.key1, &config.key2).map_err(SimError::Keys)?;
    let (store, journal) = match &options.state {
        Some(path) => {
            let (store, journal) = Journal::open(path, || initial_dataset(&options))?;
            (store, Some(journal))
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
    signal::install();
    let listener = listen::bind(&options.listen).map_err(|source| SimError::Listen {
        addr: options.listen.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(SimError::Io)?;
    let sessions = stats::SessionCounts::publishing_to(options.session_counts.clone())?;
    let test_double = Arc::new(test_double.with_session_counts(sessions));
    let engine = Engine::new(store, journal);
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

/// The whole command line after the program (or subcommand) name; returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> i32 {
    let args: Vec<String> = args.into_iter().collect();
    if matches!(args.as_slice(), [only] if only == "--version" || only == "-V") {
        println!("mikrobill-sim {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    match options::parse(args) {
        Ok(None) => {
            println!("{}", options::USAGE);
            0
        }
        Ok(Some(options)) => match run(options) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mikrobill-sim: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("mikrobill-sim: {e}\n\n{}", options::USAGE);
            2
        }
    }
}
