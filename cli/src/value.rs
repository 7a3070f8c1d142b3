//! The request value: JSON text from an argument, from standard input (`-`) or from a file
//! (`@FILE`). No JSON text begins with `@`, and `-` alone is not JSON, so neither is ambiguous.

use std::io::Read;

/// The value's JSON text, checked here so that a mistake gets a hint instead of the library's
/// parser message. An `Err` is a message for the user (exit code 2).
pub fn load(spec: &str) -> Result<String, String> {
    // Only a value typed as an argument is read by a shell: its hint gets the shell's quotes.
    let typed = spec != "-" && !spec.starts_with('@');
    let text = if spec == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the value from standard input: {e}"))?;
        text
    } else if let Some(file) = spec.strip_prefix('@') {
        std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the value from {file}: {e}"))?
    } else {
        spec.to_string()
    };
    check(
        &text,
        if typed {
            Hint::ShellArgument
        } else {
            Hint::Json
        },
    )?;
    Ok(text)
}

/// How a hint writes the quoted form of a bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// As JSON: where the text is read as is (mb shell's lines, files, standard input).
    Json,
    /// As JSON in a shell's single quotes: a command-line argument.
    ShellArgument,
}

/// Checks that `text` is JSON; a bare word gets the quoted form to type instead.
pub fn check(text: &str, hint: Hint) -> Result<(), String> {
    let error = match mikrobill::protocol::phpjson::parse(text) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let word = text.trim();
    if looks_like_a_bare_word(word) {
        let json = serde_json::to_string(word).expect("a string always serializes");
        let quoted = match hint {
            Hint::Json => json,
            Hint::ShellArgument => format!("'{}'", json.replace('\'', r"'\''")),
        };
        return Err(format!(
            "the value must be JSON; to send the text {word} write it in quotes: {quoted}"
        ));
    }
    Err(format!("the value is not valid JSON: {error}"))
}

/// Text that a user meant as a string: no JSON punctuation at its start, not a JSON keyword.
fn looks_like_a_bare_word(word: &str) -> bool {
    match word.chars().next() {
        None => false,
        Some(c) => !matches!(c, '{' | '[' | '"' | '-' | '0'..='9') && !word.contains(['{', '[']),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_words_get_the_quoted_form() {
        let e = check("Петров", Hint::ShellArgument).unwrap_err();
        assert!(e.ends_with(r#"write it in quotes: '"Петров"'"#), "{e}");
        let e = check("Иван Петров", Hint::ShellArgument).unwrap_err();
        assert!(e.ends_with(r#"'"Иван Петров"'"#), "{e}");
        // In mb shell the line is read as is: the hint is the JSON itself, which it accepts.
        let e = check("Петров", Hint::Json).unwrap_err();
        assert!(e.ends_with(r#"write it in quotes: "Петров""#), "{e}");
        assert_eq!(check(r#""Петров""#, Hint::Json), Ok(()));
        // A quote in the word survives the shell's quoting.
        let e = check("O'Neil", Hint::ShellArgument).unwrap_err();
        assert!(e.ends_with(r#"'"O'\''Neil"'"#), "{e}");
    }

    #[test]
    fn json_passes_and_broken_json_names_the_problem() {
        for ok in ["1", "-1.50", "\"x\"", "null", "true", "[1,{\"a\":2}]"] {
            assert_eq!(check(ok, Hint::Json), Ok(()), "{ok}");
        }
        let e = check("{\"a\":", Hint::Json).unwrap_err();
        assert!(e.starts_with("the value is not valid JSON"), "{e}");
    }
}
