//! Looking at what a socket already holds, without waiting and without taking it. The client does
//! this twice per call (is the idle connection still sound; did anything come behind the
//! reply), so on Unix it is one `recv(MSG_PEEK | MSG_DONTWAIT)` rather than switching the socket
//! to non-blocking and back, which would cost two more system calls each time.

use std::io;
use std::net::TcpStream;

/// Copies up to `buf.len()` queued bytes into `buf` and leaves them queued. `Ok(0)` is the end
/// of the stream; nothing queued yet is an error of kind `WouldBlock`.
#[cfg(unix)]
pub fn peek_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: recv(2) writes at most `buf.len()` bytes into `buf`, a live exclusive borrow, on a
    // descriptor `stream` owns for the duration of the call. MSG_DONTWAIT makes this one call
    // non-blocking without changing the descriptor's mode.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Windows has no per-call non-blocking flag for `recv`: the socket is switched for the peek.
/// If it cannot be switched back, later timeouts would become a busy loop, so that is an error.
#[cfg(windows)]
pub fn peek_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    stream.set_nonblocking(true)?;
    let peeked = stream.peek(buf);
    stream.set_nonblocking(false)?;
    peeked
}

#[cfg(test)]
mod tests {
    use super::peek_now;
    use std::io::{ErrorKind, Write};
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        (near, far)
    }

    #[test]
    fn nothing_queued_is_would_block_and_leaves_the_socket_blocking() {
        let (near, _far) = pair();
        let mut buf = [0u8; 8];
        let e = peek_now(&near, &mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        // A socket left non-blocking would make this read fail at once instead of timing out.
        near.set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let started = std::time::Instant::now();
        let e = std::io::Read::read(&mut &near, &mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        ));
        assert!(started.elapsed() >= std::time::Duration::from_millis(40));
    }

    #[test]
    fn queued_bytes_are_seen_and_stay_queued() {
        let (near, mut far) = pair();
        far.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        let mut n = 0;
        for _ in 0..200 {
            match peek_now(&near, &mut buf) {
                Ok(got) => {
                    n = got;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(&buf[..n], b"abc");
        let mut again = [0u8; 3];
        std::io::Read::read_exact(&mut &near, &mut again).unwrap();
        assert_eq!(&again, b"abc");
    }

    #[test]
    fn end_of_stream_is_zero() {
        let (near, far) = pair();
        drop(far);
        let mut buf = [0u8; 1];
        let mut result = peek_now(&near, &mut buf);
        for _ in 0..200 {
            if !matches!(result, Err(ref e) if e.kind() == ErrorKind::WouldBlock) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            result = peek_now(&near, &mut buf);
        }
        assert_eq!(result.unwrap(), 0);
    }
}
