//! Length-prefixed frames: `u32` little-endian ciphertext length, then the ciphertext.

use std::fmt;
use std::io::{self, Read, Write};

use super::crypto::BLOCK;

/// Default cap on an announced frame length: large enough for `API.GetClients` over a million
/// clients, small enough that a hostile peer cannot make us allocate gigabytes.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the stream cleanly before the first byte of a frame.
    Closed,
    /// The stream ended inside a frame.
    Truncated,
    /// The announced length exceeds the configured maximum; nothing was allocated.
    TooLarge {
        announced: usize,
        max: usize,
    },
    /// The announced length is zero or not a whole number of cipher blocks.
    Misaligned(usize),
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => write!(f, "the peer closed the connection"),
            FrameError::Truncated => write!(f, "the connection ended in the middle of a frame"),
            FrameError::TooLarge { announced, max } => write!(
                f,
                "the peer announced a frame of {announced} bytes, over the limit of {max}"
            ),
            FrameError::Misaligned(n) => write!(
                f,
                "the peer announced a frame of {n} bytes, not a positive multiple of {BLOCK}"
            ),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Prefix and payload go out in one write so that a frame is never split across two segments
/// by Nagle interplay with the peer's delayed ACK.
pub fn write_frame<W: Write>(w: &mut W, ciphertext: &[u8]) -> io::Result<()> {
    let len = u32::try_from(ciphertext.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))?;
    let mut buf = Vec::with_capacity(4 + ciphertext.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(ciphertext);
    w.write_all(&buf)?;
    w.flush()
}

pub fn read_frame<R: Read>(r: &mut R, max: usize) -> Result<Vec<u8>, FrameError> {
    let len = read_len(r, max)?;
    read_body(r, len, 0)
}

/// Reads the 4-byte prefix and checks the announced length against `max` and the block size,
/// before anything is allocated for the body.
pub fn read_len<R: Read>(r: &mut R, max: usize) -> Result<usize, FrameError> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len > max {
        return Err(FrameError::TooLarge {
            announced: len,
            max,
        });
    }
    if len == 0 || len % BLOCK != 0 {
        return Err(FrameError::Misaligned(len));
    }
    Ok(len)
}

/// Reads a body of exactly `len` bytes into a buffer with `spare` bytes of capacity left over
/// (the C ABI's terminating NUL, so handing the text out needs no reallocation).
///
/// Memory grows with the bytes that actually arrive, so a peer that announces a large frame and
/// sends nothing holds no more than the first chunk, and one that sends a quarter of what it
/// announced holds the announced size. The buffer never grows past `len + spare`.
pub fn read_body<R: Read>(r: &mut R, len: usize, spare: usize) -> Result<Vec<u8>, FrameError> {
    let mut body = Vec::with_capacity(len.min(FIRST_CHUNK) + spare);
    let mut filled = 0;
    body.resize(len.min(FIRST_CHUNK), 0);
    while filled < len {
        if filled == body.len() {
            // Straight to `len` once a quarter has arrived: the last step then moves at most
            // half of `len` beside the new block, so growing never holds over 1.5 times `len`.
            let next = if body.len() * 4 >= len {
                len
            } else {
                body.len() * 2
            };
            body.reserve_exact(next + spare - body.len());
            body.resize(next, 0);
        }
        match r.read(&mut body[filled..]) {
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(body)
}

const FIRST_CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_little_endian_prefix() {
        let mut out = Vec::new();
        write_frame(&mut out, &[7u8; 48]).unwrap();
        assert_eq!(&out[..4], &[0x30, 0, 0, 0]);
        assert_eq!(out.len(), 52);
    }

    #[test]
    fn reads_back_what_was_written() {
        let mut out = Vec::new();
        write_frame(&mut out, &[9u8; 32]).unwrap();
        let body = read_frame(&mut &out[..], 1024).unwrap();
        assert_eq!(body, vec![9u8; 32]);
    }

    #[test]
    fn clean_close_and_truncation_are_distinguished() {
        assert!(matches!(
            read_frame(&mut &[][..], 1024),
            Err(FrameError::Closed)
        ));
        assert!(matches!(
            read_frame(&mut &[16u8, 0][..], 1024),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame(&mut &[16u8, 0, 0, 0, 1, 2][..], 1024),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn oversized_announcement_is_refused_before_allocating() {
        let huge = [0xff, 0xff, 0xff, 0xff];
        match read_frame(&mut &huge[..], 1024) {
            Err(FrameError::TooLarge { announced, max }) => {
                assert_eq!(announced, u32::MAX as usize);
                assert_eq!(max, 1024);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_announced_length_reserves_memory_only_as_bytes_arrive() {
        let mut announced = (1u32 << 24).to_le_bytes().to_vec();
        announced.extend_from_slice(&[0u8; 32]);
        let mut reader = &announced[..];
        assert!(matches!(
            read_frame(&mut reader, 1 << 25),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn a_large_frame_arrives_whole() {
        let mut out = Vec::new();
        write_frame(&mut out, &vec![5u8; 1 << 20]).unwrap();
        assert_eq!(
            read_frame(&mut &out[..], 1 << 21).unwrap(),
            vec![5u8; 1 << 20]
        );
    }

    #[test]
    fn zero_and_unaligned_lengths_are_refused() {
        assert!(matches!(
            read_frame(&mut &[0u8, 0, 0, 0][..], 1024),
            Err(FrameError::Misaligned(0))
        ));
        assert!(matches!(
            read_frame(&mut &[17u8, 0, 0, 0][..], 1024),
            Err(FrameError::Misaligned(17))
        ));
    }
}
