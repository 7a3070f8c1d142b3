//! The `mikrobill-gateway` command: `serve`, `check`, `token new`, `token hash`.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use mikrobill_gateway::{config, server, state, tokens};

#[derive(Parser)]
#[command(
    name = "mikrobill-gateway",
    version,
    about = "The MikroBILL core's API over HTTPS, with scoped tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the first line of standard output says where).
    Serve {
        #[arg(long, short)]
        config: PathBuf,
        /// Serve plain HTTP on an address that is not loopback (behind a TLS proxy only).
        #[arg(long)]
        allow_plain_http_on_non_loopback: bool,
    },
    /// Check a config: syntax, tokens, secrets' sources, keys and TLS files; connects nowhere.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Make and inspect tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The Windows service: install, uninstall, and the entry point the service manager runs.
    #[cfg(windows)]
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
}

#[cfg(windows)]
#[derive(Subcommand)]
enum ServiceCommand {
    /// Register the service (automatic start, as LocalService) serving this config.
    Install {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Stop and remove the service.
    Uninstall,
    /// Run as the service (started by the service manager, not by hand).
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new token once, and the [[token]] block (with its hash) for the config.
    New { name: String },
    /// Read a token from standard input and print its SHA-256, for the config's `sha256`.
    Hash,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            allow_plain_http_on_non_loopback,
        } => server::run(server::Options {
            config_path: config,
            allow_plain_http_on_non_loopback,
            stop: None,
        }),
        Command::Check { config } => check(&config),
        Command::Token {
            command: TokenCommand::New { name },
        } => new_token(&name),
        Command::Token {
            command: TokenCommand::Hash,
        } => hash_token(),
        #[cfg(windows)]
        Command::Service { command } => match command {
            ServiceCommand::Install { config } => mikrobill_gateway::windows::install(&config),
            ServiceCommand::Uninstall => mikrobill_gateway::windows::uninstall(),
            ServiceCommand::Run { config } => mikrobill_gateway::windows::run(&config),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mikrobill-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> Result<(), String> {
    let file = config::File::load(path).map_err(|e| e.to_string())?;
    let core = file.core_config().map_err(|e| e.to_string())?;
    mikrobill::Client::new(core).map_err(|e| format!("[core]: {e}"))?;
    let live = state::Live::build(&file, None).map_err(|e| e.to_string())?;
    println!(
        "{}: OK ({} tokens, {})",
        path.display(),
        live.tokens.len(),
        if live.tls.is_some() {
            "HTTPS"
        } else {
            "plain HTTP"
        }
    );
    Ok(())
}

fn new_token(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the token's name must not be empty".into());
    }
    let token = tokens::generate()?;
    println!("Token for {name:?} (shown only now; give it to the client, keep no other copy):");
    println!();
    println!("    {token}");
    println!();
    println!("Add this to the gateway's config and reload it:");
    println!();
    print!("{}", tokens::config_block(name, &token));
    Ok(())
}

fn hash_token() -> Result<(), String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err("no token on standard input".into());
    }
    println!("{}", tokens::hex(&tokens::sha256(token.as_bytes())));
    Ok(())
}
