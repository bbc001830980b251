//! Bounded reading of ICAP requests: the request line and headers, the
//! `Encapsulated` sections, and chunked bodies. Every size the client
//! states is checked against a limit before anything is read or kept;
//! malformed input is an error, never a panic.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// Longest line (request line, header line, chunk-size line).
pub const MAX_LINE: usize = 8 * 1024;
/// Largest ICAP header block, and largest encapsulated HTTP header block.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines in one block.
pub const MAX_HEADERS: usize = 200;

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the connection ended in the middle of {0}")]
    Truncated(&'static str),
    #[error("a line is longer than {0} bytes")]
    LineTooLong(usize),
    #[error("a header block is larger than {MAX_HEAD} bytes or has more than {MAX_HEADERS} lines")]
    HeadTooLarge,
    #[error("bad request line")]
    BadRequestLine,
    #[error("bad header line")]
    BadHeader,
    #[error("bad Encapsulated header: {0}")]
    BadEncapsulated(String),
    #[error("bad chunk size line")]
    BadChunkSize,
    #[error("a chunk is not followed by CRLF")]
    BadChunkEnd,
    #[error("the body is over the limit of {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one line (without its CRLF or LF). `Ok(None)` at a clean end of
/// stream before any byte of the line.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, ParseError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(ParseError::Truncated("a line"))
            };
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if line.len() + i > max {
                    return Err(ParseError::LineTooLong(max));
                }
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            None => {
                let n = buf.len();
                if line.len() + n > max {
                    return Err(ParseError::LineTooLong(max));
                }
                line.extend_from_slice(buf);
                r.consume(n);
            }
        }
    }
}

/// Header fields in order; names compared without case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces every `name` with one field.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.0.push((name.to_string(), value.into()));
    }

    /// Parses header lines (no start line, no empty line).
    pub fn parse_lines<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Headers, ParseError> {
        let mut h: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.len() > MAX_LINE {
                return Err(ParseError::LineTooLong(MAX_LINE));
            }
            let text = String::from_utf8_lossy(line);
            if text.starts_with([' ', '\t']) {
                // A folded continuation of the previous field.
                let Some(last) = h.last_mut() else {
                    return Err(ParseError::BadHeader);
                };
                last.1.push(' ');
                last.1.push_str(text.trim());
                continue;
            }
            let Some((name, value)) = text.split_once(':') else {
                return Err(ParseError::BadHeader);
            };
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(ParseError::BadHeader);
            }
            if h.len() >= MAX_HEADERS {
                return Err(ParseError::HeadTooLarge);
            }
            h.push((name.to_string(), value.trim().to_string()));
        }
        Ok(h.into())
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(v: Vec<(String, String)>) -> Self {
        Headers(v)
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The ICAP methods served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Options,
    Reqmod,
    Respmod,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Reqmod => "REQMOD",
            Method::Respmod => "RESPMOD",
        }
    }
}

/// An ICAP request line that names a method this server does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherMethod(pub String);

/// The request line and headers of one ICAP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcapHead {
    /// `Err` for a well-formed line with a method not served (405).
    pub method: Result<Method, OtherMethod>,
    pub uri: String,
    pub headers: Headers,
}

impl IcapHead {
    /// The path of the service URI (`/mugai` of `icap://host:1344/mugai?x`).
    pub fn service(&self) -> &str {
        let rest = self
            .uri
            .strip_prefix("icap://")
            .or_else(|| self.uri.strip_prefix("ICAP://"))
            .unwrap_or(&self.uri);
        let path = match rest.find('/') {
            Some(i) if !self.uri.starts_with('/') => &rest[i..],
            _ if self.uri.starts_with('/') => rest,
            _ => "/",
        };
        path.split(['?', '#']).next().unwrap_or("/")
    }

    /// The `Preview` size, when the client sends a preview.
    pub fn preview(&self) -> Result<Option<u64>, ParseError> {
        match self.headers.get("Preview") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ParseError::BadHeader),
        }
    }

    /// Whether the client allows a 204 answer outside a preview.
    pub fn allows_204(&self) -> bool {
        self.headers
            .0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Allow"))
            .any(|(_, v)| v.split(',').any(|x| x.trim() == "204"))
    }

    /// Whether the client asks to close after this request.
    pub fn wants_close(&self) -> bool {
        self.headers
            .get("Connection")
            .is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case("close")))
    }
}

/// Reads the request line and the ICAP headers. `Ok(None)` when the client
/// closed the connection between requests.
pub async fn read_icap_head<R: AsyncBufRead + Unpin>(
    r: &mut R,
) -> Result<Option<IcapHead>, ParseError> {
    // Tolerate empty lines between requests.
    let first = loop {
        match read_line(r, MAX_LINE).await? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let text = String::from_utf8_lossy(&first).into_owned();
    let mut parts = text.split(' ');
    let (Some(m), Some(uri), Some(ver), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine);
    };
    if !ver.starts_with("ICAP/1.") || uri.is_empty() || m.is_empty() {
        return Err(ParseError::BadRequestLine);
    }
    let method = match m {
        "OPTIONS" => Ok(Method::Options),
        "REQMOD" => Ok(Method::Reqmod),
        "RESPMOD" => Ok(Method::Respmod),
        other if other.bytes().all(is_token_byte) => Err(OtherMethod(other.to_string())),
        _ => return Err(ParseError::BadRequestLine),
    };
    let mut lines = Vec::new();
    let mut total = first.len();
    loop {
        let Some(l) = read_line(r, MAX_LINE).await? else {
            return Err(ParseError::Truncated("the ICAP headers"));
        };
        if l.is_empty() {
            break;
        }
        total += l.len() + 2;
        if total > MAX_HEAD || lines.len() >= MAX_HEADERS {
            return Err(ParseError::HeadTooLarge);
        }
        lines.push(l);
    }
    let headers = Headers::parse_lines(lines.iter().map(Vec::as_slice))?;
    Ok(Some(IcapHead {
        method,
        uri: uri.to_string(),
        headers,
    }))
}

/// One entity of the `Encapsulated` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    ReqHdr,
    ResHdr,
    ReqBody,
    ResBody,
    OptBody,
    NullBody,
}

/// The `Encapsulated` header: header sections with their lengths, and the
/// body kind that follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulated {
    /// Header sections in order, each with its length in bytes.
    pub headers: Vec<(Section, usize)>,
    /// `ReqBody`, `ResBody`, `OptBody` or `NullBody`.
    pub body: Section,
}

impl Encapsulated {
    pub fn parse(v: &str) -> Result<Encapsulated, ParseError> {
        let bad = |why: &str| ParseError::BadEncapsulated(why.to_string());
        let mut entries = Vec::new();
        for part in v.split(',') {
            let (name, off) = part.trim().split_once('=').ok_or_else(|| bad("no `=`"))?;
            let off: usize = off
                .trim()
                .parse()
                .map_err(|_| bad("an offset is not a number"))?;
            let s = match name.trim().to_ascii_lowercase().as_str() {
                "req-hdr" => Section::ReqHdr,
                "res-hdr" => Section::ResHdr,
                "req-body" => Section::ReqBody,
                "res-body" => Section::ResBody,
                "opt-body" => Section::OptBody,
                "null-body" => Section::NullBody,
                _ => return Err(bad("unknown entity")),
            };
            entries.push((s, off));
        }
        let Some((&(body, _), heads)) = entries.split_last() else {
            return Err(bad("empty"));
        };
        if matches!(body, Section::ReqHdr | Section::ResHdr) {
            return Err(bad("the last entity is not a body"));
        }
        if entries.first().map(|e| e.1) != Some(0) {
            return Err(bad("the first offset is not 0"));
        }
        let mut headers = Vec::new();
        for (i, &(s, off)) in heads.iter().enumerate() {
            if !matches!(s, Section::ReqHdr | Section::ResHdr) {
                return Err(bad("a body before the end"));
            }
            if headers.iter().any(|&(x, _)| x == s) {
                return Err(bad("an entity twice"));
            }
            let next = entries[i + 1].1;
            let len = next
                .checked_sub(off)
                .ok_or_else(|| bad("offsets decrease"))?;
            if len > MAX_HEAD {
                return Err(ParseError::HeadTooLarge);
            }
            headers.push((s, len));
        }
        Ok(Encapsulated { headers, body })
    }

    pub fn has_body(&self) -> bool {
        self.body != Section::NullBody
    }
}

/// Reads exactly `len` bytes (a header section whose length the
/// `Encapsulated` offsets gave, already checked against [`MAX_HEAD`]).
pub async fn read_exact_bounded<R: AsyncBufRead + Unpin>(
    r: &mut R,
    len: usize,
) -> Result<Vec<u8>, ParseError> {
    if len > MAX_HEAD {
        return Err(ParseError::HeadTooLarge);
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(ParseError::Truncated("the encapsulated headers"));
        }
        let n = buf.len().min(len - out.len());
        out.extend_from_slice(&buf[..n]);
        r.consume(n);
    }
    Ok(out)
}

/// How a run of chunks ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunksEnd {
    /// The zero-size chunk: the end of the (preview) data.
    Zero,
    /// `0; ieof`: the preview holds the whole body.
    Ieof,
}

/// Reads chunks up to and including the terminating zero-size chunk,
/// writing the data to `sink`. `total` counts the body bytes received so
/// far (across a preview and its continuation); more than `max` is
/// [`ParseError::TooLarge`], detected from the chunk size before its data
/// is read.
pub async fn read_chunks<R, W>(
    r: &mut R,
    sink: &mut W,
    total: &mut u64,
    max: u64,
) -> Result<ChunksEnd, ParseError>
where
    R: AsyncBufRead + Unpin,
    W: ChunkSink,
{
    loop {
        let Some(line) = read_line(r, 1024).await? else {
            return Err(ParseError::Truncated("a chunked body"));
        };
        let (size, ieof) = parse_chunk_size(&line)?;
        if size == 0 {
            // Trailers (none expected) up to the empty line.
            let mut n = 0;
            loop {
                let Some(l) = read_line(r, MAX_LINE).await? else {
                    return Err(ParseError::Truncated("a chunked body"));
                };
                if l.is_empty() {
                    break;
                }
                n += 1;
                if n > MAX_HEADERS {
                    return Err(ParseError::HeadTooLarge);
                }
            }
            return Ok(if ieof {
                ChunksEnd::Ieof
            } else {
                ChunksEnd::Zero
            });
        }
        match total.checked_add(size) {
            Some(t) if t <= max => *total = t,
            _ => return Err(ParseError::TooLarge(max)),
        }
        let mut left = size;
        while left > 0 {
            let buf = r.fill_buf().await?;
            if buf.is_empty() {
                return Err(ParseError::Truncated("a chunk"));
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            sink.put(&buf[..n]).await?;
            r.consume(n);
            left -= n as u64;
        }
        match read_line(r, 2).await {
            Ok(Some(l)) if l.is_empty() => {}
            Ok(None) => return Err(ParseError::Truncated("a chunk")),
            Ok(Some(_)) | Err(ParseError::LineTooLong(_)) => return Err(ParseError::BadChunkEnd),
            Err(e) => return Err(e),
        }
    }
}

/// `1a2b` or `1a2b; ieof` (other extensions ignored) → size and ieof.
pub fn parse_chunk_size(line: &[u8]) -> Result<(u64, bool), ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::BadChunkSize)?;
    let mut parts = text.split(';');
    let hex = parts.next().unwrap_or("").trim();
    if hex.is_empty() || hex.len() > 15 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::BadChunkSize);
    }
    let size = u64::from_str_radix(hex, 16).map_err(|_| ParseError::BadChunkSize)?;
    let ieof = parts.any(|p| p.trim().eq_ignore_ascii_case("ieof"));
    Ok((size, ieof))
}

/// Where chunk data goes.
pub trait ChunkSink {
    fn put(&mut self, data: &[u8])
        -> impl std::future::Future<Output = std::io::Result<()>> + Send;
}

/// Discards the data (draining a refused body).
#[derive(Debug, Default)]
pub struct Discard;

impl ChunkSink for Discard {
    async fn put(&mut self, _data: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

impl ChunkSink for Vec<u8> {
    async fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
}

/// Writes `data` as chunks of at most 64 KiB, without the final chunk.
pub async fn write_chunks<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    for c in data.chunks(64 * 1024) {
        w.write_all(format!("{:x}\r\n", c.len()).as_bytes()).await?;
        w.write_all(c).await?;
        w.write_all(b"\r\n").await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn chunks(input: &[u8], max: u64) -> Result<(ChunksEnd, Vec<u8>), ParseError> {
        rt().block_on(async {
            let mut r = input;
            let mut out = Vec::new();
            let mut total = 0;
            let end = read_chunks(&mut r, &mut out, &mut total, max).await?;
            assert_eq!(total, out.len() as u64);
            Ok((end, out))
        })
    }

    fn head(input: &[u8]) -> Result<Option<IcapHead>, ParseError> {
        rt().block_on(async {
            let mut r = input;
            read_icap_head(&mut r).await
        })
    }

    #[test]
    fn well_formed_chunks_are_read() {
        let (end, data) = chunks(b"3\r\nabc\r\n2; x=y\r\nde\r\n0\r\n\r\n", 100).unwrap();
        assert_eq!((end, data.as_slice()), (ChunksEnd::Zero, &b"abcde"[..]));
        let (end, data) = chunks(b"1\r\nz\r\n0; ieof\r\n\r\n", 100).unwrap();
        assert_eq!((end, data.as_slice()), (ChunksEnd::Ieof, &b"z"[..]));
    }

    #[test]
    fn truncated_chunks_are_errors() {
        for input in [
            &b""[..],
            b"5\r\nab",
            b"5\r\nabcde",
            b"5\r\nabcde\r\n",
            b"5\r\nabcde\r\n0\r\n",
            b"5",
            b"0\r\n",
        ] {
            let e = chunks(input, 100).unwrap_err();
            assert!(matches!(e, ParseError::Truncated(_)), "{input:?}: {e:?}");
        }
    }

    #[test]
    fn huge_and_bad_chunk_sizes_are_errors_without_allocation() {
        // Larger than the limit: refused from the size line alone.
        let e = chunks(b"ffffffffffffff\r\nab", 1 << 20).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(_)), "{e:?}");
        let e = chunks(b"100001\r\n", 1 << 20).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(_)), "{e:?}");
        // A running total over the limit.
        let e = chunks(b"3\r\nabc\r\n3\r\nabc\r\n0\r\n\r\n", 5).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge(5)), "{e:?}");
        for bad in [
            &b"ffffffffffffffffffff\r\n"[..],
            b"-1\r\nx\r\n",
            b"+1\r\nx\r\n",
            b"0x10\r\n",
            b"zz\r\n",
            b"\r\n",
            b" \r\n",
            b"\xff\xfe\r\n",
        ] {
            let e = chunks(bad, u64::MAX).unwrap_err();
            assert!(matches!(e, ParseError::BadChunkSize), "{bad:?}: {e:?}");
        }
        let long = [b'1'; 5000];
        let e = chunks(&long, u64::MAX).unwrap_err();
        assert!(matches!(e, ParseError::LineTooLong(_)), "{e:?}");
        // Data longer than its chunk size.
        let e = chunks(b"2\r\nabc\r\n0\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, ParseError::BadChunkEnd), "{e:?}");
    }

    #[test]
    fn request_heads_parse_and_bad_ones_are_errors() {
        let h = head(
            b"RESPMOD icap://127.0.0.1:1344/mugai?x=1 ICAP/1.0\r\nHost: a\r\n\
              Encapsulated: req-hdr=0, res-hdr=10, res-body=20\r\nPreview: 0\r\n\
              Allow: 204\r\nX-Folded: a\r\n b\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.method, Ok(Method::Respmod));
        assert_eq!(h.service(), "/mugai");
        assert_eq!(h.preview().unwrap(), Some(0));
        assert!(h.allows_204());
        assert_eq!(h.headers.get("x-folded"), Some("a b"));
        assert_eq!(head(b"").unwrap(), None);
        assert_eq!(
            head(b"FOO icap://a/mugai ICAP/1.0\r\n\r\n")
                .unwrap()
                .unwrap()
                .method,
            Err(OtherMethod("FOO".into()))
        );
        for bad in [
            &b"RESPMOD icap://a/mugai\r\n\r\n"[..],
            b"RESPMOD icap://a/mugai HTTP/1.1\r\n\r\n",
            b"RESPMOD  icap://a/mugai ICAP/1.0\r\n\r\n",
            b"RESPMOD icap://a/mugai ICAP/1.0\r\nno colon\r\n\r\n",
            b"RESPMOD icap://a/mugai ICAP/1.0\r\n bad continuation\r\n\r\n",
            b"RESPMOD icap://a/mugai ICAP/1.0\r\nBad Name: x\r\n\r\n",
            b"RESPMOD icap://a/mugai ICAP/1.0\r\nHost: a\r\n",
            b"\x00\xff icap://a/mugai ICAP/1.0\r\n\r\n",
        ] {
            assert!(head(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // Endless headers.
        let mut many = b"OPTIONS icap://a/mugai ICAP/1.0\r\n".to_vec();
        for i in 0..5000 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        assert!(matches!(head(&many), Err(ParseError::HeadTooLarge)));
        let mut long = b"OPTIONS icap://a/mugai ICAP/1.0\r\nX: ".to_vec();
        long.resize(long.len() + 100_000, b'a');
        assert!(matches!(head(&long), Err(ParseError::LineTooLong(_))));
    }

    #[test]
    fn encapsulated_offsets_are_checked() {
        let e = Encapsulated::parse("req-hdr=0, res-hdr=137, res-body=296").unwrap();
        assert_eq!(
            e.headers,
            vec![(Section::ReqHdr, 137), (Section::ResHdr, 159)]
        );
        assert_eq!(e.body, Section::ResBody);
        assert!(!Encapsulated::parse("null-body=0").unwrap().has_body());
        for bad in [
            "",
            "req-hdr=0",
            "req-hdr=10, null-body=20",
            "req-hdr=0, res-hdr=50, res-body=20",
            "req-hdr=0, res-body=1, res-hdr=2",
            "req-hdr=0, req-hdr=1, null-body=2",
            "req-hdr=0, null-body=99999999999999999999999",
            "req-hdr=0, null-body=9999999",
            "foo=0",
            "req-hdr=x",
        ] {
            assert!(Encapsulated::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic generator: every prefix of a mutated
        // request, and pseudo-random bytes.
        let base: &[u8] = b"RESPMOD icap://a/mugai ICAP/1.0\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for i in 0..2000 {
            let mut v = base.to_vec();
            for _ in 0..(i % 7) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % v.len();
                v[at] = (seed >> 32) as u8;
            }
            v.truncate(i % (v.len() + 1));
            let _ = head(&v);
            let _ = chunks(&v, 1 << 20);
            let _ = Encapsulated::parse(&String::from_utf8_lossy(&v));
        }
    }
}
