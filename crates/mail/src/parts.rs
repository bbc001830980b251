//! Attachments that are password-protected ZIP archives ("PPAP"), taken
//! out of a message so that the recipient can unlock them later: the
//! relay keeps them for the console's one-time password page.

use mail_parser::{MessageParser, MimeHeaders};

/// Whether `bytes` is a ZIP whose first entry is encrypted (general
/// purpose flag bit 0: ZipCrypto or WinZip AES).
pub fn is_encrypted_zip(bytes: &[u8]) -> bool {
    bytes.len() >= 30 && bytes.starts_with(b"PK\x03\x04") && bytes[6] & 1 == 1
}

/// Whether `name` is already as [`encrypted_zips`] makes names: its own
/// safe name under the name rules of every file, no path. The side that
/// receives names from a worker checks it.
pub fn is_display_name(name: &str) -> bool {
    let (safe, findings) = crate::convert::safe_name(name);
    safe == name && findings.is_empty()
}

/// The message's attachments that are password-protected ZIPs, as
/// (name made safe to show, bytes); at most `max_parts` of them, each at
/// most `max_bytes`.
pub fn encrypted_zips(raw: &[u8], max_parts: usize, max_bytes: usize) -> Vec<(String, Vec<u8>)> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (n, part) in msg.attachments().enumerate() {
        if out.len() >= max_parts {
            break;
        }
        let bytes = part.contents();
        if bytes.len() > max_bytes || !is_encrypted_zip(bytes) {
            continue;
        }
        let name = part
            .attachment_name()
            .and_then(|_| crate::convert::attachment_name(&msg, part))
            .unwrap_or_else(|| format!("part-{}.zip", n + 1));
        out.push((name, bytes.to_vec()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_encrypted_zip_attachments_are_taken() {
        let mut locked = b"PK\x03\x04\x14\x00\x01\x00".to_vec();
        locked.resize(40, 0);
        let mut open = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
        open.resize(40, 0);
        let b64 = crate::encode::base64_lines;
        let raw = format!(
            "From: a@example.com\r\nTo: b@example.jp\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--b\r\nContent-Type: application/zip; name=\"見積.zip\"\r\nContent-Disposition: attachment; filename=\"../見積.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"open.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
            b64(&locked),
            b64(&open)
        );
        let got = encrypted_zips(raw.as_bytes(), 8, 1 << 20);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "見積.zip");
        assert_eq!(got[0].1, locked);
        assert!(
            encrypted_zips(raw.as_bytes(), 8, 10).is_empty(),
            "too large"
        );
        assert!(encrypted_zips(b"not mail at all", 8, 100).is_empty());
    }
}
