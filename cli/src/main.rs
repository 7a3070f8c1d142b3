//! `mb`: a command-line MikroBILL API client (`mb process`) and the simulator (`mb serve`).

use mikrobill::{Client, Config};
use mikrobill_sim::config::{DEMO_KEY1, DEMO_KEY2, DEMO_LOGIN, DEMO_PASSWORD};
use serde_json::{json, Value};
use std::process::exit;

const USAGE: &str = "\
Usage: mb process [OPTIONS] PATH [VALUE_JSON]
       mb serve [SIMULATOR OPTIONS]      (see `mb serve --help`)
       mb --help

Commands:
  process   send one request and print the reply; exit 1 when its code (or any batch
            element's code) is non-zero or the request failed, 2 on usage errors
  serve     run the MikroBILL core simulator";

const PROCESS_USAGE: &str = "\
Usage: mb process [OPTIONS] PATH [VALUE_JSON]

Sends Process(PATH, VALUE) and prints the reply text. VALUE_JSON is any JSON text
(omit it for a read). Options fall back to the environment, then to the simulator's
demo settings, so `mb process API.GetClients` works against a default simulator.

Options:
  --host HOST          MIKROBILL_HOST      (default 127.0.0.1)
  --port PORT          MIKROBILL_PORT      (default 7403)
  --login LOGIN        MIKROBILL_LOGIN     (default the demo cashier)
  --password PASSWORD  MIKROBILL_PASSWORD  (default the demo password)
  --key1 B64           MIKROBILL_KEY1      (CRYPTO_KEY_1; default the demo key)
  --key2 B64           MIKROBILL_KEY2      (CRYPTO_KEY_2; default the demo IV)
  --timeout-ms MS      connect and read timeout (default 5000)
  --pretty             indent the reply (number text is kept exactly)
  -h, --help           show this help";

struct ProcessArgs {
    settings: [(&'static str, &'static str, String); 6],
    timeout_ms: Option<String>,
    pretty: bool,
    positional: Vec<String>,
}

fn usage_error(message: &str, usage: &str) -> ! {
    eprintln!("mb: {message}\n\n{usage}");
    exit(2);
}

fn parse_process(args: Vec<String>) -> ProcessArgs {
    let default =
        |env: &str, fallback: &str| std::env::var(env).unwrap_or_else(|_| fallback.into());
    let mut p = ProcessArgs {
        settings: [
            ("--host", "host", default("MIKROBILL_HOST", "127.0.0.1")),
            ("--port", "port", default("MIKROBILL_PORT", "7403")),
            ("--login", "login", default("MIKROBILL_LOGIN", DEMO_LOGIN)),
            (
                "--password",
                "password",
                default("MIKROBILL_PASSWORD", DEMO_PASSWORD),
            ),
            ("--key1", "key1", default("MIKROBILL_KEY1", DEMO_KEY1)),
            ("--key2", "key2", default("MIKROBILL_KEY2", DEMO_KEY2)),
        ],
        timeout_ms: None,
        pretty: false,
        positional: Vec::new(),
    };
    let mut args = args.into_iter();
    let mut only_positional = false;
    while let Some(arg) = args.next() {
        if only_positional || !arg.starts_with("--") && arg != "-h" {
            p.positional.push(arg);
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage_error(&format!("{flag} needs a value"), PROCESS_USAGE))
        };
        match flag.as_str() {
            "--" => only_positional = true,
            "-h" | "--help" => {
                println!("{PROCESS_USAGE}");
                exit(0);
            }
            "--pretty" => p.pretty = true,
            "--timeout-ms" => p.timeout_ms = Some(value()),
            _ => match p.settings.iter_mut().find(|(f, _, _)| *f == flag) {
                Some(slot) => slot.2 = value(),
                None => usage_error(&format!("unknown option {arg}"), PROCESS_USAGE),
            },
        }
    }
    p
}

fn number(text: &str, what: &str) -> u64 {
    text.parse()
        .unwrap_or_else(|_| usage_error(&format!("{what} must be a number: {text}"), PROCESS_USAGE))
}

/// Non-zero when the reply's code is non-zero, or any batch element's is. Only the codes are
/// read (the rest is skipped unparsed), so a reply of millions of clients is never held twice.
fn reply_failed(reply: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Coded {
        code: Option<i64>,
    }
    if reply.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Coded>>(reply)
            .map_or(true, |items| items.iter().any(|i| i.code != Some(0)))
    } else {
        serde_json::from_str::<Coded>(reply).map_or(true, |v| v.code != Some(0))
    }
}

fn pretty(reply: &str) -> String {
    serde_json::from_str::<Value>(reply)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| reply.to_string())
}

fn process(args: Vec<String>) -> i32 {
    let p = parse_process(args);
    let (path, value) = match p.positional.as_slice() {
        [path] => (path.clone(), None),
        [path, value] => (path.clone(), Some(value.clone())),
        [] => usage_error("PATH is missing", PROCESS_USAGE),
        _ => usage_error("too many arguments", PROCESS_USAGE),
    };
    let mut config = serde_json::Map::new();
    for (_, key, v) in &p.settings {
        let v = if *key == "port" {
            json!(number(v, "port"))
        } else {
            json!(v)
        };
        config.insert(key.to_string(), v);
    }
    if let Some(ms) = &p.timeout_ms {
        let ms = number(ms, "--timeout-ms");
        config.insert("connect_timeout_ms".into(), json!(ms));
        config.insert("io_timeout_ms".into(), json!(ms));
    }
    let result = Config::from_json(&Value::Object(config).to_string())
        .and_then(Client::new)
        .and_then(|mut client| {
            let reply = client.process(&path, value.as_deref());
            client.disconnect();
            reply
        });
    match result {
        Ok(reply) => {
            if p.pretty {
                println!("{}", pretty(&reply));
            } else {
                println!("{reply}");
            }
            i32::from(reply_failed(&reply))
        }
        Err(e) => {
            println!("{}", e.to_json());
            1
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let code = match args.next().as_deref() {
        Some("process") => process(args.collect()),
        Some("serve") => mikrobill_sim::main_with_args(args),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            0
        }
        Some(other) => usage_error(&format!("unknown command {other}"), USAGE),
        None => usage_error("a command is needed", USAGE),
    };
    exit(code);
}
