//! A TCP relay between a client and a server (the simulator, or any peer that speaks frames),
//! in one of two modes:
//! - faults (the default): whole frames (length prefix and ciphertext, never decrypted) are
//!   relayed in lockstep, so one network fault can be injected into the next request's exchange
//!   (`set`), after which traffic passes through again. The first frame of a connection is the
//!   auth message and is always passed through.
//! - a slow link (`Link::Delay`): every byte is delayed by a fixed time in each direction, as a
//!   network between two hosts would; bytes keep their order and are forwarded as soon as their
//!   time has come, so the link adds latency, not a bandwidth cap.
//!
//! Used by the Rust fault tests directly and, through the `fault-proxy` example, by the PHP and
//! Python suites and by scripts/bench-php-fpm.sh.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// The reply is held this long, then sent.
    Delay(Duration),
    /// The reply is never sent; the connection stays open.
    Stall,
    /// The request reaches the server, then the client's connection is reset (RST).
    ResetAfterRequest,
    /// Half of the reply is sent, then the connection is closed.
    TruncatedReply,
    /// The reply is dropped and the connection closed.
    LostReply,
    /// The reply is sent one byte per write, 1 ms apart.
    OneByteWrites,
    /// The reply is sent one byte per write, this long apart.
    Trickle(Duration),
    /// The reply is sent twice in one write.
    DuplicatedReply,
    /// The reply is sent, and sent again this long afterwards.
    LateDuplicate(Duration),
    /// The reply is sent, then 30 ms later a frame nobody asked for.
    UnsolicitedFrame,
}

impl Fault {
    /// `name` as the control protocol spells it; `ms` for the faults that take a time.
    pub fn parse(name: &str, ms: u64) -> Option<Fault> {
        let ms = Duration::from_millis(ms);
        Some(match name {
            "pass" => Fault::Pass,
            "delay" => Fault::Delay(ms),
            "stall" => Fault::Stall,
            "reset" => Fault::ResetAfterRequest,
            "truncate" => Fault::TruncatedReply,
            "lose" => Fault::LostReply,
            "bytewise" => Fault::OneByteWrites,
            "trickle" => Fault::Trickle(ms),
            "duplicate" => Fault::DuplicatedReply,
            "late-duplicate" => Fault::LateDuplicate(ms),
            "unsolicited" => Fault::UnsolicitedFrame,
            _ => return None,
        })
    }
}

/// How the relay carries bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Frames in lockstep, with the fault `set` for the next request.
    Faults,
    /// Bytes as they come, each released this long after it arrived, in both directions.
    Delay(Duration),
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    link: Link,
    next: Mutex<Fault>,
    /// Clones of each relayed pair, by connection number, for `restart`.
    live: Mutex<BTreeMap<usize, [TcpStream; 2]>>,
    accepted: AtomicUsize,
}

pub struct FaultProxy {
    pub port: u16,
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultProxy {
    /// A fault-injecting relay on a free loopback port to the server on loopback port
    /// `upstream_port`.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        FaultProxy::start_with("127.0.0.1:0", upstream, Link::Faults).expect("bind the proxy")
    }

    /// A relay listening on `listen` to the server at `upstream`, carrying bytes as `link` says.
    pub fn start_with(listen: &str, upstream: SocketAddr, link: Link) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            link,
            next: Mutex::new(Fault::Pass),
            live: Mutex::default(),
            accepted: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let id = accepting.accepted.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&accepting);
                thread::spawn(move || {
                    let _ = match shared.link {
                        Link::Faults => relay(id, client, &shared),
                        Link::Delay(delay) => delayed(id, client, &shared, delay),
                    };
                    // Dropping the clones closes the sockets for good (a reset needs that).
                    lock(&shared.live).remove(&id);
                });
            }
        });
        Ok(FaultProxy {
            port: addr.port(),
            addr,
            shared,
        })
    }

    /// How this relay carries bytes.
    pub fn link(&self) -> Link {
        self.shared.link
    }

    /// The fault for the next request that passes, on any connection; used once. Only a
    /// `Link::Faults` relay sees requests.
    pub fn set(&self, fault: Fault) {
        *lock(&self.shared.next) = fault;
    }

    /// New connections go to loopback port `port`.
    pub fn set_upstream(&self, port: u16) {
        *lock(&self.shared.upstream) = SocketAddr::from(([127, 0, 0, 1], port));
    }

    /// Closes every connection on both sides, as a server restart looks to its clients.
    pub fn restart(&self) {
        for pair in lock(&self.shared.live).values() {
            for stream in pair {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Connections accepted so far: each one is a client (re)connecting.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

fn read_frame_bytes(from: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    match from.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(prefix) as usize;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&prefix);
    from.read_exact(&mut frame[4..])?;
    Ok(Some(frame))
}

/// Sends RST instead of FIN when the socket is closed.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Connects to the server and registers both sockets for `restart`.
fn connect(id: usize, client: &TcpStream, shared: &Shared) -> io::Result<TcpStream> {
    let upstream_addr = *lock(&shared.upstream);
    let server = TcpStream::connect(upstream_addr)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    lock(&shared.live).insert(id, [client.try_clone()?, server.try_clone()?]);
    Ok(server)
}

/// The faults mode: frames in lockstep.
fn relay(id: usize, mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut server = connect(id, &client, shared)?;
    let mut authenticated = false;
    loop {
        let Some(request) = read_frame_bytes(&mut client)? else {
            return Ok(());
        };
        server.write_all(&request)?;
        let fault = if authenticated {
            std::mem::replace(&mut *lock(&shared.next), Fault::Pass)
        } else {
            Fault::Pass
        };
        authenticated = true;
        if fault == Fault::ResetAfterRequest {
            // Give the server the time to read the request before the connection goes.
            thread::sleep(Duration::from_millis(50));
            reset(&client);
            lock(&shared.live).remove(&id);
            return Ok(());
        }
        let Some(reply) = read_frame_bytes(&mut server)? else {
            return Ok(());
        };
        match fault {
            Fault::Pass | Fault::ResetAfterRequest => client.write_all(&reply)?,
            Fault::Delay(d) => {
                thread::sleep(d);
                client.write_all(&reply)?;
            }
            Fault::Stall => {
                // Wait for the client to give up; whatever it sends is not answered.
                let mut sink = [0u8; 4096];
                while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
                return Ok(());
            }
            Fault::TruncatedReply => {
                client.write_all(&reply[..reply.len() / 2])?;
                return Ok(());
            }
            Fault::LostReply => return Ok(()),
            Fault::OneByteWrites | Fault::Trickle(_) => {
                let gap = match fault {
                    Fault::Trickle(d) => d,
                    _ => Duration::from_millis(1),
                };
                for byte in &reply {
                    client.write_all(std::slice::from_ref(byte))?;
                    thread::sleep(gap);
                }
            }
            Fault::DuplicatedReply => {
                let mut twice = reply.clone();
                twice.extend_from_slice(&reply);
                client.write_all(&twice)?;
            }
            Fault::LateDuplicate(d) => {
                client.write_all(&reply)?;
                thread::sleep(d);
                client.write_all(&reply)?;
            }
            Fault::UnsolicitedFrame => {
                client.write_all(&reply)?;
                thread::sleep(Duration::from_millis(30));
                let mut stray = 32u32.to_le_bytes().to_vec();
                stray.extend_from_slice(&[0x5a; 32]);
                client.write_all(&stray)?;
            }
        }
    }
}

/// The slow-link mode: a delaying pipe each way.
fn delayed(id: usize, client: TcpStream, shared: &Shared, delay: Duration) -> io::Result<()> {
    let server = connect(id, &client, shared)?;
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    let upward = thread::spawn(move || pipe(client_in, server_out, delay));
    pipe(server, client, delay);
    let _ = upward.join();
    Ok(())
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
    let _ = to.shutdown(Shutdown::Write);
}

/// Waits until `stream` has bytes (or its end) to read, for at most `wait`. ppoll, because a
/// socket read timeout counts in scheduler ticks (4 ms on some kernels), too coarse for a 2 ms
/// link.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that echoes every byte back.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        if stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn a_slow_link_delays_each_crossing_and_keeps_the_bytes() {
        let delay = Duration::from_millis(100);
        let proxy =
            FaultProxy::start_with("127.0.0.1:0", echo_server(), Link::Delay(delay)).unwrap();
        let mut client = TcpStream::connect(proxy.addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        // Out and back: two crossings of the link.
        assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());
        assert_eq!(proxy.accepted(), 1);
        proxy.restart();
        assert!(matches!(client.read(&mut got), Ok(0) | Err(_)));
    }
}
