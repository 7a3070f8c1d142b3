//! `cargo xtask codegen [--check]`: writes every generated file of the repository from its one
//! source in Rust (the C ABI in `src/ffi`, the tables in `mikrobill::abi`), or with `--check`
//! fails naming each committed file that differs from what would be generated (CI).
//!
//! Each generator module returns its files as (path from the repository root, content).

mod dotnet;
mod header;
mod php;
mod python;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A file to write: its path from the repository root and its whole content.
type Generated = (&'static str, String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["codegen"] => false,
        ["codegen", "--check"] => true,
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            return ExitCode::from(2);
        }
    };
    let root = repository_root();
    let mut files = vec![header::generate(&root)];
    files.extend(php::files());
    files.extend(dotnet::files());
    files.extend(python::files());

    let mut stale = Vec::new();
    for (path, content) in &files {
        let target = root.join(path);
        let current = std::fs::read_to_string(&target).ok();
        if current.as_deref() == Some(content.as_str()) {
            continue;
        }
        if check {
            stale.push(*path);
        } else if let Err(e) = write(&target, content) {
            eprintln!("xtask: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        } else {
            println!("wrote {path}");
        }
    }
    if stale.is_empty() {
        return ExitCode::SUCCESS;
    }
    for path in stale {
        eprintln!("{path} is stale: run `cargo xtask codegen` and commit the result");
    }
    ExitCode::FAILURE
}

fn write(target: &Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(target, content)
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the root")
        .to_path_buf()
}
