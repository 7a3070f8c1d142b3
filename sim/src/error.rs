//! What keeps the simulator from starting or running, each with the file or address concerned,
//! so that the one line printed before exiting says what to fix. Protocol errors are not here:
//! they are replies to the peer (see `reply`).

use std::fmt;
use std::io;
use std::path::PathBuf;

use mikrobill::protocol::crypto::KeyError;

#[derive(Debug)]
pub enum SimError {
    /// A file could not be opened, read, written or locked.
    File {
        path: PathBuf,
        source: io::Error,
    },
    /// A --config or --dataset file is not the JSON it must be.
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A key or password in --config is not a string; its value is never shown.
    SecretNotText {
        path: PathBuf,
        key: String,
        kind: &'static str,
    },
    /// A --cashier flag is not LOGIN:BASE64; its value is never shown.
    CashierFlag,
    /// The state snapshot is not a dataset.
    Snapshot {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Another simulator holds the lock of this state file.
    StateInUse {
        snapshot: PathBuf,
        lock: PathBuf,
    },
    /// A record of the write-ahead log is corrupt and valid records follow it: not a torn last
    /// write, which a crash can leave, but damage that dropping would turn into lost changes.
    CorruptLog {
        log: PathBuf,
        /// 1-based.
        record: usize,
        offset: usize,
        valid_after: usize,
    },
    /// A change in the write-ahead log does not apply to the snapshot.
    Replay {
        log: PathBuf,
        error: ReplayError,
    },
    /// The dataset contradicts itself or asks for too much.
    Dataset(DatasetError),
    /// key1 or key2 is not a usable AES key or IV.
    Keys(KeyError),
    Listen {
        addr: String,
        source: io::Error,
    },
    /// Writing the first stdout line or accepting connections failed.
    Io(io::Error),
    /// Stubs, faults, the recording or the control API cannot be set up (crate::double).
    TestDouble(String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::File { path, source } => write!(f, "{}: {source}", path.display()),
            SimError::Json { path, source } => write!(f, "{}: {source}", path.display()),
            SimError::SecretNotText { path, key, kind } => write!(
                f,
                "{}: {key} must be a string, not {kind} (its value is not shown)",
                path.display()
            ),
            SimError::CashierFlag => write!(
                f,
                "--cashier: expected LOGIN:BASE64 (a login, a colon, the password's bytes in \
                 standard base64; the value is not shown)"
            ),
            SimError::Snapshot { path, source } => {
                write!(
                    f,
                    "{}: not a valid state snapshot: {source}",
                    path.display()
                )
            }
            SimError::StateInUse { snapshot, lock } => write!(
                f,
                "{}: the state file is in use by another simulator (cannot lock {})",
                snapshot.display(),
                lock.display()
            ),
            SimError::CorruptLog {
                log,
                record,
                offset,
                valid_after,
            } => write!(
                f,
                "{}: record {record} (at byte {offset}) is corrupt and {valid_after} valid \
                 record(s) follow it, so it is not a write torn by a crash; not starting rather \
                 than drop acknowledged changes (the file is left as it is). Restore it, or move \
                 it aside to start from the snapshot without its changes",
                log.display()
            ),
            SimError::Replay { log, error } => {
                write!(f, "{}: cannot replay a change: {error}", log.display())
            }
            SimError::Dataset(e) => write!(f, "{e}"),
            SimError::Keys(e) => write!(f, "{e}"),
            SimError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            SimError::Io(e) => write!(f, "{e}"),
            SimError::TestDouble(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::File { source, .. } | SimError::Listen { source, .. } => Some(source),
            SimError::Json { source, .. } | SimError::Snapshot { source, .. } => Some(source),
            SimError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DatasetError> for SimError {
    fn from(e: DatasetError) -> SimError {
        SimError::Dataset(e)
    }
}

impl SimError {
    /// A `map_err` for failures on `path`.
    pub fn file(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> SimError {
        let path = path.into();
        move |source| SimError::File { path, source }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetError {
    DuplicateClient(u64),
    /// More generated clients than 64-bit GUIDs leave room for; carries the request and the limit.
    TooManyGenerated {
        count: u64,
        max: u64,
    },
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetError::DuplicateClient(guid) => {
                write!(f, "client {guid} appears twice in the dataset")
            }
            DatasetError::TooManyGenerated { count, max } => write!(
                f,
                "generate: {count} clients is too many (at most {max}: their GUIDs must fit in 64 bits)"
            ),
        }
    }
}

impl std::error::Error for DatasetError {}

/// Why a change in the write-ahead log does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayError {
    /// The store refused the change: `reason` is the reply a client would have got.
    Refused {
        path: String,
        reason: String,
    },
    UnknownClient(u64),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Refused { path, reason } => write!(f, "{path}: {reason}"),
            ReplayError::UnknownClient(guid) => write!(f, "unknown client {guid}"),
        }
    }
}

impl std::error::Error for ReplayError {}
