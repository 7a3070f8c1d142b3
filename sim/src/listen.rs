//! The listening socket of the simulator and of `mb proxy`, with a listen queue as deep as the
//! system allows.
//!
//! `std::net::TcpListener::bind` asks for a queue of 128. A burst of reconnects beyond that, while
//! the accept loop is descheduled for a moment, overflows it; Linux then drops the handshake's
//! final ACK, so the client believes it is connected and sends its auth frame into a connection
//! the server does not know yet, and waits for the SYN-ACK retransmission, a second or more.
//! The core is a .NET service, whose `TcpListener.Start()` asks for the system's maximum
//! (`SocketOptionName.MaxConnections`); that the core uses it is inferred, but a double must not
//! make honest clients wait where the core would not.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
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
}
