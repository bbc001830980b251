//! The DATA section as the relay reads it: only `CRLF . CRLF` ends it, and
//! a bare CR or LF anywhere marks the message for rejection (as Postfix's
//! `smtpd_forbid_bare_newline = reject`). A bare LF before `.` is how SMTP
//! smuggling ends a message early for one reader and not for another; here
//! nothing after such a line can become a second message.

/// Line-by-line state over the chunks of DATA (each ends with LF, or was
/// cut at the read buffer's size).
#[derive(Debug)]
pub struct DataLines {
    line_start: bool,
    prev: u8,
    /// A CR not followed by LF, or an LF not preceded by CR, was seen.
    pub bare: bool,
}

impl Default for DataLines {
    fn default() -> Self {
        DataLines {
            line_start: true,
            prev: b'\n',
            bare: false,
        }
    }
}

impl DataLines {
    /// Feeds one chunk. `None`: the end-of-data line; otherwise the bytes
    /// to keep (a leading dot of a line removed).
    pub fn feed<'a>(&mut self, chunk: &'a [u8]) -> Option<&'a [u8]> {
        let start = self.line_start;
        if start && chunk == b".\r\n" {
            return None;
        }
        let mut before = self.prev;
        for &b in chunk {
            if (b == b'\n' && self.prev != b'\r') || (self.prev == b'\r' && b != b'\n') {
                self.bare = true;
            }
            before = self.prev;
            self.prev = b;
        }
        // A line starts only after CR LF (also when the CR ended the
        // previous chunk).
        self.line_start = !chunk.is_empty() && before == b'\r' && self.prev == b'\n';
        Some(match chunk.first() {
            Some(b'.') if start => &chunk[1..],
            _ => chunk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `stream` as the reader does (at each LF) and feeds it; returns
    /// the kept data and whether it was bare, or `None` if no end was found.
    fn read(stream: &[u8]) -> Option<(Vec<u8>, bool)> {
        let mut d = DataLines::default();
        let mut kept = Vec::new();
        for chunk in stream.split_inclusive(|&b| b == b'\n') {
            match d.feed(chunk) {
                None => return Some((kept, d.bare)),
                Some(b) => kept.extend_from_slice(b),
            }
        }
        None
    }

    #[test]
    fn only_crlf_dot_crlf_ends_data_and_bare_line_ends_are_flagged() {
        assert_eq!(
            read(b"a\r\n..b\r\n.\r\nMAIL"),
            Some((b"a\r\n.b\r\n".to_vec(), false))
        );
        // Every smuggling variant: no early end, and flagged.
        for fake in [
            &b"\n.\r\n"[..],
            b"\r.\r\n",
            b"\n.\n",
            b"\r\n.\n",
            b"\r\n.\r",
            b"\r\n.\rx\r\n",
        ] {
            let mut s = b"Subject: x\r\n\r\nbody".to_vec();
            s.extend_from_slice(fake);
            s.extend_from_slice(b"MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n");
            let (kept, bare) = read(&s).map_or((Vec::new(), false), |x| x);
            assert!(kept.is_empty() && !bare, "{fake:?} must not end the data");
            s.extend_from_slice(b"smuggled\r\n.\r\n");
            let (kept, bare) = read(&s).expect("the real end");
            assert!(bare, "{fake:?} not flagged");
            assert!(
                String::from_utf8_lossy(&kept).contains("MAIL FROM:<evil@x>"),
                "{fake:?}: what follows stays inside the one message"
            );
        }
        // A CR LF split across two chunks is still a line end.
        let mut d = DataLines::default();
        assert!(d.feed(b"abc\r").is_some());
        assert!(d.feed(b"\n").is_some());
        assert!(d.feed(b".\r\n").is_none());
        assert!(!d.bare);
    }
}
