//! The INSTREAM client.

use mugai_core::config::AvPolicy;
use mugai_core::{ScanResult, Scanner};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 << 10;
/// Longest reply read from clamd.
const MAX_REPLY: u64 = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(String),
}

impl Address {
    /// `/path/to/clamd.sock`, `unix:/path`, `tcp:HOST:PORT` or `HOST:PORT`.
    pub fn parse(s: &str) -> Address {
        if let Some(p) = s.strip_prefix("unix:") {
            Address::Unix(PathBuf::from(p))
        } else if let Some(t) = s.strip_prefix("tcp:") {
            Address::Tcp(t.to_string())
        } else if s.starts_with('/') || s.starts_with('.') {
            Address::Unix(PathBuf::from(s))
        } else {
            Address::Tcp(s.to_string())
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(t) => write!(f, "tcp:{t}"),
        }
    }
}

/// A clamd scanner.
#[derive(Debug, Clone)]
pub struct Clamd {
    pub address: Address,
    pub timeout: Duration,
    /// `on_stale = "block"`: scans fail closed when the signatures are
    /// missing or older than this many hours.
    pub block_stale_after_hours: Option<u64>,
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

impl Clamd {
    pub fn new(address: &str, timeout: Duration) -> Clamd {
        Clamd {
            address: Address::parse(address),
            timeout,
            block_stale_after_hours: None,
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match &self.address {
            Address::Unix(p) => {
                let s = UnixStream::connect(p)?;
                s.set_read_timeout(Some(self.timeout))?;
                s.set_write_timeout(Some(self.timeout))?;
                Ok(Conn::Unix(s))
            }
            Address::Tcp(hp) => {
                let mut last = io::Error::other(format!("{hp}: no address"));
                for addr in hp.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, self.timeout) {
                        Ok(s) => {
                            s.set_read_timeout(Some(self.timeout))?;
                            s.set_write_timeout(Some(self.timeout))?;
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }

    /// Sends a simple command (`PING`, `VERSION`) and returns the reply.
    fn command(&self, cmd: &str) -> io::Result<String> {
        let mut c = self.connect()?;
        c.write_all(format!("z{cmd}\0").as_bytes())?;
        read_reply(&mut c)
    }

    /// `PING`: true when clamd answers `PONG`.
    pub fn ping(&self) -> io::Result<bool> {
        Ok(self.command("PING")? == "PONG")
    }

    /// `VERSION`: e.g. `ClamAV 1.4.6/27400/Sat Nov 21 10:00:00 2026` (engine,
    /// signature database version and date).
    pub fn version(&self) -> io::Result<String> {
        self.command("VERSION")
    }

    /// Streams `bytes` to clamd and returns its raw reply.
    pub fn instream(&self, bytes: &[u8]) -> io::Result<String> {
        let mut c = self.connect()?;
        c.write_all(b"zINSTREAM\0")?;
        let mut sent = Ok(());
        for chunk in bytes.chunks(CHUNK) {
            let len = (chunk.len() as u32).to_be_bytes();
            sent = c.write_all(&len).and_then(|()| c.write_all(chunk));
            if sent.is_err() {
                break;
            }
        }
        if sent.is_ok() {
            sent = c.write_all(&[0, 0, 0, 0]);
        }
        // Over StreamMaxLength clamd replies and closes while we write: the
        // reply says why, so read it whatever the write said.
        match (read_reply(&mut c), sent) {
            (Ok(r), _) if !r.is_empty() => Ok(r),
            (_, Err(e)) => Err(e),
            (r, Ok(())) => r,
        }
    }
}

fn read_reply(c: &mut Conn) -> io::Result<String> {
    let mut buf = Vec::new();
    c.take(MAX_REPLY).read_to_end(&mut buf)?;
    while buf.last() == Some(&0) || buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Interprets an INSTREAM reply.
pub fn interpret(reply: &str) -> ScanResult {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply).trim();
    if body == "OK" {
        ScanResult::Clean
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        ScanResult::Detected(name.trim().to_string())
    } else if body.contains("size limit exceeded") {
        ScanResult::TooLarge
    } else {
        ScanResult::Unavailable(format!(
            "clamd answered `{}`",
            body.chars().take(200).collect::<String>()
        ))
    }
}

impl Scanner for Clamd {
    fn scan(&self, bytes: &[u8]) -> ScanResult {
        if let Some(h) = self.block_stale_after_hours {
            if let Some(why) = crate::signatures::blocking_reason(self, h) {
                return ScanResult::Unavailable(why);
            }
        }
        match self.instream(bytes) {
            Ok(reply) => interpret(&reply),
            Err(e) => ScanResult::Unavailable(format!("{}: {e}", self.address)),
        }
    }
}

/// The scanner the policy configures, if any.
pub fn from_policy(av: &AvPolicy) -> Option<Clamd> {
    av.clamd.as_deref().map(|a| Clamd {
        block_stale_after_hours: crate::signatures::blocking_limit(av),
        ..Clamd::new(a, Duration::from_secs(av.timeout_secs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_interpreted() {
        assert_eq!(interpret("stream: OK"), ScanResult::Clean);
        assert_eq!(
            interpret("stream: Eicar-Test-Signature FOUND"),
            ScanResult::Detected("Eicar-Test-Signature".into())
        );
        assert_eq!(
            interpret("INSTREAM size limit exceeded. ERROR"),
            ScanResult::TooLarge
        );
        assert!(matches!(interpret("garbage"), ScanResult::Unavailable(_)));
    }

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("/run/clamd.ctl"),
            Address::Unix("/run/clamd.ctl".into())
        );
        assert_eq!(
            Address::parse("tcp:127.0.0.1:3310"),
            Address::Tcp("127.0.0.1:3310".into())
        );
        assert_eq!(
            Address::parse("localhost:3310"),
            Address::Tcp("localhost:3310".into())
        );
    }

    #[test]
    fn unreachable_clamd_is_unavailable_not_clean() {
        let c = Clamd::new("/nonexistent/clamd.sock", Duration::from_secs(1));
        assert!(matches!(c.scan(b"x"), ScanResult::Unavailable(_)));
    }
}
