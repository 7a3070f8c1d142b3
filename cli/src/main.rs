//! `mb`: a command-line MikroBILL API client (`mb process`, `mb shell`, directly or through a
//! mikrobill-gateway), the simulator (`mb serve`) and a recording proxy (`mb proxy`).

mod args;
mod backend;
mod completions;
mod connection;
mod doctor;
mod gateway;
mod layout;
mod output;
mod password;
mod paths;
mod process;
mod proxy;
mod shell;
mod value;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use args::{Cli, Command, CORE_FLAGS};

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(message) = check_gateway_use(&cli, &matches) {
        eprintln!("mb: {message}");
        std::process::exit(output::exit::USAGE);
    }
    let gateway = cli.gateway;
    let code = match cli.command {
        Command::Process(args) => process::run(args, &gateway),
        Command::Shell(args) => shell::run(args, &gateway),
        Command::Serve(options) => mikrobill_sim::serve(options),
        Command::Proxy(options) => proxy::main(options),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions { shell } => completions::run(shell),
    };
    std::process::exit(code);
}

/// --gateway serves `process` and `shell` only, and replaces the flags that name a core: given
/// both, which one was meant is not clear, so neither is guessed.
fn check_gateway_use(cli: &Cli, matches: &ArgMatches) -> Result<(), String> {
    if cli.gateway.gateway.is_none() {
        return Ok(());
    }
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(());
    };
    if !matches!(cli.command, Command::Process(_) | Command::Shell(_)) {
        return Err(format!(
            "--gateway works with `process` and `shell`, not `{name}`"
        ));
    }
    let given: Vec<String> = CORE_FLAGS
        .iter()
        .filter(|id| sub.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if given.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} name a core, but --gateway sends requests to a gateway, which holds the core's \
             settings; leave them out",
            given.join(", ")
        ))
    }
}
