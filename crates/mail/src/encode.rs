//! Writing the converted message: header fields (RFC 2047 encoded words,
//! folding), body transfer encodings, and the output charset.
//!
//! Every header value written here has been cleaned of control characters,
//! so no CR or LF from the input can start a header of its own; every line
//! written is at most 998 octets (most are under 78).

use encoding_rs::{EncoderResult, ISO_2022_JP};

/// The charset of the written message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Iso2022Jp,
}

impl Charset {
    pub fn mime_name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Iso2022Jp => "ISO-2022-JP",
        }
    }
}

/// Encodes `s` as ISO-2022-JP only if every character maps exactly.
/// Half-width katakana would be silently widened by the encoder, so they
/// count as unmappable too.
pub fn to_iso2022jp(s: &str) -> Option<Vec<u8>> {
    if s.chars().any(|c| ('\u{FF61}'..='\u{FF9F}').contains(&c)) {
        return None;
    }
    let mut enc = ISO_2022_JP.new_encoder();
    let cap = enc.max_buffer_length_from_utf8_without_replacement(s.len())?;
    let mut out = vec![0u8; cap];
    let (res, read, written) = enc.encode_from_utf8_without_replacement(s, &mut out, true);
    match res {
        EncoderResult::InputEmpty if read == s.len() => {
            out.truncate(written);
            Some(out)
        }
        _ => None,
    }
}

/// Removes everything that must not be in a header value: control
/// characters (CR and LF above all) and bidi overrides; runs of whitespace
/// become one space.
pub fn clean_header_text(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut space = false;
    let mut n = 0usize;
    for c in s.chars() {
        if n >= max_chars {
            break;
        }
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if is_bidi_control(c) {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
            n += 1;
        }
        out.push(c);
        n += 1;
    }
    out
}

pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// Standard base64 with `=` padding.
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Base64 in lines of 76 characters, CRLF-terminated.
pub fn base64_lines(input: &[u8]) -> String {
    let b = base64(input);
    let mut out = String::with_capacity(b.len() + b.len() / 76 * 2 + 2);
    for chunk in b.as_bytes().chunks(76) {
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045) of CRLF-separated text lines, soft-wrapped
/// at 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split("\r\n") {
        let bytes = line.as_bytes();
        let mut col = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            // A line starting with a dot is escaped too, for SMTP peers that
            // mishandle dot-stuffing.
            let literal = literal && !(col == 0 && b == b'.');
            let w = if literal { 1 } else { 3 };
            if col + w > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            col += w;
        }
        out.push_str("\r\n");
    }
    out
}

/// Splits `s` into chunks whose encoded form fits one encoded word.
fn word_chunks(s: &str, cs: Charset) -> Vec<(String, Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    // 75 - len("=?UTF-8?B?" "?=") = 63 base64 characters = 45 bytes; for
    // ISO-2022-JP the escapes are counted by encoding each candidate.
    let max_bytes = match cs {
        Charset::Utf8 => 45,
        Charset::Iso2022Jp => 42,
    };
    let encode = |t: &str| -> Vec<u8> {
        match cs {
            Charset::Utf8 => t.as_bytes().to_vec(),
            Charset::Iso2022Jp => to_iso2022jp(t).unwrap_or_default(),
        }
    };
    for c in s.chars() {
        let mut candidate = cur.clone();
        candidate.push(c);
        let enc = encode(&candidate);
        if enc.len() > max_bytes && !cur.is_empty() {
            let done = encode(&cur);
            chunks.push((std::mem::take(&mut cur), done));
            cur.push(c);
        } else {
            cur = candidate;
        }
    }
    if !cur.is_empty() {
        let done = encode(&cur);
        chunks.push((cur, done));
    }
    chunks
}

/// RFC 2047 B-encoded words for `s`.
pub fn encoded_words(s: &str, cs: Charset) -> Vec<String> {
    word_chunks(s, cs)
        .into_iter()
        .map(|(_, bytes)| format!("=?{}?B?{}?=", cs.mime_name(), base64(&bytes)))
        .collect()
}

/// Whether `s` can be written as is in a header: printable ASCII, and
/// nothing that a reader would take for an encoded word.
fn plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (32..=126).contains(&b)) && !s.contains("=?")
}

/// An unstructured header value (Subject): words as written when plain
/// ASCII, encoded words otherwise.
pub fn unstructured(s: &str, cs: Charset) -> Vec<String> {
    if plain_ascii(s) && s.split(' ').all(|w| w.len() <= 900) {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    } else {
        encoded_words(s, cs)
    }
}

/// A display name as a quoted string or encoded words.
pub fn phrase(s: &str, cs: Charset) -> Vec<String> {
    if plain_ascii(s) && s.len() <= 200 {
        let atom = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" !#$%&'*+-/=?^_`{|}~".contains(&b));
        if atom {
            return s
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect();
        }
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        vec![q]
    } else {
        encoded_words(s, cs)
    }
}

/// Writes `Name: tok tok tok` folded so that lines stay under 78 characters
/// where the tokens allow (a token is never split; none is over 998).
pub fn fold(name: &str, tokens: &[String]) -> String {
    let mut out = String::new();
    out.push_str(name);
    out.push(':');
    let mut col = name.len() + 1;
    for t in tokens {
        if col + 1 + t.len() > 76 && col > name.len() + 1 {
            out.push_str("\r\n");
            col = 0;
        }
        out.push(' ');
        out.push_str(t);
        col += 1 + t.len();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn quoted_printable_wraps_and_escapes() {
        let long = "a".repeat(200);
        let qp = quoted_printable(&format!("{long}\r\n.x=y \r\n"));
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        assert!(qp.contains("=2Ex=3Dy=20\r\n"), "{qp}");
    }

    #[test]
    fn encoded_words_fit_and_round_trip_for_iso2022jp() {
        let s = "日本語の件名がとても長い場合にも正しく分割されることを確認します";
        for cs in [Charset::Utf8, Charset::Iso2022Jp] {
            let words = encoded_words(s, cs);
            assert!(words.len() > 1);
            assert!(words.iter().all(|w| w.len() <= 75), "{words:?}");
        }
        assert!(to_iso2022jp("半角ｶﾅ").is_none());
        assert!(to_iso2022jp("😀").is_none());
        assert_eq!(to_iso2022jp("日本").unwrap(), b"\x1b$BF|K\\\x1b(B");
    }

    #[test]
    fn header_text_loses_line_breaks() {
        assert_eq!(
            clean_header_text("a\r\nBcc: x@y\u{202E}", 100),
            "a Bcc: x@y"
        );
        let f = fold("Subject", &unstructured("x\r\nBcc: y", Charset::Utf8));
        assert_eq!(f.matches("\r\n").count(), 1);
    }
}
