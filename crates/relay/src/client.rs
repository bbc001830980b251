//! Delivery to the next hop: a small SMTP client that hands one message
//! over with a given envelope and says whether it was accepted.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Try again later (connection failure, timeout, 4xx).
    Temporary(String),
    /// The next hop refused for good (5xx): `(code, text)`.
    Permanent(u16, String),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Temporary(t) => write!(f, "temporary: {t}"),
            DeliveryError::Permanent(c, t) => write!(f, "permanent: {c} {t}"),
        }
    }
}

/// One SMTP reply: its code and its text lines joined.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
    wait: Duration,
}

const MAX_REPLY_LINES: usize = 100;

impl Conn {
    async fn reply(&mut self) -> Result<Reply, DeliveryError> {
        let mut text = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let n = timeout(
                self.wait,
                (&mut self.r).take(4096).read_until(b'\n', &mut line),
            )
            .await
            .map_err(|_| DeliveryError::Temporary("next hop timed out".into()))?
            .map_err(|e| DeliveryError::Temporary(format!("next hop: {e}")))?;
            if n == 0 {
                return Err(DeliveryError::Temporary(
                    "next hop closed the connection".into(),
                ));
            }
            let s = String::from_utf8_lossy(&line);
            let s = s.trim_end();
            let code = s
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    DeliveryError::Temporary(format!("next hop sent a malformed reply: {s:.80}"))
                })?;
            text.push(s.get(4..).unwrap_or("").to_string());
            if s.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply {
                    code,
                    text: text.join(" "),
                });
            }
        }
        Err(DeliveryError::Temporary(
            "next hop sent an endless reply".into(),
        ))
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), DeliveryError> {
        timeout(self.wait, self.w.write_all(bytes))
            .await
            .map_err(|_| DeliveryError::Temporary("next hop timed out".into()))?
            .map_err(|e| DeliveryError::Temporary(format!("next hop: {e}")))
    }

    async fn command(&mut self, line: &str) -> Result<Reply, DeliveryError> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }
}

fn check(r: &Reply, want: u16, what: &str) -> Result<(), DeliveryError> {
    match r.code {
        c if c / 100 == want / 100 => Ok(()),
        c if c / 100 == 5 => Err(DeliveryError::Permanent(c, format!("{what}: {}", r.text))),
        c => Err(DeliveryError::Temporary(format!("{what}: {c} {}", r.text))),
    }
}

/// Bytes as they go after DATA: CRLF line ends, leading dots doubled, the
/// end-of-data line appended.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A recipient the next hop refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub rcpt: String,
    pub code: u16,
    pub text: String,
}

/// A delivery to the recipients the next hop accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The reply to the end of data.
    pub reply: Reply,
    /// Recipients refused at RCPT (5xx), who did not get the message.
    pub refused: Vec<Refused>,
}

/// Delivers `message` to `hop` for `recipients`, from `sender` (may be
/// empty: the null sender). Every recipient must be accepted, or nothing is
/// sent: the whole message is then deferred or refused, never half-delivered.
pub async fn deliver(
    hop: &str,
    helo: &str,
    sender: &str,
    recipients: &[String],
    message: &[u8],
    wait: Duration,
) -> Result<Reply, DeliveryError> {
    let d = connect_and(hop, helo, sender, recipients, message, wait, false).await?;
    Ok(d.reply)
}

/// Like [`deliver`], but recipients the next hop refuses for good are left
/// out and reported, and the others get the message. A temporary refusal
/// of any recipient still defers the whole message (the sending MTA retries
/// it for all; none has it yet); all refused is a permanent error.
pub async fn deliver_each(
    hop: &str,
    helo: &str,
    sender: &str,
    recipients: &[String],
    message: &[u8],
    wait: Duration,
) -> Result<Delivered, DeliveryError> {
    connect_and(hop, helo, sender, recipients, message, wait, true).await
}

async fn connect_and(
    hop: &str,
    helo: &str,
    sender: &str,
    recipients: &[String],
    message: &[u8],
    wait: Duration,
    partial: bool,
) -> Result<Delivered, DeliveryError> {
    let stream = timeout(wait, TcpStream::connect(hop))
        .await
        .map_err(|_| DeliveryError::Temporary(format!("connecting to {hop} timed out")))?
        .map_err(|e| DeliveryError::Temporary(format!("cannot connect to {hop}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    let mut c = Conn {
        r: BufReader::new(r),
        w,
        wait,
    };
    let result = transaction(&mut c, helo, sender, recipients, message, partial).await;
    // A polite end; its failure changes nothing.
    let _ = timeout(Duration::from_secs(5), c.command("QUIT")).await;
    result
}

async fn transaction(
    c: &mut Conn,
    helo: &str,
    sender: &str,
    recipients: &[String],
    message: &[u8],
    partial: bool,
) -> Result<Delivered, DeliveryError> {
    check(&c.reply().await?, 220, "greeting")?;
    let ehlo = c.command(&format!("EHLO {helo}")).await?;
    if ehlo.code != 250 {
        check(&c.command(&format!("HELO {helo}")).await?, 250, "HELO")?;
    }
    check(
        &c.command(&format!("MAIL FROM:<{sender}>")).await?,
        250,
        "MAIL",
    )?;
    let mut temporary: Option<DeliveryError> = None;
    let mut permanent: Option<DeliveryError> = None;
    let mut refused = Vec::new();
    let mut accepted = 0usize;
    for rcpt in recipients {
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).await?;
        match check(&r, 250, &format!("RCPT <{rcpt}>")) {
            Ok(()) => accepted += 1,
            Err(e @ DeliveryError::Temporary(_)) => temporary = temporary.or(Some(e)),
            Err(e @ DeliveryError::Permanent(..)) => {
                refused.push(Refused {
                    rcpt: rcpt.clone(),
                    code: r.code,
                    text: r.text.clone(),
                });
                permanent = permanent.or(Some(e));
            }
        }
    }
    // A temporary refusal of any recipient defers the whole message.
    let stop = temporary.or(if accepted == 0 || !partial {
        permanent
    } else {
        None
    });
    if let Some(e) = stop {
        let _ = c.command("RSET").await;
        return Err(e);
    }
    check(&c.command("DATA").await?, 354, "DATA")?;
    c.send(&dot_stuff(message)).await?;
    let done = c.reply().await?;
    check(&done, 250, "end of data")?;
    Ok(Delivered {
        reply: done,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::dot_stuff;

    #[test]
    fn dots_are_doubled_and_line_ends_made_crlf() {
        assert_eq!(dot_stuff(b".a\r\nb\n.\n"), b"..a\r\nb\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
    }
}
