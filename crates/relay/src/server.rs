//! The SMTP server side: sessions (EHLO/LHLO, MAIL, RCPT, DATA, ...), their
//! deadlines and DATA's framing; each message then goes to [`crate::pipeline`].

use crate::audit::AuditLog;
use crate::originals::Originals;
use mugai_core::config::RelayConfig;
use mugai_core::{Policy, Sanitize};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Longest command line (RFC 5321: 512, plus room for parameters).
const MAX_COMMAND: usize = 2048;
/// Most recipients per message (RFC 5321 asks for at least 100).
const MAX_RECIPIENTS: usize = 1000;
/// Most commands that may fail in one session before it is closed.
const MAX_ERRORS: usize = 20;

pub(crate) struct Shared {
    pub(crate) config: RelayConfig,
    /// Shared with each message's conversion rather than copied.
    pub(crate) policy: Arc<Policy>,
    pub(crate) sanitizer: Arc<dyn Sanitize>,
    pub(crate) originals: Option<Arc<Originals>>,
    pub(crate) audit: Option<Arc<AuditLog>>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) hold: Option<crate::held::Hold>,
}

/// A bound relay, ready to [`run`](Relay::run).
pub struct Relay {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("listen", &self.listener.local_addr().ok())
            .finish()
    }
}

/// Binds `config.listen` and serves until an I/O error on the listener.
pub async fn serve(
    config: RelayConfig,
    policy: Policy,
    sanitizer: Arc<dyn Sanitize>,
) -> io::Result<()> {
    Relay::bind(config, policy, sanitizer).await?.run().await
}

impl Relay {
    /// Binds the listener and opens the originals folder and audit log.
    pub async fn bind(
        config: RelayConfig,
        policy: Policy,
        sanitizer: Arc<dyn Sanitize>,
    ) -> io::Result<Relay> {
        let originals = match &config.originals {
            Some(d) => Some(Arc::new(Originals::open(
                d,
                &config.hostname,
                config.retention_days,
            )?)),
            None => None,
        };
        let audit = match &config.audit {
            Some(d) => Some(Arc::new(AuditLog::open(d)?)),
            None => None,
        };
        let listener = TcpListener::bind(&config.listen).await?;
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        Ok(Relay {
            listener,
            shared: Arc::new(Shared {
                config,
                policy: Arc::new(policy),
                sanitizer,
                originals,
                audit,
                permits,
                hold: None,
            }),
        })
    }

    /// Keeps password-protected ZIP attachments for the console's one-time
    /// link and tells the recipients about it.
    pub fn hold_encrypted(mut self, hold: crate::held::Hold) -> Relay {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.hold = Some(hold);
        }
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts sessions forever; sweeps old originals hourly.
    pub async fn run(self) -> io::Result<()> {
        if let Some(o) = self.shared.originals.clone() {
            tokio::spawn(async move {
                loop {
                    let o2 = o.clone();
                    match tokio::task::spawn_blocking(move || o2.sweep()).await {
                        Ok(Ok(n)) if n > 0 => {
                            tracing::info!(removed = n, "originals past retention removed")
                        }
                        Ok(Err(e)) => tracing::warn!(error = %e, "sweeping originals failed"),
                        _ => {}
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            });
        } else {
            tracing::warn!("relay.originals is not set: originals are not kept");
        }
        tracing::info!(listen = %self.listener.local_addr()?, next_hop = %self.shared.config.next_hop, "relay listening");
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let shared = self.shared.clone();
            match shared.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        if let Err(e) = session(&shared, stream, peer).await {
                            tracing::debug!(%peer, error = %e, "session ended");
                        }
                        drop(permit);
                    });
                }
                Err(_) => {
                    tokio::spawn(async move {
                        let mut s = stream;
                        let _ = s
                            .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                            .await;
                    });
                }
            }
        }
    }
}

pub(crate) struct Envelope {
    pub(crate) sender: String,
    pub(crate) recipients: Vec<String>,
}

struct Session<'a> {
    shared: &'a Shared,
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    peer: SocketAddr,
    helo: Option<String>,
    tx: Option<Envelope>,
    /// When the whole session must end.
    deadline: Instant,
    /// Greeted with LHLO: one reply per recipient after DATA (RFC 2033).
    lmtp: bool,
}

enum Line {
    Ok(Vec<u8>),
    TooLong,
    Eof,
}

async fn session(shared: &Shared, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    let mut s = Session {
        shared,
        r: BufReader::new(r),
        w,
        peer,
        helo: None,
        tx: None,
        deadline: Instant::now() + Duration::from_secs(shared.config.session_timeout_secs),
        lmtp: false,
    };
    s.reply(&format!("220 {} ESMTP mugai", shared.config.hostname))
        .await?;
    let mut errors = 0usize;
    loop {
        let until = s.line_deadline();
        let line = match tokio::time::timeout_at(until, s.read_line(MAX_COMMAND)).await {
            Err(_) => {
                tracing::warn!(%peer, "client too slow or idle; session closed");
                s.reply("421 4.4.2 too slow or idle, closing").await?;
                return Ok(());
            }
            Ok(r) => r?,
        };
        let line = match line {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                errors += 1;
                s.reply("500 5.5.2 line too long").await?;
                continue;
            }
            Line::Ok(l) => l,
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        let ok = match verb.as_str() {
            "EHLO" | "HELO" | "LHLO" => s.hello(&verb, arg).await?,
            "MAIL" => s.mail(arg).await?,
            "RCPT" => s.rcpt(arg).await?,
            "DATA" => s.data().await?,
            "RSET" => {
                s.tx = None;
                s.reply("250 2.0.0 reset").await?;
                true
            }
            "NOOP" => {
                s.reply("250 2.0.0 ok").await?;
                true
            }
            "QUIT" => {
                s.reply(&format!("221 2.0.0 {} closing", shared.config.hostname))
                    .await?;
                return Ok(());
            }
            "VRFY" => {
                s.reply("252 2.5.2 cannot verify").await?;
                true
            }
            _ => {
                s.reply("502 5.5.1 command not implemented").await?;
                false
            }
        };
        if !ok {
            errors += 1;
            if errors >= MAX_ERRORS {
                s.reply("421 4.7.0 too many errors, closing").await?;
                return Ok(());
            }
        }
    }
}

impl Session<'_> {
    fn client_timeout(&self) -> Duration {
        Duration::from_secs(self.shared.config.client_timeout_secs)
    }

    /// One command line: the client timeout, within the session deadline.
    fn line_deadline(&self) -> Instant {
        (Instant::now() + self.client_timeout()).min(self.deadline)
    }

    async fn reply(&mut self, line: &str) -> io::Result<()> {
        // One write per reply: two small segments would meet Nagle's
        // algorithm and the peer's delayed ACK (a 40 ms stall per reply).
        self.w.write_all(format!("{line}\r\n").as_bytes()).await?;
        self.w.flush().await
    }

    /// One line of at most `max` bytes; a longer one is read to its end and
    /// reported as too long.
    async fn read_line(&mut self, max: usize) -> io::Result<Line> {
        let mut buf = Vec::new();
        let n = (&mut self.r)
            .take(max as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Ok(Line::Eof);
        }
        if buf.ends_with(b"\n") {
            return Ok(Line::Ok(buf));
        }
        if n < max {
            // End of stream in the middle of a line.
            return Ok(Line::Eof);
        }
        loop {
            buf.clear();
            let n = (&mut self.r)
                .take(64 * 1024)
                .read_until(b'\n', &mut buf)
                .await?;
            if n == 0 {
                return Ok(Line::Eof);
            }
            if buf.ends_with(b"\n") {
                return Ok(Line::TooLong);
            }
        }
    }

    async fn hello(&mut self, verb: &str, arg: &str) -> io::Result<bool> {
        if arg.is_empty() {
            self.reply("501 5.5.4 a domain name is required").await?;
            return Ok(false);
        }
        self.helo = Some(
            arg.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(255)
                .collect(),
        );
        self.tx = None;
        self.lmtp = verb == "LHLO";
        let host = &self.shared.config.hostname;
        if verb == "EHLO" || verb == "LHLO" {
            let max = self.shared.config.max_message_bytes;
            self.reply(&format!(
                "250-{host}\r\n250-SIZE {max}\r\n250-8BITMIME\r\n250 HELP"
            ))
            .await?;
        } else {
            self.reply(&format!("250 {host}")).await?;
        }
        Ok(true)
    }

    async fn mail(&mut self, arg: &str) -> io::Result<bool> {
        if self.helo.is_none() {
            self.reply("503 5.5.1 say EHLO first").await?;
            return Ok(false);
        }
        if self.tx.is_some() {
            self.reply("503 5.5.1 a transaction is already open")
                .await?;
            return Ok(false);
        }
        let Some(rest) = strip_ci(arg, "FROM:") else {
            self.reply("501 5.5.4 syntax: MAIL FROM:<address>").await?;
            return Ok(false);
        };
        let Some((addr, params)) = parse_path(rest) else {
            self.reply("501 5.1.7 bad sender address").await?;
            return Ok(false);
        };
        for p in params.split_whitespace() {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.to_ascii_uppercase().as_str() {
                "SIZE" => {
                    let size: u64 = v.parse().unwrap_or(u64::MAX);
                    if size > self.shared.config.max_message_bytes {
                        self.reply("552 5.3.4 message size exceeds the limit")
                            .await?;
                        return Ok(false);
                    }
                }
                "BODY" if v.eq_ignore_ascii_case("8BITMIME") || v.eq_ignore_ascii_case("7BIT") => {}
                _ => {
                    self.reply("555 5.5.4 parameter not supported").await?;
                    return Ok(false);
                }
            }
        }
        self.tx = Some(Envelope {
            sender: addr,
            recipients: Vec::new(),
        });
        self.reply("250 2.1.0 sender ok").await?;
        Ok(true)
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<bool> {
        let Some(tx) = self.tx.as_mut() else {
            self.reply("503 5.5.1 need MAIL first").await?;
            return Ok(false);
        };
        let parsed = strip_ci(arg, "TO:").and_then(parse_path);
        let Some((addr, params)) = parsed.filter(|(a, _)| !a.is_empty()) else {
            self.reply("501 5.1.3 bad recipient address").await?;
            return Ok(false);
        };
        if !params.trim().is_empty() {
            self.reply("555 5.5.4 parameter not supported").await?;
            return Ok(false);
        }
        if tx.recipients.len() >= MAX_RECIPIENTS {
            self.reply("452 4.5.3 too many recipients").await?;
            return Ok(false);
        }
        tx.recipients.push(addr);
        self.reply("250 2.1.5 recipient ok").await?;
        Ok(true)
    }

    async fn data(&mut self) -> io::Result<bool> {
        if self.tx.as_ref().is_none_or(|t| t.recipients.is_empty()) {
            self.reply("503 5.5.1 need RCPT first").await?;
            return Ok(false);
        }
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let max = self.shared.config.max_message_bytes;
        let mut data = Vec::new();
        let mut too_big = false;
        let mut lines = crate::data::DataLines::default();
        // Postfix's rule: the client timeout plus the time the bytes
        // received so far justify at the minimum rate.
        let started = Instant::now();
        let rate = self.shared.config.min_data_rate.max(1);
        let mut received = 0u64;
        loop {
            let until = (started + self.client_timeout() + Duration::from_secs(received / rate))
                .min(self.deadline);
            let mut chunk = Vec::new();
            let n = match tokio::time::timeout_at(
                until,
                (&mut self.r).take(64 * 1024).read_until(b'\n', &mut chunk),
            )
            .await
            {
                Err(_) => {
                    tracing::warn!(peer = %self.peer, received, "client below the minimum data rate or past the session deadline; session closed");
                    self.reply("421 4.4.2 data too slow, closing").await?;
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "DATA too slow"));
                }
                Ok(r) => r?,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "end of stream in DATA",
                ));
            }
            received += n as u64;
            let Some(bytes) = lines.feed(&chunk) else {
                break;
            };
            if !too_big {
                if (data.len() + bytes.len()) as u64 > max {
                    too_big = true;
                    data = Vec::new();
                } else {
                    data.extend_from_slice(bytes);
                }
            }
        }
        let Some(env) = self.tx.take() else {
            return Ok(false);
        };
        let n = env.recipients.len();
        if lines.bare {
            tracing::warn!(peer = %self.peer, rcpt_to = %env.recipients.join(","), "message with a bare CR or LF rejected");
            self.answer(
                "550 5.5.2 bare <CR> or <LF> in message data; only <CR><LF> ends a line",
                n,
                &[],
            )
            .await?;
            return Ok(false);
        }
        if too_big {
            self.answer("552 5.3.4 message size exceeds the limit", n, &[])
                .await?;
            return Ok(false);
        }
        let mut per_rcpt = Vec::new();
        let reply = crate::pipeline::process(
            self.shared,
            &env,
            data,
            self.peer,
            self.helo.as_deref().unwrap_or(""),
            &mut per_rcpt,
        )
        .await;
        self.answer(&reply, n, &per_rcpt).await?;
        Ok(reply.starts_with('2'))
    }

    /// The answer to DATA: one reply over SMTP; over LMTP one per
    /// recipient, in RCPT order (`per_rcpt[i]` overrides recipient i's).
    async fn answer(
        &mut self,
        reply: &str,
        n: usize,
        per_rcpt: &[Option<String>],
    ) -> io::Result<()> {
        if !self.lmtp {
            return self.reply(reply).await;
        }
        let lines: Vec<String> = (0..n)
            .map(|i| {
                per_rcpt
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| reply.to_string())
            })
            .collect();
        self.reply(&lines.join("\r\n")).await
    }
}

pub(crate) fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `<address> params` → (address, params). The address must be printable
/// ASCII without spaces or angle brackets (it is written back verbatim to
/// the next hop); a source route (`@a,@b:user@x`) is dropped.
fn parse_path(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let inner_end = s.find('>')?;
    let inner = s.strip_prefix('<')?.get(..inner_end - 1)?;
    let params = &s[inner_end + 1..];
    let addr = match (inner.starts_with('@'), inner.rsplit_once(':')) {
        (true, Some((_, a))) => a,
        _ => inner,
    };
    let ok = addr.len() <= 256
        && addr
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| (addr.to_string(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("<a@b.jp> SIZE=10"),
            Some(("a@b.jp".into(), " SIZE=10"))
        );
        assert_eq!(parse_path("<>"), Some((String::new(), "")));
        assert_eq!(parse_path("<@r1,@r2:u@x.jp>"), Some(("u@x.jp".into(), "")));
        assert_eq!(parse_path("a@b.jp"), None);
        assert_eq!(parse_path("<a b@c>"), None);
        assert_eq!(parse_path("<a\r\nRCPT TO:<x>"), None);
    }
}
