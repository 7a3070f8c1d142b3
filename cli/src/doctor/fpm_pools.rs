//! php-fpm's pools, which `php-fpm -i` does not see: a pool's `php_admin_value` or `php_value`
//! overrides php.ini for the pages it runs. Two lines there break the shim whatever php.ini says:
//! ffi.enable turned off, and a preload set in the pool, where it has no effect (the master
//! preloads once; a pool's values are applied in its workers). `php-fpm -tt` prints every pool as
//! the server would run it, its include files read, so the pool files are not parsed here.

use std::process::Command;

use super::report::Report;

/// One pool and the PHP settings it overrides, as `(key, value)`.
#[derive(Debug, PartialEq)]
struct Pool {
    name: String,
    settings: Vec<(String, String)>,
}

pub fn check(report: &mut Report, binary: &str, restart: &str) {
    let dump = Command::new(binary).arg("-tt").output().map(|o| {
        // php-fpm writes the dump to standard error, as log lines.
        let mut text = String::from_utf8_lossy(&o.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&o.stdout));
        text
    });
    let text = match dump {
        Ok(text) => text,
        Err(e) => {
            report.skip("pools", &format!("{binary} -tt could not run: {e}"));
            return;
        }
    };
    let Some(pools) = pools(&text) else {
        // It stopped before the dump: as another user than root it cannot open its log, and a
        // preload that fails (reported above) stops it too.
        let why = text
            .lines()
            .map(message)
            .find(|l| l.starts_with("ERROR:") || l.contains("Fatal error"))
            .unwrap_or("no output");
        report.skip(
            "pools",
            &format!("{binary} -tt did not list them (run mb doctor as root to read them): {why}"),
        );
        return;
    };
    evaluate(report, &pools, restart);
}

fn evaluate(report: &mut Report, pools: &[Pool], restart: &str) {
    let mut found = false;
    for pool in pools {
        for (key, value) in &pool.settings {
            let name = &pool.name;
            let fix = format!(
                "remove the {key} line from pool [{name}] ({}), then restart {restart}",
                pool_files(restart)
            );
            match key.as_str() {
                "ffi.enable" => match php_ffi_enable(value) {
                    FfiEnable::Preload => {}
                    FfiEnable::On => {
                        found = true;
                        report.warn(
                            "pools",
                            &format!(
                                "[{name}] sets ffi.enable={value}: every PHP file of that pool \
                                 can call into C"
                            ),
                            &fix,
                        );
                    }
                    FfiEnable::Off => {
                        found = true;
                        report.fail(
                            "pools",
                            &format!(
                                "[{name}] sets ffi.enable={value:?}: FFI is off for that pool's \
                                 pages, which cannot load the library"
                            ),
                            &fix,
                        );
                    }
                },
                "opcache.preload" | "opcache.preload_user" => {
                    found = true;
                    report.warn(
                        "pools",
                        &format!(
                            "[{name}] sets {key}, which has no effect in a pool: the master \
                             preloads once, from php.ini, and a pool's values apply only in its \
                             workers"
                        ),
                        &format!("{fix}; the preload belongs in php.ini or conf.d (see above)"),
                    );
                }
                _ => {}
            }
        }
    }
    if !found {
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        report.ok(
            "pools",
            &format!(
                "{}: none changes ffi.enable or the preload",
                names.join(", ")
            ),
        );
    }
}

enum FfiEnable {
    Preload,
    On,
    Off,
}

/// An ffi.enable value as PHP reads it (`-tt` shows it as written; `-i` shows PHP's reading):
/// "preload" in any case, else a boolean, true for on, yes, true or a number other than 0.
fn php_ffi_enable(value: &str) -> FfiEnable {
    // php-fpm's dump shows the value trimmed, as its configuration parser read it.
    let value = value.to_ascii_lowercase();
    if value == "preload" {
        return FfiEnable::Preload;
    }
    // PHP takes the number at the start, as strtol does: "2" and "1x" are on, "x" is 0.
    let sign = usize::from(value.starts_with(['-', '+']));
    let digits = value[sign..].bytes().take_while(u8::is_ascii_digit).count();
    let number = &value[sign..sign + digits];
    if matches!(value.as_str(), "on" | "yes" | "true") || number.bytes().any(|b| b != b'0') {
        FfiEnable::On
    } else {
        FfiEnable::Off
    }
}

/// Where Debian keeps the pools of `service` (php8.2-fpm: /etc/php/8.2/fpm/pool.d).
fn pool_files(service: &str) -> String {
    match service
        .strip_prefix("php")
        .and_then(|s| s.strip_suffix("-fpm"))
    {
        Some(version) if !version.is_empty() => format!("in /etc/php/{version}/fpm/pool.d/"),
        _ => "its file is included by php-fpm.conf".to_string(),
    }
}

/// A log line's message: `[04-Dec-2026 07:53:10] NOTICE: text` gives `NOTICE: text`.
fn message(line: &str) -> &str {
    match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((_, rest)) => rest,
        None => line,
    }
}

/// The pools of `php-fpm -tt`'s dump and the PHP settings each overrides, or `None` when the text
/// holds no dump. A flag (`php_admin_flag`) is dumped as a value, so both read alike.
fn pools(text: &str) -> Option<Vec<Pool>> {
    let mut pools: Vec<Pool> = Vec::new();
    let mut in_dump = false;
    for line in text.lines() {
        let Some(notice) = message(line).strip_prefix("NOTICE:") else {
            continue;
        };
        let entry = notice.strip_prefix(' ').unwrap_or(notice);
        if let Some(name) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
            if name == "global" {
                in_dump = true;
            } else if in_dump {
                pools.push(Pool {
                    name: name.to_string(),
                    settings: Vec::new(),
                });
            }
            continue;
        }
        let Some(pool) = pools.last_mut() else {
            continue;
        };
        let setting = entry.trim_start_matches('\t');
        let Some(rest) = ["php_admin_value[", "php_value["]
            .iter()
            .find_map(|prefix| setting.strip_prefix(prefix))
        else {
            continue;
        };
        if let Some((key, value)) = rest.split_once("] = ") {
            pool.settings.push((key.to_string(), value.to_string()));
        }
    }
    in_dump.then_some(pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "\
[04-Dec-2026 07:53:13] NOTICE: [global]
[04-Dec-2026 07:53:13] NOTICE: \tpid = /run/php/php8.2-fpm.pid
[04-Dec-2026 07:53:13] NOTICE:  
[04-Dec-2026 07:53:13] NOTICE: [www]
[04-Dec-2026 07:53:13] NOTICE: \tuser = www-data
[04-Dec-2026 07:53:13] NOTICE: \tenv[MIKROBILL_LIB] = /x/libmikrobill.so
[04-Dec-2026 07:53:13] NOTICE: \tphp_value[ffi.enable] = 1
[04-Dec-2026 07:53:13] NOTICE: \tphp_admin_value[memory_limit] = 256M
[04-Dec-2026 07:53:13] NOTICE:  
[04-Dec-2026 07:53:13] NOTICE: [kassa]
[04-Dec-2026 07:53:13] NOTICE: \tphp_admin_value[ffi.enable] = 0
[04-Dec-2026 07:53:13] NOTICE: \tphp_admin_value[opcache.preload] = /srv/preload.php
[04-Dec-2026 07:53:13] NOTICE:  
[04-Dec-2026 07:53:13] NOTICE: configuration file /etc/php/8.2/fpm/php-fpm.conf test is successful
";

    fn setting(key: &str, value: &str) -> (String, String) {
        (key.to_string(), value.to_string())
    }

    #[test]
    fn the_dump_gives_each_pool_its_php_settings() {
        assert_eq!(
            pools(DUMP).unwrap(),
            [
                Pool {
                    name: "www".into(),
                    settings: vec![setting("ffi.enable", "1"), setting("memory_limit", "256M")],
                },
                Pool {
                    name: "kassa".into(),
                    settings: vec![
                        setting("ffi.enable", "0"),
                        setting("opcache.preload", "/srv/preload.php")
                    ],
                },
            ]
        );
        let failed =
            "[04-Dec-2026 07:55:00] ERROR: failed to open error_log (/var/log/php8.2-fpm.log)";
        assert_eq!(pools(failed), None);
    }

    #[test]
    fn ffi_enable_is_read_as_php_reads_it() {
        for on in ["1", "On", "YES", "true", "2", "-1", "1x"] {
            assert!(matches!(php_ffi_enable(on), FfiEnable::On), "{on}");
        }
        for off in ["0", "Off", "", "no", "false", "x1", "00", "-"] {
            assert!(matches!(php_ffi_enable(off), FfiEnable::Off), "{off}");
        }
        assert!(matches!(php_ffi_enable("PreLoad"), FfiEnable::Preload));
    }

    #[test]
    fn a_pool_that_turns_ffi_off_fails_and_a_preload_there_is_named() {
        let mut report = Report::new();
        evaluate(&mut report, &pools(DUMP).unwrap(), "php8.2-fpm");
        let lines = report.lines();
        assert!(
            lines[0].starts_with("warn  pools") && lines[0].contains("[www] sets ffi.enable=1"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("FAIL  pools") && lines[2].contains("[kassa]"),
            "{lines:?}"
        );
        assert!(
            lines[3].contains("in /etc/php/8.2/fpm/pool.d/), then restart php8.2-fpm"),
            "{lines:?}"
        );
        assert!(
            lines[4].contains("opcache.preload, which has no effect"),
            "{lines:?}"
        );
        assert!(report.failed());

        let mut report = Report::new();
        let quiet = [Pool {
            name: "www".into(),
            settings: vec![setting("ffi.enable", "preload")],
        }];
        evaluate(&mut report, &quiet, "php8.2-fpm");
        assert_eq!(
            report.lines(),
            ["ok    pools         www: none changes ffi.enable or the preload"]
        );
    }
}
