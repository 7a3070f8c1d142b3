//! `mb completions SHELL`: the completion script clap_complete derives from the command line.

use clap::CommandFactory;
use clap_complete::{generate, Shell};

use crate::args::{Cli, CompletionShell};

pub fn run(shell: CompletionShell) -> i32 {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    generate(shell, &mut Cli::command(), "mb", &mut std::io::stdout());
    0
}
