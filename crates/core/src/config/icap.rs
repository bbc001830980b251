//! `[icap]`: the ICAP server (RFC 3507) for web proxies.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IcapConfig {
    /// Where the server listens; the service is `icap://LISTEN/mugai`.
    pub listen: String,
    /// Folder of the ICAP audit log (hash-chained JSON Lines).
    pub audit: Option<PathBuf>,
    /// Largest encapsulated body accepted; a larger one is refused with an
    /// ICAP error, never passed unscanned.
    pub max_body_bytes: u64,
    /// Bodies up to this size are held in memory; larger ones are spooled
    /// to a temporary file while they arrive.
    pub memory_bytes: u64,
    /// Where spooled bodies go (default: the system temporary folder).
    pub spool_dir: Option<PathBuf>,
    /// Preview size advertised in OPTIONS (bytes).
    pub preview_bytes: u64,
    /// Seconds a client may take to send each part of a request (a header
    /// block, a chunk); then the connection is closed.
    pub client_timeout_secs: u64,
    /// Seconds a persistent connection may sit idle between requests.
    pub idle_timeout_secs: u64,
    /// Connections served at once (advertised as Max-Connections); more
    /// are answered 503 and closed.
    pub max_connections: usize,
    /// Seconds clients may cache the OPTIONS answer (Options-TTL).
    pub options_ttl_secs: u64,
}

impl Default for IcapConfig {
    fn default() -> Self {
        IcapConfig {
            listen: "127.0.0.1:1344".into(),
            audit: None,
            max_body_bytes: 100 << 20,
            memory_bytes: 1 << 20,
            spool_dir: None,
            preview_bytes: 4096,
            client_timeout_secs: 60,
            idle_timeout_secs: 300,
            max_connections: 64,
            options_ttl_secs: 3600,
        }
    }
}

impl IcapConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            e.push(format!("`icap.listen`: `{}` is not HOST:PORT", self.listen));
        }
        for (k, v) in [
            ("max_body_bytes", self.max_body_bytes),
            ("client_timeout_secs", self.client_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("max_connections", self.max_connections as u64),
        ] {
            if v == 0 {
                e.push(format!("`icap.{k}`: must be greater than 0"));
            }
        }
        e
    }
}
