//! `[relay]`: the mail text-ization SMTP relay.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Where the relay listens (Postfix's `content_filter` target).
    pub listen: String,
    /// The SMTP server that receives the converted mail.
    pub next_hop: String,
    /// Internet-side folder (Maildir-like) for the originals.
    pub originals: Option<PathBuf>,
    /// Folder of the relay's audit log (JSON Lines).
    pub audit: Option<PathBuf>,
    /// Folder where password-protected ZIP attachments are kept for the
    /// recipients' one-time link to the console (needs
    /// `console.public_url`); unset: no links.
    pub held: Option<PathBuf>,
    /// Largest message accepted (advertised with SIZE).
    pub max_message_bytes: u64,
    /// Name used in the greeting and EHLO.
    pub hostname: String,
    /// Days to keep originals; 0 keeps forever.
    pub retention_days: u32,
    /// SMTP sessions served at once; more are told to come back later (421).
    pub max_connections: usize,
    /// Seconds to wait for each reply of the next hop.
    pub next_hop_timeout_secs: u64,
    /// Seconds a client may take for one command line, and for DATA beyond
    /// what `min_data_rate` allows; then 421 and the session is closed.
    pub client_timeout_secs: u64,
    /// Seconds one SMTP session may last in all.
    pub session_timeout_secs: u64,
    /// Bytes per second a client must keep up in DATA: the time allowed
    /// is `client_timeout_secs` plus the bytes received divided by this.
    pub min_data_rate: u64,
    /// A message the engine blocks: deliver a text-only notice to the
    /// recipients instead, or reject it (554) back to the sending MTA.
    pub on_blocked: OnBlockedMail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBlockedMail {
    /// Deliver a notice (envelope, reason, SHA-256) in place of the message.
    Notice,
    /// Answer 554; the sending MTA returns the message to its sender.
    Reject,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: "127.0.0.1:10025".into(),
            next_hop: "127.0.0.1:10026".into(),
            originals: None,
            audit: None,
            held: None,
            max_message_bytes: 50 << 20,
            hostname: "mugai.localdomain".into(),
            retention_days: 30,
            max_connections: 32,
            next_hop_timeout_secs: 120,
            client_timeout_secs: 60,
            session_timeout_secs: 1800,
            min_data_rate: 500,
            on_blocked: OnBlockedMail::Notice,
        }
    }
}

impl RelayConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            e.push(format!(
                "`relay.listen`: `{}` is not HOST:PORT",
                self.listen
            ));
        }
        if self.next_hop.rsplit_once(':').is_none() {
            e.push(format!(
                "`relay.next_hop`: `{}` is not HOST:PORT",
                self.next_hop
            ));
        }
        if self.max_message_bytes == 0 {
            e.push("`relay.max_message_bytes`: must be greater than 0".into());
        }
        if self.max_connections == 0 {
            e.push("`relay.max_connections`: must be greater than 0".into());
        }
        if self.next_hop_timeout_secs == 0 {
            e.push("`relay.next_hop_timeout_secs`: must be greater than 0".into());
        }
        if self.hostname.is_empty()
            || !self
                .hostname
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            e.push(format!(
                "`relay.hostname`: `{}` is not a host name",
                self.hostname
            ));
        }
        e
    }
}
