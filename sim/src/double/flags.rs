//! The simulator's test-double flags, flattened into the simulator's options (crate::options).

use clap::Args;
use std::path::PathBuf;

use super::dialect::{BatchPaths, ReplyEncoding};
use super::replay::Unmatched;

#[derive(Debug, Clone, Default, Args)]
pub struct Flags {
    /// Serve the control API and dashboard at ADDR:PORT (loopback only; port 0 = any free port)
    #[arg(long, value_name = "ADDR:PORT")]
    pub admin: Option<String>,
    /// Allow --admin on a non-loopback address (it has no authentication)
    #[arg(long)]
    pub admin_allow_remote: bool,
    /// Answer requests with the replies `mb proxy --record` wrote to FILE
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// A request the recording lacks: tree (stubs and the simulated tree answer) or error (code
    /// 211)
    #[arg(long, value_name = "MODE", default_value = "tree", value_parser = Unmatched::parse)]
    pub replay_unmatched: Unmatched,
    /// How a batch reply writes its paths: exact (as the request spelled them) or normalised,
    /// as a real core might echo them: `Client` and `Clients` swapped, a number losing its
    /// leading zeros or gaining one (`007` -> `7`, `1` -> `01`), and the last segment's letter
    /// case swapped (`Money` -> `mONEY`). The rest of the reply is the same
    #[arg(long, value_name = "MODE", default_value = "exact", value_enum)]
    pub batch_paths: BatchPaths,
    /// The text encoding of every reply: utf-8, or cp1251 (each Cyrillic or other character
    /// CP1251 has is written as its raw CP1251 byte, not as a \uXXXX escape, so the reply is
    /// not UTF-8)
    #[arg(long, value_name = "ENCODING", default_value = "utf-8", value_enum)]
    pub reply_encoding: ReplyEncoding,
}
