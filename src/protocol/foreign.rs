//! Recognising a peer that speaks another protocol, so that a client pointed at the wrong port
//! hears "this port answers in HTTP" instead of a frame size: the first four bytes of an HTTP
//! reply read as a length prefix announce 1347703880 bytes ("HTTP"), a MariaDB greeting 100
//! bytes that are not whole cipher blocks.

/// The protocol the peer seems to speak, from the four bytes read as a frame's length prefix and
/// whatever followed them (possibly nothing yet).
pub fn recognise(prefix: [u8; 4], after: &[u8]) -> Option<&'static str> {
    match prefix {
        [b'H', b'T', b'T', b'P'] => Some("HTTP"),
        [b'S', b'S', b'H', b'-'] => Some("SSH"),
        // A TLS record: alert (21) or handshake (22), protocol version 3.x.
        [21 | 22, 3, 0..=4, _] => Some("TLS"),
        // A MySQL packet: a 3-byte length, sequence 0, then a greeting (protocol 10) or an error
        // packet (0xff, e.g. "Host is not allowed to connect").
        [_, _, 0, 0]
            if u32::from_le_bytes(prefix) % 16 != 0
                && matches!(after.first(), Some(0x0a | 0xff)) =>
        {
            Some("the MySQL protocol")
        }
        _ => None,
    }
}

/// The sentence that says so, for an error's detail.
pub fn explain(protocol: &str) -> String {
    format!("this port answers in {protocol}, not the MikroBILL API (usually port 7403)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_wrong_ports_are_named_and_frames_are_not() {
        assert_eq!(recognise(*b"HTTP", b"/1.1 400 Bad Request"), Some("HTTP"));
        assert_eq!(
            u32::from_le_bytes(*b"HTTP"),
            1_347_703_880,
            "what the frame size said"
        );
        assert_eq!(recognise(*b"SSH-", b"2.0-OpenSSH_9.2"), Some("SSH"));
        assert_eq!(recognise([21, 3, 3, 0], &[2, 2, 50]), Some("TLS"));
        assert_eq!(recognise([22, 3, 1, 0], &[]), Some("TLS"));
        // MariaDB's greeting: 100 bytes, sequence 0, protocol 10, "5.5.5-10.11.6-MariaDB".
        assert_eq!(
            recognise([100, 0, 0, 0], b"\x0a5.5.5-10.11"),
            Some("the MySQL protocol")
        );
        assert_eq!(
            recognise([71, 0, 0, 0], b"\xff\x6a\x04Host"),
            Some("the MySQL protocol")
        );
        // A real frame's length prefix: whole blocks, followed by ciphertext.
        assert_eq!(recognise(48u32.to_le_bytes(), &[0x8d, 0x13]), None);
        assert_eq!(recognise(48u32.to_le_bytes(), &[]), None);
        assert_eq!(
            recognise(96u32.to_le_bytes(), &[0x0a]),
            None,
            "96 is whole blocks"
        );
        assert!(explain("HTTP").contains("answers in HTTP, not the MikroBILL API"));
    }
}
