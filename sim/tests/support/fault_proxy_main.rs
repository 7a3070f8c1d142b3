//! `fault-proxy`: the fault-injecting proxy of the Rust fault tests, for the PHP and Python
//! suites. Usage: `fault-proxy --upstream PORT`. The first stdout line is
//! `listening on 127.0.0.1:PORT`. Commands, one per stdin line, each answered by one line:
//!   fault NAME [MS]   the next request's exchange gets fault NAME (see Fault::parse) -> ok
//!   upstream PORT     new connections go to PORT                                   -> ok
//!   restart           close every connection, as a server restart would            -> ok
//!   accepted          how many connections were accepted so far                    -> N
//! End of stdin ends the proxy, so it never outlives the test that started it.

#[path = "fault_proxy.rs"]
mod fault_proxy;

use std::io::{BufRead, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let upstream = match args.as_slice() {
        [flag, port] if flag == "--upstream" => port.parse::<u16>().ok(),
        _ => None,
    };
    let Some(upstream) = upstream else {
        eprintln!("usage: fault-proxy --upstream PORT");
        std::process::exit(2);
    };
    let proxy = fault_proxy::FaultProxy::start(upstream);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on 127.0.0.1:{}", proxy.port);
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["fault", name] | ["fault", name, _] => {
                let ms = words.get(2).and_then(|m| m.parse().ok()).unwrap_or(0);
                match fault_proxy::Fault::parse(name, ms) {
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
        };
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
}
