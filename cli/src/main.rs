//! `mb`: a command-line MikroBILL API client (`mb process`, `mb shell`) and the simulator
//! (`mb serve`).

mod args;
mod completions;
mod connection;
mod output;
mod password;
mod paths;
mod process;
mod shell;
mod value;

use clap::Parser;

use args::{Cli, Command};

fn main() {
    let code = match Cli::parse().command {
        Command::Process(args) => process::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Serve { args } => mikrobill_sim::main_with_args(args),
        Command::Completions { shell } => completions::run(shell),
    };
    std::process::exit(code);
}
