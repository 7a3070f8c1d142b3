//! `fault-proxy`: the relay of mikrobill_testkit::relay as a process, for the PHP and Python
//! fault suites and the page benchmark. The first stdout line is `listening on ADDR:PORT`.
//!
//!   fault-proxy --upstream PORT                   faults mode (the fault suites)
//!   fault-proxy --upstream HOST:PORT --delay-ms 2 --until-killed
//!                                                 a link of 2 ms each way (scripts/bench-php-fpm.sh)
//!
//! Commands, one per stdin line, each answered by one line:
//!   fault NAME [MS]   the next request's exchange gets fault NAME (see Fault::parse) -> ok
//!   upstream PORT     new connections go to loopback port PORT                    -> ok
//!   restart           close every connection, as a server restart would            -> ok
//!   accepted          how many connections were accepted so far                    -> N
//! End of stdin ends the proxy, so it never outlives the test that started it; with
//! --until-killed stdin is not read and the proxy runs until it is killed.

use clap::Parser;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mikrobill_testkit::relay::{Fault, FaultProxy, Link};

#[derive(Parser)]
#[command(
    name = "fault-proxy",
    about = "A relay that injects network faults or adds latency"
)]
struct Args {
    /// The server: a loopback PORT, or HOST:PORT
    #[arg(long, value_name = "PORT|HOST:PORT", value_parser = upstream)]
    upstream: SocketAddr,
    /// Delay every byte this many milliseconds in each direction instead of relaying frames
    /// (no faults in this mode)
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,
    /// Where clients connect
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: String,
    /// Read no commands from stdin; run until killed (for scripts that start it in the
    /// background, where stdin is empty)
    #[arg(long)]
    until_killed: bool,
}

fn upstream(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{text} resolves to no address"))
}

fn main() {
    let args = Args::parse();
    let link = match args.delay_ms {
        Some(ms) => Link::Delay(Duration::from_millis(ms)),
        None => Link::Faults,
    };
    let proxy = FaultProxy::start_with(&args.listen, args.upstream, link).unwrap_or_else(|e| {
        eprintln!("fault-proxy: cannot listen on {}: {e}", args.listen);
        std::process::exit(1);
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", proxy.addr);
    let _ = out.flush();
    if args.until_killed {
        drop(out);
        loop {
            std::thread::park();
        }
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(out, "{}", command(&proxy, &line));
        let _ = out.flush();
    }
}

/// Runs one stdin command; returns its answer line.
fn command(proxy: &FaultProxy, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["fault", name] | ["fault", name, _] => {
            if proxy.link() != Link::Faults {
                return "error: no faults with --delay-ms (bytes are not relayed as frames)".into();
            }
            let ms = words.get(2).and_then(|m| m.parse().ok()).unwrap_or(0);
            match Fault::parse(name, ms) {
                Some(fault) => {
                    proxy.set(fault);
                    "ok".to_string()
                }
                None => format!("error: unknown fault {name}"),
            }
        }
        ["upstream", port] => match port.parse() {
            Ok(port) => {
                proxy.set_upstream(port);
                "ok".to_string()
            }
            Err(_) => format!("error: bad port {port}"),
        },
        ["restart"] => {
            proxy.restart();
            "ok".to_string()
        }
        ["accepted"] => proxy.accepted().to_string(),
        _ => format!("error: unknown command {line:?}"),
    }
}
