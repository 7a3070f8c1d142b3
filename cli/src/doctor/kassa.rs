//! The kassa as PHP sees it (`--kassa DIR`): the shim its apicore.php loads, the library that
//! shim finds, config.php one folder up, CRYPTO_KEY_1 from it and CRYPTO_KEY_2 from MySQL's
//! workparams. Each is asked of the shim's own code (probe.php, run by the CLI php in DIR), so
//! the answers are the ones a kassa page gets, and no lookup is written a second time here.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::report::Report;

/// The probe's source, run with `php -r` (which takes the code without its opening tag).
const PROBE: &str = include_str!("probe.php");

/// What the kassa would use, for the core check: its keys and its shim's folder.
#[derive(Default)]
pub struct Found {
    pub key1: Option<String>,
    pub key2: Option<String>,
    pub shim_dir: Option<String>,
}

pub fn check(report: &mut Report, kassa: &Path, php: &str) -> Found {
    let mut found = Found::default();
    let apicore = kassa.join("apicore.php");
    if !apicore.is_file() {
        report.fail(
            "kassa",
            &format!("{} does not exist", apicore.display()),
            "give --kassa the kassa folder of the web root, the one holding apicore.php",
        );
        return found;
    }
    let probe = match run_probe(kassa, &apicore, php) {
        Ok(probe) => probe,
        Err(problem) => {
            report.fail(
                "kassa PHP",
                &problem,
                &format!("install the PHP command line (apt-get install php-cli), or name it with --php; {php} must run"),
            );
            return found;
        }
    };
    let text = |name: &str| probe.get(name).and_then(Value::as_str);
    let failure = |name: &str| {
        probe.get(name).map(|f| {
            (
                f["message"].as_str().unwrap_or("").to_string(),
                f["code"].as_i64().unwrap_or(0),
            )
        })
    };
    let Some(shim) = text("shim") else {
        let (message, _) = failure("shim_error").unwrap_or_default();
        report.fail(
            "shim",
            &format!("{} does not load the shim: {message}", apicore.display()),
            "make the kassa's apicore.php the one line <?php require_once '/path/to/the/shim/apicore.php'; (the PHP chapter's migration)",
        );
        return found;
    };
    report.ok(
        "shim",
        &format!(
            "{shim} (PHP {} on the command line)",
            text("php").unwrap_or("?")
        ),
    );
    found.shim_dir = Path::new(shim).parent().map(|d| d.display().to_string());
    check_library(report, &probe);
    let Some(config) = text("config") else {
        let (message, _) = failure("key1_error").unwrap_or_default();
        report.fail(
            "config.php",
            &format!("not found from {}: {message}", kassa.display()),
            "config.php must be one folder above the kassa folder, as MikroBILL installs it",
        );
        return found;
    };
    report.ok("config.php", config);
    found.key1 = check_key(report, &probe, 1, 32);
    found.key2 = check_key(report, &probe, 2, 16);
    found
}

/// Runs probe.php; its JSON, or why there is none.
fn run_probe(kassa: &Path, apicore: &Path, php: &str) -> Result<Value, String> {
    let code = PROBE.strip_prefix("<?php").unwrap_or(PROBE);
    // display_errors to stderr keeps warnings out of the JSON; ffi.enable=1 because the web
    // server's setting is checked on its own, and this check is about the library.
    let output = Command::new(php)
        .args([
            "-d",
            "display_errors=stderr",
            "-d",
            "ffi.enable=1",
            "-r",
            code,
            "--",
        ])
        .arg(apicore)
        .current_dir(kassa)
        .output()
        .map_err(|e| format!("{php} could not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).map_err(|_| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        format!(
            "{php} stopped before it could say anything ({}): {why}",
            output.status
        )
    })
}

fn check_library(report: &mut Report, probe: &Value) {
    // The shim's MikroBILL_FFI::firstLoadable answers with the library or with why none loads
    // (every candidate tried, or a version of another series).
    let error = probe["library_error"]["message"].as_str();
    let (Some(library), None) = (probe["library"].as_str(), error) else {
        report.fail(
            "library",
            error.unwrap_or("the shim named no library"),
            "install the package again, or name the library in php-fpm's pool \
             (env[MIKROBILL_LIB] = /path/to/libmikrobill.so) and in the master's environment",
        );
        return;
    };
    let version = probe["library_version"].as_str().unwrap_or("?");
    let place = if library.contains('/') || library.contains('\\') {
        library.to_string()
    } else {
        format!("{library}, on the system library path")
    };
    report.ok("library", &format!("{place} loads, version {version}"));
    compare_with_mb(report, version, env!("CARGO_PKG_VERSION"));
    for problem in probe["library_tried"].as_array().into_iter().flatten() {
        report.warn(
            "library",
            &format!("passed over: {}", problem.as_str().unwrap_or("?")),
            "remove or replace that file, so that no PHP loads it",
        );
    }
}

/// The shim accepts any library of its series, but mb, the library and the shim ship together:
/// another version than mb's means the shim found a copy of another release (one left beside
/// the shim when the package was updated, say), which the page runs and mb's checks do not.
fn compare_with_mb(report: &mut Report, library: &str, mb: &str) {
    if library != mb {
        report.warn(
            "library",
            &format!("version {library} is not this mb's {mb}: a copy from another release"),
            "replace that copy with the library installed with mb (or remove it, or name the \
             installed one with MIKROBILL_LIB), then restart php-fpm (or Apache, for mod_php)",
        );
    }
}

/// CRYPTO_KEY_n as the kassa reads it, checked to be base64 of `bytes` bytes; the key itself, for
/// the core check, never printed.
fn check_key(report: &mut Report, probe: &Value, n: u8, bytes: u64) -> Option<String> {
    let name = format!("CRYPTO_KEY_{n}");
    if let Some(error) = probe.get(format!("key{n}_error")) {
        let message = error["message"].as_str().unwrap_or("");
        let code = error["code"].as_i64().unwrap_or(0);
        // probe.php names the kind from the shim's own codes (MikroBILL_Code).
        let fix = match (n, error["kind"].as_str().unwrap_or("")) {
            (1, _) => {
                "set $CRYPTO_KEY_1 in config.php as the MikroBILL installation wrote it".into()
            }
            (_, "no_mysqli") => "install PHP's MySQL extension (apt-get install php-mysql)".into(),
            (_, "row_missing") => {
                "check that $mysql_db in config.php names MikroBILL's database".into()
            }
            _ => format!(
                "check $mysql_adr, $mysql_user, $mysql_pass and $mysql_db in config.php, and that \
                 MySQL runs and lets this host in (MySQL error {code})"
            ),
        };
        let place = if n == 1 {
            "config.php"
        } else {
            "MySQL's workparams"
        };
        report.fail(&name, &format!("not read from {place}: {message}"), &fix);
        return None;
    }
    let key = probe[format!("key{n}")].as_str()?.to_string();
    match probe[format!("key{n}_bytes")].as_u64() {
        Some(got) if got == bytes => {
            let from = if n == 1 {
                "from config.php"
            } else {
                "from MySQL's workparams"
            };
            report.ok(&name, &format!("{from}, base64 of {bytes} bytes"));
            Some(key)
        }
        got => {
            let what = got.map_or("not base64".to_string(), |g| format!("base64 of {g} bytes"));
            report.fail(
                &name,
                &format!("is {what}, not base64 of {bytes} bytes"),
                "copy it again from the MikroBILL installation: the core's keys are these",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_of_another_release_than_mb_is_a_warning() {
        let mut report = Report::new();
        compare_with_mb(&mut report, "0.3.0", "0.3.0");
        assert!(report.lines().is_empty(), "{:?}", report.lines());
        compare_with_mb(&mut report, "0.3.1", "0.3.0");
        let lines = report.lines();
        assert!(
            lines[0].starts_with("warn  library       version 0.3.1 is not this mb's 0.3.0"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("      fix: replace that copy"),
            "{lines:?}"
        );
        assert!(!report.failed());
    }
}
