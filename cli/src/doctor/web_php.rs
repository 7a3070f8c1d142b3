//! PHP as the kassa's web server runs it, whose settings are not the command line's: php-fpm's
//! own `-i` (its php.ini and conf.d), or for Apache's mod_php the CLI php reading Apache's ini
//! folder; on Windows, where one php.ini usually serves both, the CLI php's own. What matters to
//! the shim: FFI loaded, and either the shim preloaded under PHP's default ffi.enable=preload, or
//! ffi.enable=1 with what that opens (on Windows, which has no preload, the one way).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::report::Report;

pub enum WebPhp {
    Fpm(String),
    Apache {
        php: String,
        ini_dir: PathBuf,
    },
    /// The command-line php with its own php.ini (Windows' default).
    Cli(String),
}

/// The newest php-fpmX.Y on PATH (Debian names them so), or plain php-fpm.
pub fn default_fpm() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let mut best: Option<((u32, u32), String)> = None;
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = match name.strip_prefix("php-fpm") {
                Some("") => (0, 0),
                Some(v) => match v.split_once('.') {
                    Some((a, b)) => match (a.parse(), b.parse()) {
                        (Ok(a), Ok(b)) => (a, b),
                        _ => continue,
                    },
                    None => continue,
                },
                None => continue,
            };
            if best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, name));
            }
        }
    }
    best.map(|(_, name)| name)
}

pub fn check(report: &mut Report, web: &WebPhp, shim_dir: Option<&str>) {
    let (mut command, what) = match web {
        WebPhp::Fpm(binary) => {
            let mut command = Command::new(binary);
            command.arg("-i");
            (command, binary.clone())
        }
        WebPhp::Apache { php, ini_dir } => {
            let mut command = Command::new(php);
            command
                .arg("-c")
                .arg(ini_dir.join("php.ini"))
                .arg("-i")
                .env("PHP_INI_SCAN_DIR", ini_dir.join("conf.d"));
            (command, format!("{php} with {}", ini_dir.display()))
        }
        WebPhp::Cli(php) => {
            let mut command = Command::new(php);
            command.arg("-i");
            (command, php.clone())
        }
    };
    let fix_run = if cfg!(windows) {
        "install PHP, or name the php.exe the web server runs with --php C:\\php\\php.exe"
    } else {
        "name the kassa's web server PHP: --php-fpm php-fpm8.2 (its binary), or --apache-ini \
         /etc/php/8.2/apache2 for Apache's mod_php"
    };
    let output = match command.output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            // It ran, and refused its own settings: the service would not start either.
            let stderr = String::from_utf8_lossy(&o.stderr);
            let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            report.fail(
                "web PHP",
                &format!("{what} refuses its settings ({}): {why}", o.status),
                "correct what it names in its php.ini or conf.d, then restart it (the lines the \
                 shim's ini.php prints set opcache.preload and opcache.preload_user together)",
            );
            return;
        }
        Err(e) => {
            report.fail("web PHP", &format!("{what} could not run: {e}"), fix_run);
            return;
        }
    };
    let info = settings(&String::from_utf8_lossy(&output.stdout));
    let restart = match web {
        WebPhp::Fpm(binary) => service_of(binary),
        WebPhp::Apache { .. } => "apache2".to_string(),
        WebPhp::Cli(_) => "Apache".to_string(),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let platform = if cfg!(windows) {
        Platform::Windows
    } else {
        Platform::Unix
    };
    evaluate(report, &info, &stderr, platform, &restart, shim_dir);
}

#[derive(Clone, Copy, PartialEq)]
enum Platform {
    Unix,
    /// No opcache.preload: ffi.enable=1 is the one way.
    Windows,
}

/// What the settings (`-i`'s) and its standard error mean for the shim.
fn evaluate(
    report: &mut Report,
    info: &HashMap<String, String>,
    stderr: &str,
    platform: Platform,
    restart: &str,
    shim_dir: Option<&str>,
) {
    let get = |name: &str| info.get(name).map(String::as_str).unwrap_or("");
    let scan_dir = get("Scan this dir for additional .ini files");
    report.ok(
        "web PHP",
        &format!(
            "PHP {} ({}, ini {})",
            get("PHP Version"),
            get("Server API"),
            get("Loaded Configuration File")
        ),
    );
    // Windows' fix: the zip's php\mikrobill.ini holds the two lines.
    let windows_fix =
        "append the zip's php\\mikrobill.ini (extension=ffi, ffi.enable=1) to php.ini, \
                       then restart Apache";
    if get("FFI support") != "enabled" {
        let fix = match platform {
            Platform::Windows => windows_fix.to_string(),
            Platform::Unix => format!("enable it (phpenmod ffi) and restart {restart}"),
        };
        report.fail("FFI", "the FFI extension is not loaded", &fix);
        return;
    }
    report.ok("FFI", "the extension is loaded");
    // The shim reads CRYPTO_KEY_2 from workparams through mysqli when a page does not give it.
    if get("MysqlI Support") != "enabled" {
        let package = match platform {
            Platform::Windows => "extension=mysqli in php.ini".to_string(),
            Platform::Unix => format!("apt-get install {}", php_package(restart, "mysql")),
        };
        report.warn(
            "mysqli",
            "not loaded: a page that leaves CRYPTO_KEY_2 to workparams gets error 9005",
            &format!("{package}, then restart {restart}"),
        );
    }
    if platform == Platform::Windows {
        match get("ffi.enable") {
            "On" | "1" | "true" | "yes" => report.ok(
                "ffi.enable",
                "1, the one way on Windows (no preload there): every PHP file this server runs \
                 can call into C",
            ),
            other => report.fail(
                "ffi.enable",
                &format!("{other:?}: PHP has no opcache.preload on Windows, so kassa pages cannot load the library"),
                windows_fix,
            ),
        }
        return;
    }
    let ini_fix = match shim_dir {
        Some(dir) => format!(
            "php {dir}/ini.php > {scan_dir}/90-mikrobill.ini (the .deb: phpenmod -s fpm mikrobill), \
             then restart {restart}"
        ),
        None => format!(
            "print the lines with php /path/to/the/shim/ini.php > {scan_dir}/90-mikrobill.ini, then \
             restart {restart}"
        ),
    };
    // php-fpm -i preloads as its service's start does: a preload that fails says so here.
    let preload_error = stderr.lines().find_map(|l| {
        l.split_once("PHP Fatal error:")
            .map(|(_, e)| e.trim().to_string())
    });
    match get("ffi.enable") {
        "preload" => check_preload(report, info, &ini_fix, restart, preload_error.as_deref()),
        "On" | "1" | "true" | "yes" => report.warn(
            "ffi.enable",
            "1: every PHP file this server runs can call into C",
            &format!(
                "preload the shim instead and keep PHP's default ffi.enable=preload: {ini_fix}"
            ),
        ),
        other => report.fail(
            "ffi.enable",
            &format!("{other:?}: FFI is off, kassa pages cannot load the library"),
            &format!("set ffi.enable=preload and preload the shim: {ini_fix}"),
        ),
    }
}

/// Under ffi.enable=preload only preloaded code may use FFI: the shim must be preloaded.
fn check_preload(
    report: &mut Report,
    info: &HashMap<String, String>,
    ini_fix: &str,
    restart: &str,
    preload_error: Option<&str>,
) {
    let get = |name: &str| info.get(name).map(String::as_str).unwrap_or("");
    if !info.contains_key("opcache.enable") {
        report.fail(
            "preload",
            "ffi.enable=preload, but OPcache, which preloads, is not loaded",
            &format!(
                "install and enable OPcache (apt-get install {}; phpenmod opcache), then restart \
                 {restart}",
                php_package(restart, "opcache")
            ),
        );
        return;
    }
    let preload = get("opcache.preload");
    if get("opcache.enable") != "On" {
        report.fail(
            "preload",
            "opcache.enable is Off, so nothing is preloaded",
            ini_fix,
        );
    } else if preload.is_empty() || preload == "no value" {
        report.fail(
            "preload",
            "ffi.enable=preload, but nothing is preloaded: kassa pages cannot load the library",
            ini_fix,
        );
    } else if !Path::new(preload).is_file() {
        report.fail(
            "preload",
            &format!("opcache.preload={preload} does not exist"),
            ini_fix,
        );
    } else if let Some(error) = preload_error {
        report.fail(
            "preload",
            &format!("{preload} fails, so the server does not start: {error}"),
            "make the library loadable where the shim looks (reinstall the package), or name it \
             with MIKROBILL_LIB in the service's environment (systemd: Environment= in an override)",
        );
    } else if !Path::new(preload).with_file_name("apicore.php").is_file() {
        report.warn(
            "preload",
            &format!("{preload} has no apicore.php beside it: it is not the MikroBILL shim's"),
            ini_fix,
        );
    } else {
        let user = match get("opcache.preload_user") {
            "" | "no value" => "the master's".to_string(),
            user => user.to_string(),
        };
        report.ok(
            "preload",
            &format!("{preload} (as user {user}), ffi.enable=preload"),
        );
    }
}

/// `phpinfo()` as text: `name => value` or `name => local value => master value`; the first
/// (local) value of each name.
fn settings(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(" => ");
        if let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            map.entry(name.trim().to_string())
                .or_insert_with(|| value.trim().to_string());
        }
    }
    map
}

/// The service that runs `binary`: Debian's php-fpm8.2 is the service php8.2-fpm.
pub(super) fn service_of(binary: &str) -> String {
    let name = Path::new(binary)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_prefix("php-fpm") {
        Some(version) if !version.is_empty() => format!("php{version}-fpm"),
        _ => "php-fpm".to_string(),
    }
}

/// Debian's package of `extension` for the PHP of `service`: php8.2-opcache for php8.2-fpm (the
/// unversioned php-opcache may be another PHP's), php-opcache when the version is not known.
fn php_package(service: &str, extension: &str) -> String {
    match service.strip_suffix("-fpm") {
        Some(php) if php.starts_with("php") && php.len() > 3 => format!("{php}-{extension}"),
        _ => format!("php-{extension}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluated(info: &str, platform: Platform) -> Vec<String> {
        let mut report = Report::new();
        let info = settings(info);
        evaluate(
            &mut report,
            &info,
            "",
            platform,
            "apache2",
            Some("C:/mikrobill/php"),
        );
        // After the line that names the PHP, and the one that says FFI is loaded.
        let skip = if info.contains_key("FFI support") {
            2
        } else {
            1
        };
        report.lines()[skip..].to_vec()
    }

    #[test]
    fn windows_has_no_preload_so_ffi_enable_1_is_the_way() {
        let ffi = "FFI support => enabled\nMysqlI Support => enabled\n";
        let lines = evaluated(
            &format!("{ffi}ffi.enable => preload => preload\n"),
            Platform::Windows,
        );
        assert!(lines[0].starts_with("FAIL  ffi.enable"), "{lines:?}");
        assert!(lines[1].contains("php\\mikrobill.ini"), "{lines:?}");
        let lines = evaluated(&format!("{ffi}ffi.enable => On => On\n"), Platform::Windows);
        assert!(lines[0].starts_with("ok    ffi.enable"), "{lines:?}");
        // The same settings elsewhere: a warning, and the preload as the fix.
        let lines = evaluated(&format!("{ffi}ffi.enable => On => On\n"), Platform::Unix);
        assert!(lines[0].starts_with("warn  ffi.enable"), "{lines:?}");
        assert!(lines[1].contains("C:/mikrobill/php/ini.php"), "{lines:?}");
        let lines = evaluated("ffi.enable => On => On\n", Platform::Windows);
        assert!(lines[0].starts_with("FAIL  FFI"), "{lines:?}");
        assert!(lines[1].contains("extension=ffi"), "{lines:?}");
    }

    #[test]
    fn phpinfo_text_and_service_names() {
        let info =
            settings("PHP Version => 8.2.36\nffi.enable => preload => preload\nZend OPcache\n");
        assert_eq!(info["PHP Version"], "8.2.36");
        assert_eq!(info["ffi.enable"], "preload");
        assert_eq!(service_of("/usr/sbin/php-fpm8.2"), "php8.2-fpm");
        assert_eq!(service_of("php-fpm"), "php-fpm");
        assert_eq!(php_package("php8.2-fpm", "opcache"), "php8.2-opcache");
        assert_eq!(php_package("php-fpm", "mysql"), "php-mysql");
        assert_eq!(php_package("apache2", "opcache"), "php-opcache");
    }
}
