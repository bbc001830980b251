//! The SMTP server side and the per-message pipeline: keep the original,
//! convert, deliver with the same envelope, answer, audit.

use crate::audit::AuditLog;
use crate::client::{self, DeliveryError};
use crate::originals::Originals;
use mugai_core::config::{OnBlockedMail, RelayConfig};
use mugai_core::{sha256_hex, Job, Outcome, Policy, Sanitize, Verdict};
use serde_json::json;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
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

struct Shared {
    config: RelayConfig,
    policy: Policy,
    sanitizer: Arc<dyn Sanitize>,
    originals: Option<Arc<Originals>>,
    audit: Option<Arc<AuditLog>>,
    permits: Arc<Semaphore>,
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
                policy,
                sanitizer,
                originals,
                audit,
                permits,
            }),
        })
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

struct Envelope {
    sender: String,
    recipients: Vec<String>,
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
        let reply = process(
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

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
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

/// The Message-ID of a raw message, for the audit log.
fn message_id(raw: &[u8]) -> Option<String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
        .min(256 * 1024);
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.lines().peekable();
    while let Some(l) = lines.next() {
        if strip_ci(l, "message-id:").is_some() {
            let mut v = l[11..].trim().to_string();
            while let Some(next) = lines.peek().filter(|n| n.starts_with([' ', '\t'])) {
                v.push_str(next.trim());
                lines.next();
            }
            let v: String = v.chars().filter(|c| !c.is_control()).take(998).collect();
            return Some(v);
        }
    }
    None
}

/// Keep, convert, deliver, audit. Returns the reply to DATA.
async fn process(
    shared: &Shared,
    env: &Envelope,
    data: Vec<u8>,
    peer: SocketAddr,
    helo: &str,
    per_rcpt: &mut Vec<Option<String>>,
) -> String {
    let now = SystemTime::now();
    let sha = sha256_hex(&data);
    let mid = message_id(&data);
    let size = data.len();
    let mut record = json!({
        "time": crate::time::rfc3339(now),
        "peer": peer.to_string(),
        "helo": helo,
        "mail_from": env.sender,
        "rcpt_to": env.recipients,
        "message_id": mid,
        "size": size,
        "sha256": sha,
    });

    // 1. The original, durably, before anything is passed on.
    let mut original = None;
    if let Some(o) = shared.originals.clone() {
        let bytes = data.clone();
        match tokio::task::spawn_blocking(move || o.store(&bytes)).await {
            Ok(Ok(p)) => original = Some(p),
            other => {
                let e = match other {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(_)) => String::new(),
                };
                tracing::error!(error = %e, "cannot keep the original; deferring");
                record["result"] = json!("deferred");
                record["error"] = json!(format!("cannot keep the original: {e}"));
                return finish(
                    shared,
                    record,
                    "451 4.3.0 cannot keep the original; try again later".into(),
                )
                .await;
            }
        }
    }
    record["original"] = json!(original.as_ref().map(|p| p.display().to_string()));

    // 2. Convert in the worker pool (or in process).
    let sanitizer = shared.sanitizer.clone();
    let policy = shared.policy.clone();
    let job = Job {
        name: "message.eml".into(),
        bytes: data,
    };
    let outcome: Outcome =
        match tokio::task::spawn_blocking(move || sanitizer.sanitize(&policy, job)).await {
            Ok(o) => o,
            Err(e) => {
                discard(shared, original.as_deref()).await;
                record["result"] = json!("deferred");
                record["error"] = json!(format!("conversion failed: {e}"));
                return finish(
                    shared,
                    record,
                    "451 4.3.0 conversion failed; try again later".into(),
                )
                .await;
            }
        };
    record["verdict"] = json!(outcome.verdict);
    record["output_sha256"] = json!(outcome.output_sha256);
    record["findings"] = serde_json::to_value(&outcome.findings).unwrap_or_default();
    record["reason"] = serde_json::to_value(&outcome.reason).unwrap_or_default();

    let payload = match (&outcome.verdict, &outcome.output) {
        (Verdict::Clean | Verdict::Sanitized, Some(out)) => out.clone(),
        _ => match shared.config.on_blocked {
            OnBlockedMail::Reject => {
                record["result"] = json!("rejected");
                let code = outcome
                    .reason
                    .as_ref()
                    .map(|r| r.code.to_string())
                    .unwrap_or_default();
                return finish(
                    shared,
                    record,
                    format!("554 5.7.1 message blocked by the gateway ({code})"),
                )
                .await;
            }
            OnBlockedMail::Notice => {
                let name = original
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned());
                let notice = crate::notice::blocked_notice(
                    &shared.config.hostname,
                    &env.sender,
                    &env.recipients,
                    &outcome,
                    name.as_deref(),
                    now,
                );
                record["output_sha256"] = json!(sha256_hex(&notice));
                record["notice"] = json!(true);
                notice
            }
        },
    };

    // 3. Hand over with the same envelope; answer only after the next hop did.
    let wait = Duration::from_secs(shared.config.next_hop_timeout_secs);
    let delivered = client::deliver_each(
        &shared.config.next_hop,
        &shared.config.hostname,
        &env.sender,
        &env.recipients,
        &payload,
        wait,
    )
    .await;
    match delivered {
        Ok(d) => {
            record["result"] = json!(if outcome.verdict == Verdict::Blocked {
                "notice_delivered"
            } else {
                "delivered"
            });
            record["next_hop_reply"] = json!(format!("{} {}", d.reply.code, d.reply.text));
            let what = if outcome.verdict == Verdict::Blocked {
                "blocked; notice delivered"
            } else {
                "converted and delivered"
            };
            let mut reply = format!("250 2.0.0 {what} ({})", &sha[..12]);
            if !d.refused.is_empty() {
                // Accepted recipients have the message; each refused one
                // gets the next hop's own code (per recipient over LMTP).
                record["refused"] = json!(d
                    .refused
                    .iter()
                    .map(|r| json!({"rcpt": r.rcpt, "reply": format!("{} {}", r.code, r.text)}))
                    .collect::<Vec<_>>());
                *per_rcpt = env
                    .recipients
                    .iter()
                    .map(|rc| {
                        d.refused.iter().find(|r| &r.rcpt == rc).map(|r| {
                            let text: String = r
                                .text
                                .chars()
                                .filter(|c| !c.is_control())
                                .take(200)
                                .collect();
                            format!("{} 5.0.0 <{rc}> refused by the next hop: {text}", r.code)
                        })
                    })
                    .collect();
                let names: Vec<&str> = d.refused.iter().map(|r| r.rcpt.as_str()).collect();
                reply.push_str(&format!("; refused by the next hop: {}", names.join(", ")));
            }
            finish(shared, record, reply).await
        }
        Err(DeliveryError::Temporary(t)) => {
            // The sending MTA keeps the message and comes back: the stored
            // copy would only be a duplicate.
            discard(shared, original.as_deref()).await;
            record["result"] = json!("deferred");
            record["error"] = json!(t);
            finish(
                shared,
                record,
                "451 4.4.1 next hop unavailable; try again later".into(),
            )
            .await
        }
        Err(DeliveryError::Permanent(code, t)) => {
            record["result"] = json!("rejected");
            record["error"] = json!(format!("{code} {t}"));
            let text: String = t.chars().filter(|c| !c.is_control()).take(200).collect();
            finish(
                shared,
                record,
                format!("554 5.0.0 next hop refused: {text}"),
            )
            .await
        }
    }
}

async fn discard(shared: &Shared, path: Option<&std::path::Path>) {
    if let (Some(o), Some(p)) = (shared.originals.clone(), path) {
        let p = p.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || o.discard(&p)).await;
    }
}

/// Writes the audit record (with the reply) and returns the reply. A record
/// that cannot be written is logged as an error; the reply stands, since a
/// delivery cannot be undone.
async fn finish(shared: &Shared, mut record: serde_json::Value, reply: String) -> String {
    record["reply"] = json!(reply);
    let text = |k: &str| record[k].as_str().unwrap_or("").to_string();
    let rcpt_to = record["rcpt_to"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let result = text("result");
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                result = %result,
                verdict = %text("verdict"),
                mail_from = %text("mail_from"),
                rcpt_to = %rcpt_to,
                message_id = %text("message_id"),
                error = %text("error"),
                reply = %reply,
                "message"
            )
        };
    }
    // A deferral needs attention (the next hop or the disk); the sending
    // MTA keeps the message meanwhile.
    match result.as_str() {
        "deferred" => log!(warn),
        "rejected" => log!(warn),
        _ => log!(info),
    }
    if let Some(a) = shared.audit.clone() {
        let r = record.clone();
        match tokio::task::spawn_blocking(move || a.write(&r)).await {
            Ok(Ok(())) => {}
            other => tracing::error!(?other, "cannot write the audit record"),
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_message_ids() {
        assert_eq!(
            parse_path("<a@b.jp> SIZE=10"),
            Some(("a@b.jp".into(), " SIZE=10"))
        );
        assert_eq!(parse_path("<>"), Some((String::new(), "")));
        assert_eq!(parse_path("<@r1,@r2:u@x.jp>"), Some(("u@x.jp".into(), "")));
        assert_eq!(parse_path("a@b.jp"), None);
        assert_eq!(parse_path("<a b@c>"), None);
        assert_eq!(parse_path("<a\r\nRCPT TO:<x>"), None);
        assert_eq!(
            message_id(b"Subject: x\r\nMessage-Id:\r\n <id@x>\r\n\r\nMessage-ID: <no@x>\r\n"),
            Some("<id@x>".into())
        );
        assert_eq!(message_id(b"Subject: x\r\n\r\n"), None);
    }
}
