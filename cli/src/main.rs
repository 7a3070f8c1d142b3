//! `mb`: a command-line MikroBILL API client (`mb process`, `mb shell`), the simulator
//! (`mb serve`) and a recording proxy (`mb proxy`).

mod args;
mod completions;
mod connection;
mod output;
mod password;
mod paths;
mod process;
mod proxy;
mod shell;
mod value;

use clap::Parser;

use args::{Cli, Command};

fn main() {
    let code = match Cli::parse().command {
        Command::Process(args) => process::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Serve(options) => mikrobill_sim::serve(options),
        Command::Proxy(options) => proxy::main(options),
        Command::Completions { shell } => completions::run(shell),
    };
    std::process::exit(code);
}
