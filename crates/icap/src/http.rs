//! Encapsulated HTTP header blocks: parsing, the file name a body goes
//! under, and the headers of a rebuilt body.

use crate::parse::{Headers, ParseError, MAX_HEADERS};

/// An HTTP request or response head: its start line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHead {
    pub start: String,
    pub headers: Headers,
}

impl HttpHead {
    /// Parses a header section as the `Encapsulated` offsets delimit it
    /// (start line, fields, empty line).
    pub fn parse(bytes: &[u8]) -> Result<HttpHead, ParseError> {
        let mut lines = bytes
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let start = lines.next().ok_or(ParseError::BadHeader)?;
        if start.is_empty() {
            return Err(ParseError::BadHeader);
        }
        let fields: Vec<&[u8]> = lines.take_while(|l| !l.is_empty()).collect();
        if fields.len() > MAX_HEADERS {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(HttpHead {
            start: String::from_utf8_lossy(start).into_owned(),
            headers: Headers::parse_lines(fields)?,
        })
    }

    /// The bytes of the head, ending with the empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers.0 {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The target of a request line (`GET http://h/a/b.pdf HTTP/1.1`).
    pub fn request_target(&self) -> Option<&str> {
        let mut p = self.start.split(' ');
        let _method = p.next()?;
        p.next().filter(|t| !t.is_empty())
    }

    /// The status code of a response line.
    pub fn status(&self) -> Option<u16> {
        let mut p = self.start.split(' ');
        p.next()
            .filter(|v| v.starts_with("HTTP/"))
            .and(p.next())?
            .parse()
            .ok()
    }
}

/// The name a body is sanitised under when nothing names it.
pub const NEUTRAL_NAME: &str = "download";

/// The file name of a body: the `Content-Disposition` filename of the
/// message carrying it, else the last path segment of the request URL,
/// else [`NEUTRAL_NAME`]. Returned with whether it came from the message
/// (`false` for the neutral name). The engine never trusts it for the
/// type; it only feeds the name and extension checks.
pub fn body_name(request: Option<&HttpHead>, message: Option<&HttpHead>) -> (String, bool) {
    let from_cd = message
        .and_then(|m| m.headers.get("Content-Disposition"))
        .and_then(disposition_filename);
    let from_url = || request.and_then(|r| r.request_target()).and_then(url_name);
    match from_cd.or_else(from_url) {
        Some(n) => (n, true),
        None => (NEUTRAL_NAME.to_string(), false),
    }
}

/// The last path segment of a URL or origin-form target, percent-decoded.
pub fn url_name(target: &str) -> Option<String> {
    let no_query = target.split(['?', '#']).next().unwrap_or("");
    let path = match no_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => no_query,
    };
    let seg = path.rsplit('/').next().unwrap_or("");
    clean_name(&percent_decode(seg))
}

/// `filename*=UTF-8''...` (preferred) or `filename="..."` of a
/// Content-Disposition value.
pub fn disposition_filename(v: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in split_params(v).into_iter().skip(1) {
        let Some((k, val)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let val = val.trim();
        if k == "filename*" {
            // charset'lang'pct-encoded; UTF-8 and ASCII are read as UTF-8.
            let mut it = val.splitn(3, '\'');
            if let (Some(_cs), Some(_lang), Some(enc)) = (it.next(), it.next(), it.next()) {
                extended = Some(percent_decode(enc));
            }
        } else if k == "filename" {
            let unq = val
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"))
                .unwrap_or_else(|| val.to_string());
            plain = Some(unq);
        }
    }
    extended.or(plain).and_then(|n| {
        // A path in a filename counts for its last component only.
        let last = n.rsplit(['/', '\\']).next().unwrap_or("").to_string();
        clean_name(&last)
    })
}

/// Splits on `;` outside quotes.
fn split_params(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in v.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A name for the job: no control characters, bounded length; `None` when
/// nothing usable is left.
fn clean_name(s: &str) -> Option<String> {
    let n: String = s.chars().filter(|c| !c.is_control()).take(255).collect();
    let n = n.trim().to_string();
    (!n.is_empty() && n != "." && n != "..").then_some(n)
}

/// A `Content-Disposition` value naming `name` (ASCII fallback and the
/// UTF-8 form), keeping the disposition type of `original` if there was one.
pub fn disposition(original: Option<&str>, name: &str) -> String {
    let kind = original
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or("attachment");
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{enc}")
}

/// Headers that describe the original body and must not describe the
/// rebuilt one.
const BODY_HEADERS: &[&str] = &[
    "Content-Length",
    "Content-Type",
    "Transfer-Encoding",
    "Content-Encoding",
    "Content-MD5",
    "Content-Range",
    "Digest",
    "ETag",
    "Last-Modified",
    "Accept-Ranges",
];

/// The head of a rebuilt body: the original's fields without those that
/// described the old body, then `Content-Length`, `Content-Type` of the
/// output, and `Content-Disposition` naming the new name when it changed.
pub fn rebuilt_head(
    original: &HttpHead,
    len: usize,
    mime: &str,
    new_name: Option<&str>,
    verdict: &str,
) -> HttpHead {
    let mut h = original.clone();
    for n in BODY_HEADERS {
        h.headers.remove(n);
    }
    if let Some(name) = new_name {
        let d = disposition(original.headers.get("Content-Disposition"), name);
        h.headers.set("Content-Disposition", d);
    }
    h.headers.set("Content-Type", mime);
    h.headers.set("Content-Length", len.to_string());
    h.headers.set("X-Mugai-Verdict", verdict);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_disposition_then_the_url() {
        let req = HttpHead::parse(
            b"GET http://h.example/a/%E7%94%B3%E8%AB%8B.pdf?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
        )
        .unwrap();
        let res = HttpHead::parse(b"HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\n").unwrap();
        assert_eq!(body_name(Some(&req), Some(&res)), ("申請.pdf".into(), true));
        let res2 = HttpHead::parse(
            b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"a;b.docm\"\r\n\r\n",
        )
        .unwrap();
        assert_eq!(body_name(Some(&req), Some(&res2)).0, "a;b.docm");
        let res3 = HttpHead::parse(
            b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"x.txt\"; filename*=UTF-8''%E8%A1%A8.xlsx\r\n\r\n",
        )
        .unwrap();
        assert_eq!(body_name(None, Some(&res3)).0, "表.xlsx");
        let root = HttpHead::parse(b"GET http://h.example/ HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            body_name(Some(&root), None),
            (NEUTRAL_NAME.to_string(), false)
        );
        assert_eq!(url_name("/dir/..").as_deref(), None);
        assert_eq!(url_name("/a%2").as_deref(), Some("a%2"));
        assert_eq!(url_name("/a%").as_deref(), Some("a%"));
        assert_eq!(
            disposition_filename("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
    }

    #[test]
    fn rebuilt_heads_describe_the_new_body() {
        let res = HttpHead::parse(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ms-word.document.macroEnabled.12\r\n\
              Content-Length: 999\r\nETag: \"x\"\r\nX-Other: kept\r\n\r\n",
        )
        .unwrap();
        let h = rebuilt_head(&res, 42, "application/pdf", Some("表 a.docx"), "sanitized");
        assert_eq!(h.headers.get("content-length"), Some("42"));
        assert_eq!(h.headers.get("content-type"), Some("application/pdf"));
        assert_eq!(h.headers.get("etag"), None);
        assert_eq!(h.headers.get("x-other"), Some("kept"));
        assert_eq!(
            h.headers.get("content-disposition"),
            Some("attachment; filename=\"_ a.docx\"; filename*=UTF-8''%E8%A1%A8%20a.docx")
        );
        let again = HttpHead::parse(&h.to_bytes()).unwrap();
        assert_eq!(again, h);
        assert_eq!(again.status(), Some(200));
    }
}
