//! Tab completion for `mb shell`: path segments from the class tree, GUIDs seen in replies
//! earlier in the session, and the backslash commands.

use std::collections::BTreeSet;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::paths;

const COMMANDS: &[&str] = &["help", "json", "pretty", "q", "timing"];

#[derive(Default)]
pub struct ShellHelper {
    pub guids: BTreeSet<String>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let word_start = before.len() - before.trim_start().len();
        let word = &before[word_start..];
        // Only the first word (the path) is completed; the value is free JSON text.
        if word.contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        if let Some(command) = word.strip_prefix('\\') {
            let found = COMMANDS
                .iter()
                .filter(|c| c.starts_with(command))
                .map(|c| pair(c, &format!("{c} ")))
                .collect();
            return Ok((word_start + 1, found));
        }
        let (done, partial) = match word.rfind('.') {
            Some(dot) => (&word[..dot], &word[dot + 1..]),
            None => ("", word),
        };
        let done: Vec<&str> = if done.is_empty() {
            Vec::new()
        } else {
            done.split('.').collect()
        };
        let found = paths::next_segments(&done, partial, self.guids.iter().map(String::as_str))
            .into_iter()
            .map(|next| {
                let suffix = if next.has_children { "." } else { " " };
                pair(&next.segment, &format!("{}{suffix}", next.segment))
            })
            .collect();
        Ok((pos - partial.len(), found))
    }
}

fn pair(display: &str, replacement: &str) -> Pair {
    Pair {
        display: display.to_string(),
        replacement: replacement.to_string(),
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}
