//! A TCP proxy that delays every byte by a fixed time in each direction, as a network between
//! two hosts would: `delay-proxy TARGET_HOST:PORT DELAY_MS [LISTEN_ADDR]`. Prints
//! `listening on ADDR:PORT` first. Used by scripts/bench-php-fpm.sh; bytes keep their order and
//! are forwarded as soon as their time has come, so the link adds latency, not a bandwidth cap.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(target), Some(delay)) = (args.first(), args.get(1)) else {
        eprintln!("usage: delay-proxy TARGET_HOST:PORT DELAY_MS [LISTEN_ADDR]");
        std::process::exit(2);
    };
    let delay = Duration::from_millis(delay.parse().expect("DELAY_MS is a number"));
    let listen = args.get(2).map_or("127.0.0.1:0", String::as_str);
    let listener = TcpListener::bind(listen).expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local address")
    );
    for client in listener.incoming().flatten() {
        let target = target.clone();
        thread::spawn(move || {
            let Ok(server) = TcpStream::connect(&target) else {
                return;
            };
            for s in [&client, &server] {
                let _ = s.set_nodelay(true);
            }
            let (c2, s2) = (client.try_clone(), server.try_clone());
            let (Ok(c2), Ok(s2)) = (c2, s2) else { return };
            thread::spawn(move || pipe(c2, s2, delay));
            pipe(server, client, delay);
        });
    }
}

/// Copies `from` to `to`, each chunk released `delay` after it arrived.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}
