//! `mb doctor`: each check seen failing and passing, against the simulator, an HTTP listener, a
//! kassa web root laid out as MikroBILL installs it, a private MariaDB with a workparams table,
//! and Debian's php-fpm8.2; and no secret of config.php, workparams or the command line in what
//! it prints. Needs php8.2-cli, php8.2-fpm, php8.2-mysql and mariadb-server (scripts/setup.sh),
//! and the library built (`cargo build --release`, or MIKROBILL_LIB naming it).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mikrobill_testkit::sim::{Sim, TempDir};

const DEMO_KEY1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The keys of the installation the kassa fixture stands for (not the demo ones).
const KASSA_KEY1: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const KASSA_KEY2: &str = "QEFCQ0RFRkdISUpLTE1OTw==";
const DB_PASSWORD: &str = "db-secret-5b1e";
const CASHIER_PASSWORD: &str = "cashier-secret-77";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn library() -> PathBuf {
    let lib = std::env::var_os("MIKROBILL_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/libmikrobill.so"));
    assert!(
        lib.is_file(),
        "{} is missing: cargo build --release (or set MIKROBILL_LIB)",
        lib.display()
    );
    lib
}

/// `mb doctor ARGS` with only the environment given (and PATH, for php and php-fpm).
fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MIKROBILL_PASSWORD", CASHIER_PASSWORD);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The line of `check`, and the fix line under it when there is one.
fn line_of(o: &Output, check: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.get(6..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no line for {check}:\n{out}"));
    let mut line = lines[at].to_string();
    if let Some(fix) = lines.get(at + 1).filter(|l| l.starts_with("      fix: ")) {
        line.push('\n');
        line.push_str(fix);
    }
    line
}

fn assert_line(o: &Output, check: &str, status: &str, contains: &[&str]) {
    let line = line_of(o, check);
    assert!(
        line.starts_with(status),
        "{check} is not {status}:\n{}",
        text(o)
    );
    for part in contains {
        assert!(line.contains(part), "{check}: no {part:?} in:\n{line}");
    }
}

/// A simulator whose cashier `api` has CASHIER_PASSWORD and whose keys are `key1`/`key2`.
fn simulator(dir: &Path, key1: &str, key2: &str) -> Sim {
    let config = dir.join("sim.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"key1":"{key1}","key2":"{key2}","cashiers":[{{"login":"api","password":"{CASHIER_PASSWORD}"}}]}}"#
        ),
    )
    .unwrap();
    Sim::launch()
        .args(&["--config", config.to_str().unwrap()])
        .start()
}

#[test]
fn the_core_checks_fail_and_pass() {
    let dir = TempDir::new("core");
    let sim = simulator(&dir.0, DEMO_KEY1, "EBESExQVFhcYGRobHB0eHw==");
    let port = sim.port.to_string();
    let o = doctor(&["--port", &port], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_line(&o, "core port", "ok", &["accepts connections"]);
    assert_line(&o, "core login", "ok", &["api accepted", "ms"]);
    assert_line(&o, "kassa", "skip", &["--kassa DIR"]);

    // Nothing listens.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let o = doctor(&["--port", &closed_port], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_line(
        &o,
        "core port",
        "FAIL",
        &["Connection refused", "fix: start the core"],
    );
    assert_line(&o, "core login", "skip", &["needs the port open"]);

    // A web server on the port.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port().to_string();
    // Two connections: the port check's, then the login's.
    let server = std::thread::spawn(move || {
        for peer in http.incoming().take(2) {
            let mut peer = peer.unwrap();
            let _ = peer.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = [0u8; 256];
            let _ = peer.read(&mut request);
            let _ = peer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let o = doctor(&["--port", &http_port], &[]);
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_line(&o, "core port", "ok", &[]);
    assert_line(
        &o,
        "core login",
        "FAIL",
        &["answers in HTTP", "fix: give --port the core's API port"],
    );

    // Keys that are not the core's.
    let o = doctor(&["--port", &port], &[("MIKROBILL_KEY1", KASSA_KEY1)]);
    assert_eq!(o.status.code(), Some(1));
    assert_line(
        &o,
        "core login",
        "FAIL",
        &["fix: the keys must be the core's"],
    );
    // A password the core refuses.
    let o = doctor(&["--port", &port], &[("MIKROBILL_PASSWORD", "wrong")]);
    assert_line(
        &o,
        "core login",
        "FAIL",
        &["fix: check the cashier's login and password"],
    );
}

/// A private MariaDB server (own datadir, socket and port) holding MikroBILL's workparams table,
/// with a user that connects over TCP with DB_PASSWORD; stopped on drop.
struct MariaDb {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl MariaDb {
    fn start(key2: &str) -> MariaDb {
        let dir = TempDir::new("mariadb");
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let user = user.trim();
        let data = dir.0.join("db");
        let o = Command::new("mariadb-install-db")
            .args(["--no-defaults", &format!("--user={user}")])
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("mariadb-install-db (mariadb-server, scripts/setup.sh)");
        assert!(o.status.success(), "mariadb-install-db: {}", text(&o));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let socket = dir.0.join("mysqld.sock");
        let child = Command::new("mariadbd")
            .args(["--no-defaults", &format!("--user={user}")])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .arg(format!("--pid-file={}", dir.0.join("mysqld.pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.0.join("mysqld.err").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let db = MariaDb {
            child,
            port,
            _dir: dir,
        };
        let sql = format!(
            "CREATE DATABASE mikrobill;
             CREATE TABLE mikrobill.workparams (param_name VARCHAR(64) PRIMARY KEY, param_value TEXT);
             INSERT INTO mikrobill.workparams VALUES ('CRYPTO_KEY_2', '{key2}');
             CREATE DATABASE mikrobill_norow;
             CREATE TABLE mikrobill_norow.workparams LIKE mikrobill.workparams;
             CREATE USER 'kassa'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';
             GRANT SELECT ON mikrobill.* TO 'kassa'@'127.0.0.1';
             GRANT SELECT ON mikrobill_norow.* TO 'kassa'@'127.0.0.1';"
        );
        let started = Instant::now();
        loop {
            let mut client = Command::new("mariadb")
                .args(["--no-defaults", "-uroot"])
                .arg(format!("--socket={}", socket.display()))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the mariadb client");
            client
                .stdin
                .take()
                .unwrap()
                .write_all(sql.as_bytes())
                .unwrap();
            if client.wait().unwrap().success() {
                return db;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mariadbd did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A web root as MikroBILL installs it (config.php above kassa/), migrated: kassa/apicore.php is
/// the one line that loads this checkout's shim.
fn web_root(dir: &Path, key1: &str, mysql_port: u16) -> PathBuf {
    let kassa = dir.join("www/kassa");
    std::fs::create_dir_all(&kassa).unwrap();
    std::fs::write(
        dir.join("www/config.php"),
        format!(
            "<?php\n$CRYPTO_KEY_1 = '{key1}';\n$mysql_adr = '127.0.0.1:{mysql_port}'; $mysql_user = 'kassa'; \
             $mysql_pass = '{DB_PASSWORD}'; $mysql_db = 'mikrobill';\n"
        ),
    )
    .unwrap();
    std::fs::write(
        kassa.join("apicore.php"),
        format!(
            "<?php require_once '{}';\n",
            repo().join("bindings/php/apicore.php").display()
        ),
    )
    .unwrap();
    kassa
}

#[test]
fn the_kassa_checks_fail_and_pass_and_print_no_secret() {
    let dir = TempDir::new("kassa");
    let lib = library();
    let lib_text = lib.to_str().unwrap();
    let db = MariaDb::start(KASSA_KEY2);
    let sim = simulator(&dir.0, KASSA_KEY1, KASSA_KEY2);
    let port = sim.port.to_string();
    let kassa = web_root(&dir.0, KASSA_KEY1, db.port);
    let kassa_text = kassa.to_str().unwrap();
    let with_lib = [("MIKROBILL_LIB", lib_text)];

    // Everything the kassa needs is there; the core is checked with the kassa's own keys (the
    // demo keys, mb's default, would be refused). The web server's PHP is checked separately.
    let o = doctor(&["--kassa", kassa_text, "--port", &port], &with_lib);
    assert_line(&o, "shim", "ok", &["bindings/php/apicore.php"]);
    assert_line(&o, "library", "ok", &[lib_text, "loads, version"]);
    assert_line(&o, "config.php", "ok", &["www/config.php"]);
    assert_line(&o, "CRYPTO_KEY_1", "ok", &["base64 of 32 bytes"]);
    assert_line(
        &o,
        "CRYPTO_KEY_2",
        "ok",
        &["workparams", "base64 of 16 bytes"],
    );
    assert_line(&o, "core login", "ok", &["api accepted"]);
    let everything = text(&o);
    for secret in [KASSA_KEY1, KASSA_KEY2, DB_PASSWORD, CASHIER_PASSWORD] {
        assert!(
            !everything.contains(secret),
            "a secret in the output:\n{everything}"
        );
    }

    // A truncated copy of the library.
    let bytes = std::fs::read(&lib).unwrap();
    let truncated = dir.0.join("libmikrobill.so");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let o = doctor(
        &["--kassa", kassa_text, "--port", &port],
        &[("MIKROBILL_LIB", truncated.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_line(
        &o,
        "library",
        "FAIL",
        &["is incomplete", "fix: install the package again"],
    );

    // MySQL down: CRYPTO_KEY_2 cannot be read, and the core check falls back to mb's keys.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = TempDir::new("kassa-mysql-down");
    let kassa_down = web_root(&down.0, KASSA_KEY1, closed);
    let o = doctor(
        &["--kassa", kassa_down.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_line(
        &o,
        "CRYPTO_KEY_2",
        "FAIL",
        &["MySQL error 2002", "fix: check $mysql_adr"],
    );
    assert!(!text(&o).contains(DB_PASSWORD), "{}", text(&o));

    // A database without the CRYPTO_KEY_2 row.
    let norow = TempDir::new("kassa-no-row");
    let kassa_norow = web_root(&norow.0, KASSA_KEY1, db.port);
    let config = norow.0.join("www/config.php");
    let text_of_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_of_config.replace("'mikrobill';", "'mikrobill_norow';"),
    )
    .unwrap();
    let o = doctor(
        &["--kassa", kassa_norow.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_line(
        &o,
        "CRYPTO_KEY_2",
        "FAIL",
        &["CRYPTO_KEY_2 not found", "fix: check that $mysql_db"],
    );

    // A CRYPTO_KEY_1 that is not an AES-256 key.
    let short = TempDir::new("kassa-short-key");
    let kassa_short = web_root(&short.0, "c2hvcnQ=", db.port);
    let o = doctor(
        &["--kassa", kassa_short.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_line(
        &o,
        "CRYPTO_KEY_1",
        "FAIL",
        &["base64 of 5 bytes, not base64 of 32"],
    );

    // No config.php above the kassa folder.
    std::fs::remove_file(short.0.join("www/config.php")).unwrap();
    let o = doctor(
        &["--kassa", kassa_short.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_line(
        &o,
        "config.php",
        "FAIL",
        &["not found", "one folder above the kassa folder"],
    );

    // A kassa/apicore.php that does not load the shim, and a folder that is no kassa.
    std::fs::write(
        kassa_short.join("apicore.php"),
        "<?php require_once '/nonexistent/apicore.php';\n",
    )
    .unwrap();
    let o = doctor(
        &["--kassa", kassa_short.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_line(
        &o,
        "shim",
        "FAIL",
        &[
            "does not load the shim",
            "fix: make the kassa's apicore.php the one line",
        ],
    );
    let o = doctor(
        &["--kassa", dir.0.to_str().unwrap(), "--port", &port],
        &with_lib,
    );
    assert_line(&o, "kassa", "FAIL", &["apicore.php does not exist"]);
}

/// A stand-in for a php-fpm binary: Debian's php-fpm8.2 with these settings added, as its conf.d
/// would add them.
fn fpm_with(dir: &Path, name: &str, settings: &[&str]) -> String {
    let options: Vec<String> = settings.iter().map(|s| format!("-d '{s}'")).collect();
    fpm_script(dir, name, &options.join(" "))
}

/// A stand-in for a php-fpm binary: Debian's php-fpm8.2 run with `options` first.
fn fpm_script(dir: &Path, name: &str, options: &str) -> String {
    let script = dir.join(name);
    let text = format!("#!/bin/sh\nexec php-fpm8.2 {options} \"$@\"\n");
    std::fs::write(&script, text).unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&script)
        .status()
        .unwrap();
    script.to_str().unwrap().to_string()
}

#[test]
fn the_web_php_checks_fail_and_pass() {
    let dir = TempDir::new("web");
    let lib = library();
    let with_lib = [("MIKROBILL_LIB", lib.to_str().unwrap())];
    let preload = repo().join("bindings/php/preload.php");
    let preload_setting = format!("opcache.preload={}", preload.display());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();

    // Debian's php-fpm as installed: ffi.enable=preload and nothing preloaded; mysqli loaded.
    let o = doctor(&["--php-fpm", "php-fpm8.2", "--port", &closed], &with_lib);
    assert!(!text(&o).contains("mysqli"), "{}", text(&o));
    assert_line(
        &o,
        "web PHP",
        "ok",
        &["FPM/FastCGI", "/etc/php/8.2/fpm/php.ini"],
    );
    assert_line(
        &o,
        "preload",
        "FAIL",
        &[
            "nothing is preloaded",
            "ini.php > /etc/php/8.2/fpm/conf.d/90-mikrobill.ini",
            "php8.2-fpm",
        ],
    );
    // Its one pool, www, leaves PHP's settings alone.
    assert_line(
        &o,
        "pools",
        "ok",
        &["www: none changes ffi.enable or the preload"],
    );
    // A pool that turns FFI off, and one that sets the preload, where it has no effect:
    // `php-fpm -i` shows neither.
    let conf = dir.0.join("php-fpm.conf");
    let pool = |name: &str, line: &str| {
        format!(
            "[{name}]\nuser = www-data\nlisten = {}/{name}.sock\npm = static\n\
             pm.max_children = 1\n{line}\n",
            dir.0.display()
        )
    };
    std::fs::write(
        &conf,
        format!(
            "[global]\nerror_log = {}/fpm.log\n{}{}",
            dir.0.display(),
            pool("kassa", "php_admin_value[ffi.enable] = 0"),
            pool(
                "preloading",
                &format!("php_admin_value[{preload_setting}").replacen('=', "] = ", 1)
            )
        ),
    )
    .unwrap();
    let pools = fpm_script(&dir.0, "fpm-pools", &format!("-y {}", conf.display()));
    let o = doctor(&["--php-fpm", &pools, "--port", &closed], &with_lib);
    let report = text(&o);
    assert!(
        report.contains("FAIL  pools         [kassa] sets ffi.enable=\"0\": FFI is off"),
        "{report}"
    );
    assert!(
        report
            .contains("warn  pools         [preloading] sets opcache.preload, which has no effect"),
        "{report}"
    );
    assert_eq!(o.status.code(), Some(1), "{report}");
    // The shim preloaded.
    let good = fpm_with(
        &dir.0,
        "fpm-preload",
        &[&preload_setting, "opcache.preload_user=www-data"],
    );
    let o = doctor(&["--php-fpm", &good, "--port", &closed], &with_lib);
    assert_line(&o, "preload", "ok", &["preload.php (as user www-data)"]);
    // The same, with the library nowhere the shim looks: the server would not start.
    let o = doctor(&["--php-fpm", &good, "--port", &closed], &[]);
    assert_line(
        &o,
        "preload",
        "FAIL",
        &[
            "fails, so the server does not start",
            "cannot load libmikrobill.so",
        ],
    );
    // A preload file that is gone.
    let gone = fpm_with(
        &dir.0,
        "fpm-gone",
        &[
            "opcache.preload=/nonexistent/preload.php",
            "opcache.preload_user=www-data",
        ],
    );
    let o = doctor(&["--php-fpm", &gone, "--port", &closed], &with_lib);
    assert_line(
        &o,
        "preload",
        "FAIL",
        &["/nonexistent/preload.php does not exist"],
    );
    // A preload without its user, which a master running as root refuses to start with.
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let no_user = fpm_with(&dir.0, "fpm-no-user", &[&preload_setting]);
        let o = doctor(&["--php-fpm", &no_user, "--port", &closed], &with_lib);
        assert_line(
            &o,
            "web PHP",
            "FAIL",
            &[
                "refuses its settings",
                "preload_user",
                "fix: correct what it names",
            ],
        );
    }
    // OPcache, which preloads, not loaded (no ini files but FFI's), then loaded and off; named
    // as Debian names the binary, from which the fix names the package and the service.
    let no_opcache = dir.0.join("no-opcache");
    std::fs::create_dir_all(&no_opcache).unwrap();
    let no_opcache = fpm_script(&no_opcache, "php-fpm8.2", "-n -d extension=ffi");
    let o = doctor(&["--php-fpm", &no_opcache, "--port", &closed], &with_lib);
    assert_line(
        &o,
        "preload",
        "FAIL",
        &[
            "OPcache, which preloads, is not loaded",
            "apt-get install php8.2-opcache",
            "restart php8.2-fpm",
        ],
    );
    // Nor mysqli, which reads CRYPTO_KEY_2.
    assert_line(
        &o,
        "mysqli",
        "warn",
        &["error 9005", "apt-get install php8.2-mysql"],
    );
    let opcache_off = fpm_with(&dir.0, "fpm-opcache-off", &["opcache.enable=0"]);
    let o = doctor(&["--php-fpm", &opcache_off, "--port", &closed], &with_lib);
    assert_line(
        &o,
        "preload",
        "FAIL",
        &["opcache.enable is Off", "90-mikrobill.ini"],
    );
    // FFI for every script: works, and says what it opens.
    let open = fpm_with(&dir.0, "fpm-ffi-on", &["ffi.enable=1"]);
    let o = doctor(&["--php-fpm", &open, "--port", &closed], &with_lib);
    assert_line(
        &o,
        "ffi.enable",
        "warn",
        &["every PHP file this server runs can call into C"],
    );
    // FFI off.
    let off = fpm_with(&dir.0, "fpm-ffi-off", &["ffi.enable=0"]);
    let o = doctor(&["--php-fpm", &off, "--port", &closed], &with_lib);
    assert_line(&o, "ffi.enable", "FAIL", &["FFI is off"]);
    // No such binary.
    let o = doctor(
        &["--php-fpm", "/nonexistent/php-fpm", "--port", &closed],
        &with_lib,
    );
    assert_line(
        &o,
        "web PHP",
        "FAIL",
        &["could not run", "fix: name the kassa's web server PHP"],
    );
    // Apache's mod_php: its ini folder read through the CLI php. Without conf.d's ffi.ini the
    // extension is not loaded.
    let apache = dir.0.join("apache2");
    std::fs::create_dir_all(apache.join("conf.d")).unwrap();
    std::fs::write(apache.join("php.ini"), "ffi.enable=1\n").unwrap();
    let apache_args = ["--apache-ini", apache.to_str().unwrap(), "--port", &closed];
    let o = doctor(&apache_args, &with_lib);
    assert_line(
        &o,
        "web PHP",
        "ok",
        &[&format!("ini {}", apache.join("php.ini").display())],
    );
    assert_line(
        &o,
        "FFI",
        "FAIL",
        &["not loaded", "fix: enable it (phpenmod ffi)"],
    );
    std::fs::write(apache.join("conf.d/20-ffi.ini"), "extension=ffi\n").unwrap();
    let o = doctor(&apache_args, &with_lib);
    assert_line(&o, "FFI", "ok", &["loaded"]);
    assert_line(&o, "ffi.enable", "warn", &["every PHP file"]);
}
