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
    pub audit: Option<PathBuf>,
    /// Largest message accepted (advertised with SIZE).
    pub max_message_bytes: u64,
    /// Name used in the greeting and EHLO.
    pub hostname: String,
    /// Days to keep originals; 0 keeps forever.
    pub retention_days: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: "127.0.0.1:10025".into(),
            next_hop: "127.0.0.1:10026".into(),
            originals: None,
            audit: None,
            max_message_bytes: 50 << 20,
            hostname: "mugai.localdomain".into(),
            retention_days: 30,
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
        e
    }
}
