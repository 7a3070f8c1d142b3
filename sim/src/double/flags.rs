//! The simulator's test-double flags, flattened into the simulator's options (crate::options).

use clap::Args;
use std::path::PathBuf;

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
}
