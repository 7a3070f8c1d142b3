//! Sockets: the listening socket of the simulator and of `mb proxy`, with a listen queue as deep
//! as the system allows, and the two raw calls the accept loop and admission make on sockets
//! (wait for a connection to accept, count the bytes queued on a connection).
//!
//! `std::net::TcpListener::bind` asks for a queue of 128. A burst of reconnects beyond that, while
//! the accept loop is descheduled for a moment, overflows it; Linux then drops the handshake's
//! final ACK, so the client believes it is connected and sends its auth frame into a connection
//! the server does not know yet, and waits for the SYN-ACK retransmission, a second or more.
//! The core is a .NET service, whose `TcpListener.Start()` asks for the system's maximum
//! (`SocketOptionName.MaxConnections`); that the core uses it is inferred, but a double must not
//! make honest clients wait where the core would not.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

/// What listen() is asked for: Linux caps it at net.core.somaxconn, Windows reads this value as
/// "the provider's maximum".
const LISTEN_BACKLOG: i32 = i32::MAX;

/// Binds the first address `addr` resolves to that can be bound, as TcpListener::bind does, with
/// the deepest listen queue the system grants.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for at in addr.to_socket_addrs()? {
        match bind_one(at) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to no socket address",
        )
    }))
}

fn bind_one(at: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(at), Type::STREAM, Some(Protocol::TCP))?;
    // As std does on Unix: a restarted server can bind while old connections are in TIME_WAIT.
    // On Windows SO_REUSEADDR would let another process take the port over, so std leaves it off.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&at.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Waits up to `millis` for the listener to have a connection to accept; returns early, late or
/// spuriously without harm, since the caller accepts non-blockingly and loops.
#[cfg(unix)]
pub fn wait_for_connection(listener: &TcpListener, millis: i32) {
    use std::os::fd::AsRawFd;
    let mut pollfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd that outlives the call. EINTR (a signal) just returns.
    unsafe { libc::poll(&mut pollfd, 1, millis) };
}

#[cfg(windows)]
pub fn wait_for_connection(listener: &TcpListener, millis: i32) {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLRDNORM, SOCKET, WSAPOLLFD};
    let mut pollfd = WSAPOLLFD {
        fd: listener.as_raw_socket() as SOCKET,
        events: POLLRDNORM,
        revents: 0,
    };
    // SAFETY: one valid WSAPOLLFD that outlives the call, on a socket the listener keeps open.
    unsafe { WSAPoll(&mut pollfd, 1, millis) };
}

/// Bytes queued on the socket and not yet read. FIONREAD counts them without reading them or
/// touching the socket's blocking mode, which the connection's own thread relies on.
#[cfg(unix)]
pub fn queued_bytes(stream: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: ioctl(FIONREAD) writes one c_int into a live local, on a descriptor `stream` owns.
    let status = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut queued) };
    if status == 0 {
        usize::try_from(queued).unwrap_or(0)
    } else {
        0
    }
}

#[cfg(windows)]
pub fn queued_bytes(stream: &TcpStream) -> usize {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{ioctlsocket, FIONREAD, SOCKET};
    let mut queued: u32 = 0;
    // SAFETY: ioctlsocket(FIONREAD) writes one u32 into a live local, on a socket `stream` owns.
    let status = unsafe { ioctlsocket(stream.as_raw_socket() as SOCKET, FIONREAD, &mut queued) };
    if status == 0 {
        queued as usize
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    /// More connections than std's queue of 128 complete while nobody accepts them.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_listen_queue_holds_more_than_std_s_128() {
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .expect("net.core.somaxconn is readable")
            .trim()
            .parse()
            .expect("net.core.somaxconn is a number");
        assert!(
            somaxconn >= 400,
            "this test needs net.core.somaxconn >= 400 (it is {somaxconn}; Linux 5.4 and later \
             default to 4096)"
        );
        let listener = bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let connected: Vec<TcpStream> = (0..400)
            .map(|n| {
                TcpStream::connect_timeout(&at, Duration::from_millis(500))
                    .unwrap_or_else(|e| panic!("connection {n} of 400 not queued: {e}"))
            })
            .collect();
        // The server side knows every one of them: each is accepted.
        listener.set_nonblocking(true).unwrap();
        let accepted = std::iter::from_fn(|| listener.accept().ok()).count();
        assert_eq!(accepted, connected.len());
    }

    #[test]
    fn an_address_in_use_is_an_error_naming_the_cause() {
        let first = bind("127.0.0.1:0").unwrap();
        let at = first.local_addr().unwrap().to_string();
        let e = bind(&at).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
    }

    #[test]
    fn an_unresolvable_address_is_an_error() {
        assert!(bind("not an address").is_err());
    }

    #[test]
    fn queued_bytes_counts_what_arrived_and_was_not_read() {
        let listener = bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        wait_for_connection(&listener, 5000);
        let (server, _) = listener.accept().unwrap();
        assert_eq!(queued_bytes(&server), 0);
        client.write_all(b"12345").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while queued_bytes(&server) < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(queued_bytes(&server), 5);
    }
}
