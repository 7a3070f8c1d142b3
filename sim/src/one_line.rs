//! A request written down on one line of a file of one record per line: the request trace and
//! `mb proxy`'s recording.

use std::io::{self, Write};

/// Writes `text` with each line break (CR or LF) as a space. In JSON a line break can only be
/// whitespace between tokens (strings hold theirs escaped), so the request stays one line and
/// means the same.
pub fn write(out: &mut impl Write, text: &[u8]) -> io::Result<()> {
    for (i, part) in text.split(|&b| b == b'\n' || b == b'\r').enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        out.write_all(part)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_breaks_become_spaces_and_nothing_else_changes() {
        let mut out = Vec::new();
        super::write(&mut out, b"{\"a\":\r\n[1,\n2]}\n").unwrap();
        assert_eq!(out, b"{\"a\":  [1, 2]} ");
        out.clear();
        super::write(&mut out, "\"Пётр\\n\"".as_bytes()).unwrap();
        assert_eq!(out, "\"Пётр\\n\"".as_bytes());
    }
}
