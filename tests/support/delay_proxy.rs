//! A TCP proxy that delays every byte by a fixed time in each direction, as a network between
//! two hosts would: `delay-proxy TARGET_HOST:PORT DELAY_MS [LISTEN_ADDR]`. Prints
//! `listening on ADDR:PORT` first. Used by scripts/bench-php-fpm.sh; bytes keep their order and
//! are forwarded as soon as their time has come, so the link adds latency, not a bandwidth cap.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// Copies `from` to `to`, each chunk released `delay` after it arrived. One thread does both:
/// it waits for bytes (readable_within) only until the next chunk is due. A reader and a
/// writer thread joined by a channel would wake twice per chunk, and on a virtual machine each
/// wake-up of an idle CPU adds a fraction of a millisecond that a real link does not.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let mut due: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        let now = Instant::now();
        while due.front().is_some_and(|(at, _)| *at <= now) {
            let (_, bytes) = due.pop_front().expect("front exists");
            if to.write_all(&bytes).is_err() {
                return;
            }
        }
        let next = due.front().map(|(at, _)| at.saturating_duration_since(now));
        if !open {
            match next {
                Some(wait) => thread::sleep(wait),
                None => break,
            }
            continue;
        }
        match next {
            Some(wait) if !readable_within(&from, wait) => continue,
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => open = false,
            Ok(n) => due.push_back((Instant::now() + delay, buf[..n].to_vec())),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => open = false,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Waits until `stream` has bytes (or its end) to read, for at most `wait`. ppoll, because a
/// socket read timeout counts in scheduler ticks (4 ms here), too coarse for a 2 ms link.
#[cfg(unix)]
fn readable_within(stream: &TcpStream, wait: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let limit = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
    };
    // SAFETY: ppoll reads one pollfd and one timespec, both live locals, and writes only the
    // pollfd's revents; no signal mask is passed.
    let ready = unsafe { libc::ppoll(&mut fd, 1, &limit, std::ptr::null()) };
    ready > 0
}

#[cfg(not(unix))]
fn readable_within(stream: &TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 1];
    stream
        .set_read_timeout(Some(wait.max(Duration::from_micros(1))))
        .is_ok()
        && stream.peek(&mut byte).is_ok()
}
