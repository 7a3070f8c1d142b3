//! A TCP proxy between a client and the simulator that injects one network fault into the next
//! request's exchange, then passes traffic through again. It reads whole frames (length prefix
//! and ciphertext, never decrypted) in lockstep, so each fault hits a known request. The first
//! frame of a connection is the auth message and is always passed through.
//!
//! Used by the Rust fault tests directly and, through `fault-proxy` (fault_proxy_main.rs), by
//! the PHP and Python suites.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

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

struct Shared {
    upstream: Mutex<SocketAddr>,
    next: Mutex<Fault>,
    /// Clones of each relayed pair, by connection number, for `restart`.
    live: Mutex<std::collections::BTreeMap<usize, [TcpStream; 2]>>,
    accepted: AtomicUsize,
}

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultProxy {
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(SocketAddr::from(([127, 0, 0, 1], upstream_port))),
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
                    let _ = relay(id, client, &shared);
                    // Dropping the clones closes the sockets for good (a reset needs that).
                    lock(&shared.live).remove(&id);
                });
            }
        });
        FaultProxy { port, shared }
    }

    /// The fault for the next request that passes, on any connection; used once.
    pub fn set(&self, fault: Fault) {
        *lock(&self.shared.next) = fault;
    }

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
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a descriptor `stream` owns, with a pointer to a live linger struct
    // of the size passed.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn relay(id: usize, mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    let upstream_addr = *lock(&shared.upstream);
    let mut server = TcpStream::connect(upstream_addr)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    lock(&shared.live).insert(id, [client.try_clone()?, server.try_clone()?]);
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
